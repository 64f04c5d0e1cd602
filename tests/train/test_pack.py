import pytest
import torch

from helpers import assert_same
from mmprolong.train.lm import LongLM
from mmprolong.train.pack import pack_samples


def test_positions_of_each_packed_sample_equal_the_models_rope_index(tiny_hf, samples):
    rope = tiny_hf.model.get_rope_index
    pk = pack_samples(samples, rope)
    assert pk.position_ids.shape == (4, 1, sum(len(s) for s in samples))
    start = 0
    for s in samples:
        kw = {} if s.image_grid_thw is None else {"image_grid_thw": s.image_grid_thw}
        alone, _ = rope(s.input_ids[None], mm_token_type_ids=s.mm_token_type_ids[None], **kw)
        got = pk.position_ids[:, 0, start:start + len(s)]
        assert torch.equal(got[1:], alone[:, 0])
        assert torch.equal(got[0], torch.arange(len(s)))
        start += len(s)
    # images do not advance text positions by their token count
    s = samples[3]
    assert int(pack_samples([s], rope).position_ids[1:].max()) + 1 < len(s)


def test_pack_over_max_length_is_an_error(tiny_hf, samples):
    with pytest.raises(ValueError, match="max_length"):
        pack_samples(samples, tiny_hf.model.get_rope_index, max_length=10)


def _loss_grads(lm, packs):
    lm.zero_grad()
    total = 0.0
    for pk in packs:
        loss = lm(pk.input_ids, pk.position_ids, pk.labels, pk.pixel_values, pk.image_grid_thw)
        loss.backward()
        total += float(loss.detach())
    return total, {n: p.grad.clone() for n, p in lm.named_parameters() if p.grad is not None}


def test_packed_batch_equals_samples_one_by_one(tiny_hf, samples):
    lm = LongLM(tiny_hf.double(), loss_chunk=16)  # float64: equal up to rounding on any CPU (helpers.assert_same)
    rope = tiny_hf.model.get_rope_index
    packed, gp = _loss_grads(lm, [pack_samples(samples, rope)])
    single, gs = _loss_grads(lm, [pack_samples([s], rope) for s in samples])
    assert_same(packed, single, "loss")
    assert gp.keys() == gs.keys() and any("visual" in k for k in gp)
    for k in gp:
        assert_same(gp[k], gs[k], k)
    # control: one position run over the whole pack (no per-sample restart) lets samples see each other
    pk = pack_samples(samples, rope)
    pos = pk.position_ids.clone()
    pos[0, 0] = torch.arange(pos.shape[-1])
    leaked = float(lm(pk.input_ids, pos, pk.labels, pk.pixel_values, pk.image_grid_thw))
    assert abs(leaked - packed) > 1e-4 * abs(packed)


def test_qwen3_vl_packed_equals_one_by_one_with_deepstack():
    from helpers import chat

    from mmprolong.tokens import load
    from mmprolong.train.encode import encode_messages, image_processor_for
    from mmprolong.train.model import build_model, preset_config

    counter = load("qwen3-vl")
    proc = image_processor_for(counter)
    assert list(proc.image_mean) == [0.5, 0.5, 0.5]
    samples = [encode_messages(counter, proc, *chat(i, n)) for i, n in enumerate([1, 0, 2])]
    torch.manual_seed(0)
    hf = build_model(preset_config("tiny-qwen3-vl")).double()
    lm = LongLM(hf, loss_chunk=16)
    rope = hf.model.get_rope_index
    packed, gp = _loss_grads(lm, [pack_samples(samples, rope)])
    single, gs = _loss_grads(lm, [pack_samples([s], rope) for s in samples])
    assert_same(packed, single, "loss")
    assert any("deepstack" in k for k in gp)
    for k in gp:
        assert_same(gp[k], gs[k], k)
