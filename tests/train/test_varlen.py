import pytest
import torch

from helpers import assert_same, chat
from mmprolong.train.encode import encode_messages
from mmprolong.train.lm import LongLM
from mmprolong.train.model import build_model, preset_config
from mmprolong.train.pack import pack_samples
from mmprolong.train.varlen import ATTN_NAME, document_bounds


def test_document_bounds():
    assert document_bounds(torch.tensor([[0, 1, 2, 0, 1, 0]])) == [(0, 3), (3, 5), (5, 6)]


def test_per_document_sdpa_equals_block_diagonal_mask(counter, processor):
    samples = [encode_messages(counter, processor, *chat(i, n)) for i, n in enumerate([1, 0, 2])]
    out = []
    for attn in ("sdpa", ATTN_NAME):
        torch.manual_seed(0)
        hf = build_model(preset_config("tiny-qwen2.5-vl"), attn_implementation=attn).double()
        assert hf.config.text_config._attn_implementation == attn
        lm = LongLM(hf, loss_chunk=16)
        pk = pack_samples(samples, hf.model.get_rope_index)
        loss = lm(pk.input_ids, pk.position_ids, pk.labels, pk.pixel_values, pk.image_grid_thw)
        loss.backward()
        out.append((float(loss.detach()), {n: p.grad for n, p in lm.named_parameters() if p.grad is not None}))
    assert_same(out[0][0], out[1][0], "loss")
    for k in out[0][1]:
        assert_same(out[0][1][k], out[1][1][k], k)
