import torch

from mmprolong.train.loss import chunked_cross_entropy, plain_cross_entropy


def test_chunked_equals_plain_value_and_gradients():
    torch.manual_seed(0)
    h = torch.randn(37, 16, requires_grad=True)
    w = torch.randn(500, 16, requires_grad=True)
    y = torch.randint(0, 500, (37,))
    y[::3] = -100
    ref = plain_cross_entropy(h, w, y)
    gh, gw = torch.autograd.grad(ref, (h, w))
    for chunk in (1, 5, 64):
        got = chunked_cross_entropy(h, w, y, chunk)
        ch, cw = torch.autograd.grad(got, (h, w))
        torch.testing.assert_close(got, ref)
        torch.testing.assert_close(ch, gh)
        torch.testing.assert_close(cw, gw)


def test_no_targets_is_zero_but_connected():
    h = torch.randn(4, 8, requires_grad=True)
    w = torch.randn(10, 8, requires_grad=True)
    loss = chunked_cross_entropy(h, w, torch.full((4,), -100))
    loss.backward()
    assert float(loss.detach()) == 0 and h.grad is not None
