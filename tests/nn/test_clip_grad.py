"""Gradient clipping against ``torch.nn.utils``: the returned total norm and the clipped gradients for
several norm types (inf included), dtypes, clipping and not clipping; non-finite norms;
``clip_grad_value_``; the accepted forms of ``parameters``."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn.utils import clip_grad_norm, clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm
from tests.helpers import assert_close, require_torch

SHAPES = [(4, 3), (3,), (), (2, 1, 5)]


def pairs(dtype: str = "float64", scale: float = 1.0, shapes=SHAPES, seed: int = 0) -> tuple[list, list]:
    """Parameters with gradients (the last one without), for chainrule and torch."""
    torch = require_torch()
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for i, shape in enumerate(shapes):
        value, grad = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
        p, t = cr.tensor(value, requires_grad=True), torch.tensor(value, requires_grad=True)
        p.grad, t.grad = cr.tensor(grad * scale), torch.tensor(grad * scale)
        ours.append(p)
        theirs.append(t)
    ours.append(cr.zeros(2, requires_grad=True))
    theirs.append(torch.zeros(2, requires_grad=True))
    return ours, theirs


def assert_same_grads(ours: list, theirs: list, **tolerance) -> None:
    for p, t in zip(ours, theirs):
        assert (p.grad is None) == (t.grad is None)
        if p.grad is not None:
            assert_close(p.grad, t.grad, **tolerance)


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, 0.5, float("inf"), "inf", 0])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, dtype):
    torch = require_torch()
    ours, theirs = pairs(dtype)
    total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert total.dtype == getattr(cr, dtype) and total.shape == ()
    assert_close(total, t_total)
    assert_same_grads(ours, theirs)
    if max_norm < 1 and norm_type != 0:  # the clipped gradients now have (about) max_norm as their norm
        assert get_total_norm([p.grad for p in ours[:-1]], norm_type).item() == pytest.approx(max_norm, rel=1e-4)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_large_gradients_and_grads_stay_in_place(dtype):
    torch = require_torch()
    ours, theirs = pairs(dtype, scale=1e4)
    memory = [p.grad.numpy() for p in ours[:-1]]
    assert_close(clip_grad_norm_(ours, 1.0), torch.nn.utils.clip_grad_norm_(theirs, 1.0))
    assert_same_grads(ours, theirs)
    assert all(p.grad.numpy() is m for p, m in zip(ours, memory)) and memory[0].dtype == np.dtype(dtype)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nonfinite_norm(bad):
    torch = require_torch()
    ours, theirs = pairs()
    ours[0].grad.numpy()[0, 0] = theirs[0].grad[0, 0] = bad
    with pytest.raises(cr.ChainruleError, match=f"total norm of order 2.0 of the gradients is {bad}"):
        clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
    total = clip_grad_norm_(ours, 1.0)  # without the check: scaled by the non-finite norm, as PyTorch
    t_total = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert_close(total, t_total)
    assert_same_grads(ours, theirs)


def test_accepted_forms_of_parameters():
    torch = require_torch()
    ours, theirs = pairs()
    assert_close(clip_grad_norm_(ours[0], 0.1), torch.nn.utils.clip_grad_norm_(theirs[0], 0.1))
    assert_close(clip_grad_norm_((p for p in ours), 0.05), torch.nn.utils.clip_grad_norm_((t for t in theirs), 0.05))
    assert_same_grads(ours, theirs)
    none = clip_grad_norm_([cr.zeros(3, requires_grad=True)], 1.0)
    assert none.item() == 0.0 and none.dtype == cr.float32
    with pytest.warns(UserWarning, match="empty generator"):
        assert clip_grad_norm_((p for p in []), 1.0).item() == 0.0
    with pytest.warns(FutureWarning, match="deprecated"):
        clip_grad_norm(ours, 1.0)


def test_total_norm_then_clip_with_norm():
    torch = require_torch()
    ours, theirs = pairs()
    total = get_total_norm([p.grad for p in ours if p.grad is not None], 3.0)
    t_total = torch.nn.utils.get_total_norm([t.grad for t in theirs if t.grad is not None], 3.0)
    assert_close(total, t_total)
    clip_grads_with_norm_(ours, 0.3, total)
    torch.nn.utils.clip_grads_with_norm_(theirs, 0.3, t_total)
    assert_same_grads(ours, theirs)


@pytest.mark.parametrize("clip_value", [0.5, 2, 1e-3])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_clip_grad_value_matches_torch(clip_value, dtype):
    torch = require_torch()
    ours, theirs = pairs(dtype)
    assert clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    assert_same_grads(ours, theirs, rtol=0, atol=0)
    assert all(p.grad.dtype == getattr(cr, dtype) for p in ours[:-1])
    clip_grad_value_(ours[0], 0.1)
    assert np.abs(ours[0].grad.numpy()).max() <= 0.1


def test_clipping_before_a_step_trains_like_torch():
    """The usual loop: backward, clip, step, on a chainrule loss, against the same loop in torch."""
    torch = require_torch()
    rng = np.random.default_rng(3)
    x, y, w0 = rng.standard_normal((16, 4)), rng.standard_normal(16), rng.standard_normal(4) * 10
    results = []
    for module, optim, clip in ((cr, cr.optim, clip_grad_norm_), (torch, torch.optim, torch.nn.utils.clip_grad_norm_)):
        w = module.tensor(w0, requires_grad=True)
        opt = optim.SGD([w], lr=0.1, momentum=0.9)
        norms = []
        for _ in range(30):
            opt.zero_grad()
            ((module.tensor(x) @ w - module.tensor(y)) ** 2).mean().backward()
            norms.append(clip([w], 1.0).item())
            opt.step()
        results.append((w.detach().numpy(), norms))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-6)
