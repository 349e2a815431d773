"""Composite expressions (several ops chained, shared inputs, broadcasting) against PyTorch:
values, first and second derivatives, and a Hessian-vector product."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from tests.helpers import assert_close, check_against_torch, rand, require_torch


def mlp_nll(m, x, w1, b1, w2, b2, labels):
    """A two-layer network with the mean negative log-likelihood at integer labels."""
    h = m.tanh(x @ w1 + b1)
    logp = m.log_softmax(h @ w2 + b2, dim=1)
    return -logp[m.arange(labels.shape[0]), labels].mean()


def attention(m, q, k, v):
    """Scaled dot-product attention written with raw ops."""
    scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    return m.softmax(scores, dim=-1) @ v


def layer_norm(m, x, gamma, beta):
    """Layer normalisation over the last dimension, composed from reductions."""
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / m.sqrt(var + 1e-5) * gamma + beta


def shared_input(m, x, y):
    """One input used several times, with broadcasting, a reduction and a max."""
    z = x * y + m.exp(-x) - (x.sum(0, keepdim=True) * y).abs()
    return z.amax(1) + m.maximum(z, x.mean()).sum(1) + m.cat([z, x], 0).prod(0).sum()


CASES = {
    "mlp_nll": (mlp_nll, lambda: [rand((5, 4), seed=1, requires_grad=False), rand((4, 6), seed=2),
                                  rand((6,), seed=3), rand((6, 3), seed=4), rand((3,), seed=5),
                                  cr.tensor([0, 2, 1, 1, 0])]),
    "attention": (attention, lambda: [rand((2, 3, 4), seed=1), rand((2, 5, 4), seed=2),
                                      rand((2, 5, 2), seed=3)]),
    "layer_norm": (layer_norm, lambda: [rand((3, 5), seed=1), rand((5,), seed=2), rand((5,), seed=3)]),
    "shared_input": (shared_input, lambda: [rand((3, 4), seed=1, low=-1, high=1),
                                            rand((1, 4), seed=2, low=-1, high=1)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
def test_composite_against_torch(name, dtype):
    torch = require_torch()
    fn, make = CASES[name]
    inputs = [t.to(dtype).detach().requires_grad_(t.requires_grad) if t.is_floating_point() else t
              for t in make()]
    check_against_torch(lambda *xs: fn(cr, *xs), lambda *ts: fn(torch, *ts), inputs)


@pytest.mark.parametrize("name", sorted(CASES))
def test_composite_gradcheck_and_second_derivatives(name):
    fn, make = CASES[name]
    inputs = make()
    assert cr.autograd.gradcheck(lambda *xs: fn(cr, *xs), inputs)
    assert cr.autograd.gradgradcheck(lambda *xs: fn(cr, *xs), inputs)


@pytest.mark.parametrize("name", sorted(CASES))
def test_hessian_vector_product_against_torch(name):
    torch = require_torch()
    fn, make = CASES[name]
    inputs = make()
    t_inputs = [torch.from_numpy(x.detach().numpy().copy()).requires_grad_(x.requires_grad) for x in inputs]
    diff = [i for i, x in enumerate(inputs) if x.requires_grad]
    rng = np.random.default_rng(7)
    vs = [rng.standard_normal(inputs[i].shape) for i in diff]

    out = fn(cr, *inputs)
    if out.ndim:
        out = out.sum()
    grads = cr.autograd.grad(out, [inputs[i] for i in diff], create_graph=True)
    hvp = cr.autograd.grad(sum((g * cr.from_numpy(v)).sum() for g, v in zip(grads, vs)),
                           [inputs[i] for i in diff], allow_unused=True)

    t_out = fn(torch, *t_inputs)
    if t_out.ndim:
        t_out = t_out.sum()
    t_grads = torch.autograd.grad(t_out, [t_inputs[i] for i in diff], create_graph=True)
    t_hvp = torch.autograd.grad(sum((g * torch.from_numpy(v)).sum() for g, v in zip(t_grads, vs)),
                                [t_inputs[i] for i in diff], allow_unused=True)
    for h, th in zip(hvp, t_hvp):
        if th is None:
            assert h is None or not np.any(h.numpy())
        else:
            assert_close(h, th)
