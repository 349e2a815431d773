"""The fused ``ScaledDotProductAttention`` primitive: gradients of both outputs (attention output and
weights) with respect to q, k, v and an additive mask, with dropout, to first and second order, and
the zero rows where every key is masked out."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops.attention import ScaledDotProductAttention
from tests.helpers import rand


def _keep(shape, seed):
    """A fixed dropout multiplier (0 or 1/(1-p) with p = 0.25)."""
    return (np.random.default_rng(seed).random(shape) >= 0.25) / 0.75


SHAPES = [((3, 2), (4, 2), (4, 3)), ((2, 3, 2), (2, 4, 2), (2, 4, 1)), ((1, 2, 2), (2, 3, 2), (3, 1))]


@pytest.mark.parametrize("need_weights", [False, True])
@pytest.mark.parametrize("dropout", [False, True])
@pytest.mark.parametrize("shapes", SHAPES)
def test_gradcheck_and_gradgradcheck_of_both_outputs(shapes, dropout, need_weights):
    q, k, v = (rand(s, seed=i) for i, s in enumerate(shapes))
    mask = rand(shapes[0][-2:-1] + shapes[1][-2:-1], seed=7)
    scores = np.broadcast_shapes(shapes[0][:-2], shapes[1][:-2]) + (shapes[0][-2], shapes[1][-2])
    keep = _keep(scores, 3) if dropout else None

    def attention(q, k, v, mask):
        return ScaledDotProductAttention.apply(q, k, v, mask, 0.7, keep, need_weights)

    assert cr.autograd.gradcheck(attention, (q, k, v, mask))
    assert cr.autograd.gradgradcheck(attention, (q, k, v, mask))


def test_only_one_output_used_gives_the_right_gradient():
    q, k, v = rand((3, 2), seed=1), rand((4, 2), seed=2), rand((4, 2), seed=3)
    out, weights = ScaledDotProductAttention.apply(q, k, v, None, 0.5, None, True)
    (g_weights,) = cr.autograd.grad((weights * weights).sum(), [q], retain_graph=True)
    q2 = q.detach().requires_grad_()
    w2 = (q2 @ k.detach().T * 0.5).softmax(-1)
    (expected,) = cr.autograd.grad((w2 * w2).sum(), [q2])
    np.testing.assert_allclose(g_weights.numpy(), expected.numpy(), rtol=1e-6, atol=1e-8)
    (g_out,) = cr.autograd.grad(out.sum(), [v])
    np.testing.assert_allclose(g_out.numpy(), weights.detach().numpy().sum(0)[:, None].repeat(2, 1), rtol=1e-6)


def test_rows_with_every_key_masked_get_zero_output_and_gradient():
    q, k, v = rand((3, 2), seed=1), rand((4, 2), seed=2), rand((4, 2), seed=3)
    mask = np.zeros((3, 4))
    mask[1] = -np.inf
    out = ScaledDotProductAttention.apply(q, k, v, mask, 0.5, None, False)
    assert np.all(out.detach().numpy()[1] == 0) and np.all(np.isfinite(out.detach().numpy()))
    out.sum().backward()
    assert np.all(q.grad.numpy()[1] == 0) and np.all(np.isfinite(k.grad.numpy()))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_in_output_and_gradients(dtype):
    q, k, v = (cr.from_numpy(np.ones((2, 3, 4), dtype)).requires_grad_() for _ in range(3))
    keep = _keep((2, 3, 3), 1).astype(dtype)
    out, weights = ScaledDotProductAttention.apply(q, k, v, None, 0.5, keep, True)
    assert out.dtype.numpy == dtype and weights.dtype.numpy == dtype
    (out.sum() + weights.sum()).backward()
    assert {t.grad.numpy().dtype for t in (q, k, v)} == {np.dtype(dtype)}
