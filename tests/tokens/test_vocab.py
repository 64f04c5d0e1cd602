"""Text ids: our tiktoken-based vocabulary against transformers' Qwen2TokenizerFast built from the same ranks."""

from __future__ import annotations

import random
import unicodedata

import pytest

from mmprolong.demo.corpus import plan_demo_corpus
from mmprolong.tokens.vocab import QWEN3VL_SPECIALS, SPECIAL_START, TextVocab

TEXTS = [
    "",
    "Hello, world!",
    "The Northwind plant produced 4,210 tonnes of steel in 2019.",
    "I'm sure they'll say it's fine, we've seen it, you'd agree. DON'T SHOUT! It'S mixed-Case.",
    # Chinese, Japanese, Korean, Arabic, Hebrew, Hindi, Thai, Russian, Greek
    "长文档理解需要在很多页之间检索证据。表3：各工厂产量（吨）。",
    "日本語のテキスト、カタカナとひらがな。東京は2024年に晴れでした。",
    "한국어 문장입니다. 숫자 12,345개.",
    "النص العربي يُكتب من اليمين إلى اليسار، ١٢٣٤٥ رقم.",
    "עברית עם ניקוד: שָׁלוֹם",
    "हिन्दी में वाक्य। १२३",
    "ภาษาไทยไม่มีช่องว่างระหว่างคำ",
    "Привет, мир! Ёжик в тумане — 2019 г.",
    "Ελληνικά: αβγδε ΑΒΓΔΕ",
    # emoji, ZWJ sequences, flags, skin tones, variation selectors
    "👩‍👩‍👧‍👦 family, 👨🏽‍💻 coder, 🏳️‍🌈 flag, 🇯🇵🇫🇷 flags, ❤️ heart, 1️⃣ keycap",
    "🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂",
    # combining accents: NFC must compose them
    "e\u0301 a\u0300 o\u0308 n\u0303 — Cafe\u0301 vs Café, A\u030a vs Å",
    "\u1100\u1161\u11a8 (conjoining jamo) and \u00c5\u0301 and q\u0307\u0323",
    "ﬁ ligature, full-width ＡＢＣ１２３, ① circled, ℌ fraktur",  # NFKC would change these; NFC must not
    # digit runs, numbers
    "0123456789012345678901234567890123456789",
    "3.14159265358979 1e-10 -42 +7 1,000,000 12:30:45 2019-03-12 v1.2.3 0x1F",
    # whitespace runs, newlines, tabs, carriage returns
    "a  b   c    d     e\t\tf\n\ng\r\nh \n \n i",
    "     leading and trailing     ",
    "\n\n\n\n",
    "\t\t\tindented\n\t\t\t\tmore",
    " \u00a0 nbsp \u2003 em-space \u3000 ideographic",
    # code
    "def f(x: int) -> int:\n    return x ** 2  # square\n\nprint(f(3))\n",
    "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }\n",
    "SELECT name, SUM(qty) FROM t WHERE year >= 2019 GROUP BY name;",
    "<html><body><p class=\"x\">Hi &amp; bye</p></body></html>",
    '{"key": [1, 2, 3], "nested": {"a": null, "b": true}}',
    # special-token strings inside text become their ids (as HF does with added tokens)
    "<|im_start|>user\nHi<|im_end|>\n<|vision_start|><|image_pad|><|vision_end|>",
    "text<|endoftext|>more",
    "<tool_call>{\"name\": \"f\"}</tool_call>",
    # special tokens are matched before NFC: U+0338 after ">" must not compose into "≯" and hide the token
    "<|im_start|>\u0338 <|endoftext|>\u0338\u0338 =\u0338<|vision_end|>\u0338 a<|im_end|>\u0301x",
    # punctuation soup, quotes, dashes
    "“Curly quotes” ‘single’ — em-dash – en-dash … ellipsis ¿Qué? ¡Sí!",
    "!!!???...,,,;;;:::---___===+++***&&&%%%$$$###@@@",
    "Table 3: Annual output (tonnes)\nPlant 2018 2019 2020\nNorthwind 4,210 4,455 4,870",
    "x" * 2000,
]

# The chars a random text is drawn from: mixed scripts, combining marks, emoji, spaces, digits, punctuation.
ALPHABET = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    "     \n\n\t\r.,;:!?'\"()[]{}<>-_=+*/\\|@#$%^&~`"
    "éèêëçàâäöüßøåæœñÅÉ" "\u0300\u0301\u0302\u0308\u0323\u0327"
    "中文字符测试長文檔日本語カタカナひらがな한국어"
    "العربية" "русский" "ελληνικά" "हिन्दी" "ไทย"
    "😀👍🏽❤️‍🔥\u200d\ufe0f🇩🇪"
    "\u00a0\u2003\u3000\u2028"
)


def _random_texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 120))) for _ in range(n)]


@pytest.fixture(scope="module")
def vocab25():
    return TextVocab()


def _hf_ids(tok, text: str) -> list[int]:
    return tok.encode(text, add_special_tokens=False)


@pytest.mark.parametrize("i", range(len(TEXTS)))
def test_ids_equal_transformers(vocab25, hf_tok25, i):
    assert vocab25.encode(TEXTS[i]) == _hf_ids(hf_tok25, TEXTS[i])


def test_random_multilingual_texts_equal_transformers(vocab25, hf_tok25):
    texts = _random_texts(400)
    assert [vocab25.encode(t) for t in texts] == [_hf_ids(hf_tok25, t) for t in texts]


def test_demo_corpus_paragraphs_equal_transformers(vocab25, hf_tok25):
    paras = [b.text for plan in plan_demo_corpus(2) for page in plan.pages for b in page.blocks][:200]
    text = "\n".join(paras)
    assert vocab25.encode(text) == _hf_ids(hf_tok25, text)


def test_count_batch_equals_single_counts(vocab25, hf_tok25):
    assert vocab25.count_batch(TEXTS) == [len(_hf_ids(hf_tok25, t)) for t in TEXTS]


def test_nfc_is_applied_and_nfkc_is_not(vocab25):
    assert vocab25.encode("Cafe\u0301") == vocab25.encode("Café")
    assert vocab25.encode("ﬁ") != vocab25.encode("fi")
    assert vocab25.decode(vocab25.encode("A\u030a")) == unicodedata.normalize("NFC", "A\u030a")


def test_decode_roundtrip(vocab25, hf_tok25):
    for t in TEXTS:
        ids = vocab25.encode(t)
        if "<|" not in t:  # NFC applies between special tokens, not across them
            assert vocab25.decode(ids) == unicodedata.normalize("NFC", t)
        assert hf_tok25.decode(ids) == vocab25.decode(ids)


def test_special_ids_match_transformers(hf_tok3):
    v = TextVocab(QWEN3VL_SPECIALS)
    for i, t in enumerate(QWEN3VL_SPECIALS):
        assert v.token_id(t) == SPECIAL_START + i == hf_tok3.convert_tokens_to_ids(t)
    text = "<think>\nreason\n</think>\n\n<tool_response>ok</tool_response>"
    assert v.encode(text) == _hf_ids(hf_tok3, text)


def test_encode_ordinary_keeps_special_strings_as_text(vocab25):
    ids = vocab25.encode_ordinary("<|im_end|>")
    assert 151645 not in ids and len(ids) > 1
