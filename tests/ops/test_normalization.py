"""The fused normalisation primitives (``chainrule.ops.normalization``) through their functionals:
values and input/weight/bias gradients against torch, running-statistics updates, ``gradcheck`` in
training and evaluation mode, ``gradgradcheck`` (second derivatives through the statistics), dtype
preservation and the shared helpers."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.ops.normalization import centered_vjp, standardize
from tests.helpers import assert_close, check_against_torch, rand, require_torch

DTYPES = [cr.float64, cr.float32]


def _affine(c_shape, affine, seed=1, dtype=cr.float64):
    if not affine:
        return None, None
    return rand(c_shape, dtype, low=0.5, high=1.5, seed=seed), rand(c_shape, dtype, seed=seed + 1)


def _stats(c, dtype, seed=5):
    rng = np.random.default_rng(seed)
    return (cr.from_numpy(rng.uniform(-1, 1, c).astype(dtype.numpy)),
            cr.from_numpy(rng.uniform(0.5, 2, c).astype(dtype.numpy)))


# ---------------------------------------------------------------------------- batch_norm
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 3), (5, 3, 7), (2, 3, 5, 4), (1, 3, 6), (3, 3, 2, 3, 2)])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_matches_torch(dtype, shape, affine, training):
    torch = require_torch()
    c = shape[1]
    w, b = _affine((c,), affine, dtype=dtype)
    rm, rv = _stats(c, dtype)
    t_rm, t_rv = torch.from_numpy(rm.numpy().copy()), torch.from_numpy(rv.numpy().copy())
    x = rand(shape, dtype, contiguous=False)
    check_against_torch(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training, 0.3),
                        lambda x, w, b: torch.nn.functional.batch_norm(x, t_rm, t_rv, w, b, training, 0.3),
                        [x, w, b])
    # the running statistics were updated in place (training) or left alone (eval), as in torch
    assert_close(rm, t_rm)
    assert_close(rv, t_rv)
    assert rm.dtype == dtype and not rm.requires_grad


def test_batch_norm_without_running_stats_uses_batch_stats():
    torch = require_torch()
    x = rand((6, 4, 3), seed=3)
    check_against_torch(lambda x: F.batch_norm(x, None, None, training=True),
                        lambda x: torch.nn.functional.batch_norm(x, None, None, training=True), [x])


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(3, 2), (3, 2, 2), (2, 2, 2, 1)])
def test_batch_norm_gradcheck_and_gradgradcheck(training, shape):
    rm, rv = _stats(2, cr.float64)
    w, b = _affine((2,), True)

    def fn(x, w, b):
        return F.batch_norm(x, rm.clone(), rv.clone(), w, b, training)

    x = rand(shape, seed=4)
    assert cr.autograd.gradcheck(fn, (x, w, b))
    assert cr.autograd.gradcheck(lambda x: F.batch_norm(x, rm.clone(), rv.clone(), None, None, training), (x,))
    assert cr.autograd.gradgradcheck(fn, (x, w, b))


# ---------------------------------------------------------------------------- layer_norm
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, normalized", [((4, 5), (5,)), ((2, 3, 5), (5,)), ((2, 3, 5), (3, 5)),
                                               ((7,), 7), ((1, 1, 3), [3]), ((2, 3, 4, 5), (4, 5))])
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_layer_norm_matches_torch(dtype, shape, normalized, affine):
    torch = require_torch()
    p_shape = (normalized,) if isinstance(normalized, int) else tuple(normalized)
    w, b = _affine(p_shape, affine != "none", dtype=dtype)
    if affine == "weight":
        b = None
    x = rand(shape, dtype, contiguous=False)
    check_against_torch(lambda x, w, b: F.layer_norm(x, normalized, w, b, 1e-3),
                        lambda x, w, b: torch.nn.functional.layer_norm(x, p_shape, w, b, 1e-3), [x, w, b])


@pytest.mark.parametrize("shape, normalized", [((3, 4), (4,)), ((2, 2, 3), (2, 3))])
def test_layer_norm_gradcheck_and_gradgradcheck(shape, normalized):
    x = rand(shape, seed=1)
    w, b = _affine(normalized, True, seed=2)
    assert cr.autograd.gradcheck(lambda x, w, b: F.layer_norm(x, normalized, w, b), (x, w, b))
    assert cr.autograd.gradcheck(lambda x: F.layer_norm(x, normalized), (x,))
    assert cr.autograd.gradgradcheck(lambda x, w, b: F.layer_norm(x, normalized, w, b), (x, w, b))
    assert cr.autograd.gradgradcheck(lambda x: F.layer_norm(x, normalized), (x,))


# ---------------------------------------------------------------------------- group_norm
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 6, 5), (3, 6, 4, 3), (1, 6, 1), (2, 6)])
@pytest.mark.parametrize("groups", [1, 2, 3, 6])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_matches_torch(dtype, shape, groups, affine):
    torch = require_torch()
    w, b = _affine((6,), affine, dtype=dtype)
    x = rand(shape, dtype, contiguous=False)
    # groups of one or two values: x̂ is ±1 (or 0) and dx a difference of nearly equal float32 terms, where
    # torch's rounding differs from ours by up to 5e-5 (ours is the closer to the float64 result)
    tolerance = dict(atol=1e-4) if dtype == cr.float32 and x.numel() // (shape[0] * groups) <= 2 else {}
    if x.numel() == groups:  # one value per group in the whole batch: refused, as by torch
        with pytest.raises(cr.ChainruleError, match="Expected more than 1 value per group"):
            F.group_norm(x, groups, w, b)
        return
    check_against_torch(lambda x, w, b: F.group_norm(x, groups, w, b),
                        lambda x, w, b: torch.nn.functional.group_norm(x, groups, w, b), [x, w, b], **tolerance)


@pytest.mark.parametrize("shape, groups", [((2, 4, 2), 2), ((1, 4, 2, 1), 4), ((2, 2, 3), 1)])
def test_group_norm_gradcheck_and_gradgradcheck(shape, groups):
    x = rand(shape, seed=1)
    w, b = _affine((shape[1],), True, seed=2)
    assert cr.autograd.gradcheck(lambda x, w, b: F.group_norm(x, groups, w, b), (x, w, b))
    assert cr.autograd.gradgradcheck(lambda x, w, b: F.group_norm(x, groups, w, b), (x, w, b))


# ---------------------------------------------------------------------------- dtypes and helpers
@pytest.mark.parametrize("fn", [
    lambda x, w, b: F.batch_norm(x, *_stats(4, cr.float32), w, b, training=True),
    lambda x, w, b: F.batch_norm(x, *_stats(4, cr.float32), w, b, training=False),
    lambda x, w, b: F.layer_norm(x, (3,), None, None),
    lambda x, w, b: F.group_norm(x, 2, w, b),
])
def test_float32_stays_float32_through_forward_and_backward(fn):
    x = rand((2, 4, 3), cr.float32)
    w, b = _affine((4,), True, dtype=cr.float32)
    y = fn(x, w, b)
    assert y.dtype == cr.float32
    (y * y).sum().backward()
    assert x.grad.dtype == cr.float32
    assert w.grad is None or w.grad.dtype == cr.float32


@pytest.mark.parametrize("fn", [
    lambda x: F.batch_norm(x, *_stats(4, cr.float64), training=False),
    lambda x: F.batch_norm(x, *_stats(4, cr.float64), rand((4,), seed=2), rand((4,), seed=3), training=False),
    lambda x: F.batch_norm(x, None, None, training=True),
    lambda x: F.layer_norm(x, (3,)),
    lambda x: F.group_norm(x, 2, rand((4,), seed=2)),
])
def test_results_without_grad_match_recorded_results(fn):
    """The forward skips keeping x̂ (and folds the affine map in eval) when nothing needs a gradient."""
    x = rand((2, 4, 3))
    with cr.no_grad():
        plain = fn(x)
    assert_close(plain, fn(x))


def test_standardize_and_its_vjp_on_arrays():
    x = np.random.default_rng(0).standard_normal((3, 5, 4))
    xhat, rstd, mean, var = standardize(x, "ncl", "c", 0.0)
    np.testing.assert_allclose(mean.ravel(), x.mean(axis=(0, 2)))
    np.testing.assert_allclose(var.ravel(), x.var(axis=(0, 2)))
    np.testing.assert_allclose(xhat, (x - x.mean(axis=(0, 2), keepdims=True)) / x.std(axis=(0, 2), keepdims=True))
    g = np.ones_like(x)  # x̂ has zero mean over the axes, so a constant cotangent has a zero VJP
    zero = np.zeros((5, 1))
    np.testing.assert_allclose(centered_vjp(g, xhat, rstd, zero + 1, zero), 0, atol=1e-12)


@pytest.mark.parametrize("fn, shape", [
    (lambda x: F.layer_norm(x, (5,)), (0, 5)),
    (lambda x: F.group_norm(x, 2), (0, 4, 3)),
    (lambda x: F.batch_norm(x, *_stats(4, cr.float32), training=False), (0, 4, 3)),
])
def test_empty_batch_gives_empty_output_and_gradient(fn, shape):
    x = cr.zeros(*shape, requires_grad=True)
    y = fn(x)
    y.sum().backward()
    assert y.shape == shape and x.grad.shape == shape
