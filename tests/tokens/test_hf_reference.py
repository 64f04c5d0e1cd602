"""The offline transformers reference itself: merges recovered from the ranks are a valid byte-level BPE."""

from __future__ import annotations

from mmprolong.tokens.hf_reference import _last_merge, vocab_and_merges
from mmprolong.tokens.vocab import SPECIAL_START, load_ranks


def test_one_merge_per_multibyte_token_in_rank_order():
    vocab, merges = vocab_and_merges()
    assert len(vocab) == SPECIAL_START
    assert len(merges) == len(vocab) - 256  # every token but the 256 single bytes is made by exactly one merge
    ranks = [vocab[a + b] for a, b in merges]
    assert ranks == sorted(ranks) and ranks[0] == 256
    assert all(vocab[a] < r and vocab[b] < r for (a, b), r in zip(merges[:5000], ranks))


def test_last_merge_replays_bpe():
    ranks = {b"a": 0, b"b": 1, b"c": 2, b"ab": 3, b"abc": 4, b"bc": 5}
    assert _last_merge(b"abc", 4, ranks) == (b"ab", b"c")  # "ab" (rank 3) merges before "bc" (rank 5)
    assert _last_merge(b"ab", 3, ranks) == (b"a", b"b")
    assert _last_merge(b"ca", 9, {b"c": 0, b"a": 1}) == (b"c", b"a")
    assert _last_merge(b"abc", 4, {b"a": 0, b"b": 1, b"c": 2, b"abc": 4}) is None


def test_ranks_file_is_qwen_vocabulary():
    ranks = load_ranks()
    assert ranks[b"Hello"] == 9707 and ranks[b" world"] == 1879
