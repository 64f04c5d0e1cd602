import pytest

from helpers import chat
from mmprolong.train.encode import IGNORE, encode_messages


def test_labels_only_on_answer_tokens(counter, processor):
    m, im = chat(7, n_images=2)
    s = encode_messages(counter, processor, m, im)
    enc = counter.encode_messages(m)
    assert s.input_ids.tolist() == enc.input_ids
    targets = [t for t, l in zip(s.input_ids.tolist()[1:], s.labels.tolist()) if l != IGNORE]
    answer = counter.encode(m[1]["content"][0]["text"]) + [counter.im_end_id]
    assert targets == answer and s.labels[-1] == IGNORE
    assert int(s.mm_token_type_ids.sum()) == sum(g.tokens for g in enc.image_grids)
    assert s.image_grid_thw.tolist() == [list(g.thw) for g in enc.image_grids]
    assert s.pixel_values.shape[0] == int(s.image_grid_thw.prod(-1).sum())


def test_errors(counter, processor):
    m, im = chat(3, n_images=1)
    with pytest.raises(ValueError, match="n_tokens"):
        encode_messages(counter, processor, m, im, n_tokens=5)
    with pytest.raises(ValueError, match="images stored"):
        encode_messages(counter, processor, m, [])
    m[0]["content"][0]["width"] += 28
    with pytest.raises(ValueError, match="message part says"):
        encode_messages(counter, processor, m, im)
