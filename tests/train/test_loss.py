import torch

from helpers import assert_same
from mmprolong.train.loss import chunked_cross_entropy, plain_cross_entropy


def test_chunked_equals_plain_value_and_gradients():
    torch.manual_seed(0)
    h = torch.randn(37, 16, dtype=torch.float64, requires_grad=True)
    w = torch.randn(500, 16, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 500, (37,))
    y[::3] = -100
    ref = plain_cross_entropy(h, w, y)
    gh, gw = torch.autograd.grad(ref, (h, w))
    for chunk in (1, 5, 64):
        got = chunked_cross_entropy(h, w, y, chunk)
        ch, cw = torch.autograd.grad(got, (h, w))
        assert got.dtype == torch.float64
        assert_same(got, ref, "loss")
        assert_same(ch, gh, "grad hidden")
        assert_same(cw, gw, "grad weight")


def test_bf16_activations_accumulate_in_fp32():
    h = torch.randn(8, 16, dtype=torch.bfloat16)
    w = torch.randn(50, 16, dtype=torch.bfloat16)
    assert chunked_cross_entropy(h, w, torch.randint(0, 50, (8,)), 3).dtype == torch.float32


def test_no_targets_is_zero_but_connected():
    h = torch.randn(4, 8, requires_grad=True)
    w = torch.randn(10, 8, requires_grad=True)
    loss = chunked_cross_entropy(h, w, torch.full((4,), -100))
    loss.backward()
    assert float(loss.detach()) == 0 and h.grad is not None
