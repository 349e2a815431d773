"""The pooling primitives (max and average pooling over windows): against PyTorch (values, indices,
input gradients) across window settings, ties, dtypes and layouts; gradcheck and second derivatives;
the adjoint pairs; the fast path for windows that tile the input."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.autograd.function import NO_RECORD
from chainrule.ops.pooling import ArgmaxGather, ArgmaxScatter, AvgPool2d, AvgScatter, MaxPool2d, Window
from tests.helpers import assert_close, check_against_torch, rand, require_torch

# (input shape, keyword arguments): the common 2×2 case, odd sizes, strides, padding, dilation,
# ceil_mode (incl. a last window hanging over the edge), rectangular kernels, batch of 1, unbatched
MAX_CASES = [
    ((2, 3, 8, 6), dict(kernel_size=2)),
    ((2, 3, 7, 9), dict(kernel_size=3)),
    ((1, 2, 7, 7), dict(kernel_size=3, stride=2, padding=1)),
    ((2, 2, 9, 8), dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1), dilation=(2, 1))),
    ((2, 3, 7, 7), dict(kernel_size=2, stride=2, ceil_mode=True)),
    ((1, 1, 6, 6), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((2, 2, 10, 9), dict(kernel_size=3, stride=1, dilation=2)),
    ((3, 5, 6), dict(kernel_size=2, stride=1)),
    ((2, 4, 5, 5), dict(kernel_size=5)),
]
AVG_CASES = [
    ((2, 3, 8, 6), dict(kernel_size=2)),
    ((2, 3, 7, 9), dict(kernel_size=3, stride=2, padding=1)),
    ((2, 3, 7, 9), dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ((1, 2, 7, 7), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((1, 2, 7, 7), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ((2, 2, 6, 7), dict(kernel_size=(2, 3), stride=(2, 1), divisor_override=4)),
    ((3, 5, 6), dict(kernel_size=2, stride=1, padding=1)),
]


def _ids(cases):
    return [f"{shape}-{kw}" for shape, kw in cases]


def _check_against_torch(name, shape, kwargs, dtype, contiguous):
    """``F.<name>`` against ``torch.nn.functional.<name>`` (values and input gradients) on a random input."""
    torch = require_torch()
    check_against_torch(lambda x: getattr(F, name)(x, **kwargs),
                        lambda x: getattr(torch.nn.functional, name)(x, **kwargs),
                        [rand(shape, dtype, contiguous=contiguous)])


@pytest.mark.parametrize("shape,kwargs", MAX_CASES, ids=_ids(MAX_CASES))
@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
@pytest.mark.parametrize("contiguous", [True, False])
def test_max_pool2d_against_torch(shape, kwargs, dtype, contiguous):
    _check_against_torch("max_pool2d", shape, kwargs, dtype, contiguous)


@pytest.mark.parametrize("shape,kwargs", MAX_CASES, ids=_ids(MAX_CASES))
def test_max_pool2d_indices_are_torchs(shape, kwargs):
    torch = require_torch()
    x = rand(shape, requires_grad=False)
    out, indices = F.max_pool2d(x, return_indices=True, **kwargs)
    t_out, t_indices = torch.nn.functional.max_pool2d(torch.from_numpy(x.numpy()), return_indices=True, **kwargs)
    assert indices.dtype == cr.int64
    assert_close(out, t_out)
    np.testing.assert_array_equal(indices.numpy(), t_indices.numpy())


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
                                    dict(kernel_size=2, stride=1, dilation=2)])
def test_max_pool2d_ties_send_the_gradient_to_the_first_maximum(kwargs):
    torch = require_torch()
    data = np.random.default_rng(3).integers(0, 3, (2, 3, 6, 6)).astype(np.float64)  # many equal values
    x = cr.from_numpy(data).requires_grad_(True)
    check_against_torch(lambda x: F.max_pool2d(x, **kwargs), lambda x: torch.nn.functional.max_pool2d(x, **kwargs),
                        [x])
    _, indices = F.max_pool2d(x, return_indices=True, **kwargs)
    _, t_indices = torch.nn.functional.max_pool2d(torch.from_numpy(data), return_indices=True, **kwargs)
    np.testing.assert_array_equal(indices.numpy(), t_indices.numpy())


def test_max_pool2d_nan_wins_its_window_like_torch():
    torch = require_torch()
    data = np.random.default_rng(4).standard_normal((1, 2, 6, 6))
    data[0, 0, 1, 1] = data[0, 0, 0, 1] = data[0, 1, 4, 3] = np.nan
    for kwargs in [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1)]:
        x = cr.from_numpy(data).requires_grad_(True)
        t = torch.from_numpy(data).requires_grad_(True)
        out, indices = F.max_pool2d(x, return_indices=True, **kwargs)
        t_out, t_indices = torch.nn.functional.max_pool2d(t, return_indices=True, **kwargs)
        assert_close(out, t_out)
        np.testing.assert_array_equal(indices.numpy(), t_indices.numpy())
        out.sum().backward()
        t_out.sum().backward()
        assert_close(x.grad, t.grad)


@pytest.mark.parametrize("shape,kwargs", MAX_CASES + [((1, 2, 6, 9), dict(kernel_size=(3, 1))),
                                                    ((2, 6, 6), dict(kernel_size=(1, 2))),
                                                    ((1, 2, 3, 3), dict(kernel_size=1))],
                         ids=_ids(MAX_CASES) + ["tiled-(3, 1)", "tiled-(1, 2)", "tiled-(1, 1)"])
def test_max_pool2d_without_grad_is_torchs(shape, kwargs):
    # no winners are tracked under no_grad (and windows that tile the input take their own path):
    # the values must stay torch's, NaNs included
    torch = require_torch()
    data = rand(shape, requires_grad=False).numpy()
    data.flat[::7] = np.nan
    with cr.no_grad():
        out = F.max_pool2d(cr.from_numpy(data), **kwargs)
    np.testing.assert_array_equal(out.numpy(), torch.nn.functional.max_pool2d(torch.from_numpy(data), **kwargs).numpy())
    assert not np.shares_memory(out.numpy(), data)


def test_max_pool2d_with_indices_still_differentiates():
    x = rand((1, 2, 5, 5))
    out, indices = F.max_pool2d(x, 3, 2, 1, return_indices=True)
    assert not indices.requires_grad
    out.sum().backward()
    # every output's gradient lands at its index in its input plane
    expected = np.zeros((2, 25))
    np.add.at(expected, (np.arange(2)[:, None], indices.numpy().reshape(2, -1)), 1.0)
    np.testing.assert_array_equal(x.grad.numpy().reshape(2, 25), expected)


@pytest.mark.parametrize("shape,kwargs", AVG_CASES, ids=_ids(AVG_CASES))
@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
@pytest.mark.parametrize("contiguous", [True, False])
def test_avg_pool2d_against_torch(shape, kwargs, dtype, contiguous):
    _check_against_torch("avg_pool2d", shape, kwargs, dtype, contiguous)


@pytest.mark.parametrize("shape,kwargs", MAX_CASES[:7], ids=_ids(MAX_CASES[:7]))
def test_max_pool2d_gradcheck_and_gradgradcheck(shape, kwargs):
    x = rand((1, 1) + shape[-2:])
    assert cr.autograd.gradcheck(lambda x: F.max_pool2d(x, **kwargs), (x,))
    assert cr.autograd.gradgradcheck(lambda x: F.max_pool2d(x, **kwargs), (x,))


@pytest.mark.parametrize("shape,kwargs", AVG_CASES, ids=_ids(AVG_CASES))
def test_avg_pool2d_gradcheck_and_gradgradcheck(shape, kwargs):
    x = rand((1, 1) + shape[-2:])
    assert cr.autograd.gradcheck(lambda x: F.avg_pool2d(x, **kwargs), (x,))
    assert cr.autograd.gradgradcheck(lambda x: F.avg_pool2d(x, **kwargs), (x,))


def test_double_backward_matches_torch():
    # d/dg of <dL/dx, v> through the recorded backward of max and average pooling
    torch = require_torch()
    x = rand((2, 2, 6, 5))
    t = torch.from_numpy(x.detach().numpy()).requires_grad_(True)
    v = np.random.default_rng(2).standard_normal((2, 2, 6, 5))
    for ours, theirs in [(lambda x: F.max_pool2d(x, 2, 1, 1), lambda x: torch.nn.functional.max_pool2d(x, 2, 1, 1)),
                         (lambda x: F.avg_pool2d(x, 3, 2, 1), lambda x: torch.nn.functional.avg_pool2d(x, 3, 2, 1))]:
        y, ty = ours(x), theirs(t)
        g = cr.from_numpy(np.ones(y.shape)).requires_grad_(True)
        tg = torch.ones(ty.shape, dtype=torch.float64, requires_grad=True)
        (gx,) = cr.autograd.grad(y, [x], g, create_graph=True)
        (tgx,) = torch.autograd.grad(ty, [t], tg, create_graph=True)
        (gg,) = cr.autograd.grad((gx * cr.from_numpy(v)).sum(), [g])
        (tgg,) = torch.autograd.grad((tgx * torch.from_numpy(v)).sum(), [tg])
        assert_close(gg, tgg)


def test_float32_stays_float32():
    x = rand((2, 3, 8, 8), cr.float32)
    for y in (F.max_pool2d(x, 2), F.max_pool2d(x, 3, 2, 1), F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)):
        assert y.dtype == cr.float32
        y.sum().backward()
        assert x.grad.dtype == cr.float32
        x.grad = None


# ---------------------------------------------------------------------------- the primitives themselves
WINDOWS = [Window((2, 2), (2, 2), (0, 0), (1, 1), (3, 4)),     # tiles a (6, 8) input exactly
           Window((3, 3), (2, 2), (1, 1), (1, 1), (3, 4)),     # overlapping, padded
           Window((2, 3), (1, 2), (1, 1), (2, 1), (5, 4))]     # dilated


@pytest.mark.parametrize("win", WINDOWS)
def test_scatters_are_the_adjoints_of_the_gathers(win):
    # <scatter(g), x> = <g, gather(x)> for both pairs: what makes each the other's backward rule
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 8))
    g = rng.standard_normal((2, 3) + win.out)
    winner = rng.integers(0, win.kernel[0] * win.kernel[1], g.shape).astype(np.uint8)
    scale = rng.uniform(0.5, 2, win.out)
    pairs = [(ArgmaxScatter.forward(NO_RECORD, g, winner, win, x.shape),
              ArgmaxGather.forward(NO_RECORD, x, winner, win)),
             (AvgScatter.forward(NO_RECORD, g, win, scale, x.shape), AvgPool2d.forward(NO_RECORD, x, win, scale))]
    for scattered, gathered in pairs:
        np.testing.assert_allclose(np.vdot(scattered, x), np.vdot(g, gathered), rtol=1e-10)


def test_tiling_fast_path_equals_the_general_path():
    # kernel 2 stride 2 on even sizes writes without a zero fill; a 1-pixel padding forces the general path
    x = np.random.default_rng(1).standard_normal((2, 3, 6, 8)).astype(np.float32)
    tiled = Window((2, 2), (2, 2), (0, 0), (1, 1), (3, 4))
    assert tiled.tiles(6, 8) and not tiled.tiles(7, 8)
    y = MaxPool2d.forward(NO_RECORD, x, tiled, False)
    np.testing.assert_array_equal(y, x.reshape(2, 3, 3, 2, 4, 2).max(axis=(3, 5)))
    g = np.arange(y.size, dtype=np.float32).reshape(y.shape)
    padded = np.pad(x, ((0, 0), (0, 0), (0, 1), (0, 1)), constant_values=-np.inf)
    winner = (padded[..., :6, :8].reshape(2, 3, 3, 2, 4, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 3, 3, 4, 4)
              .argmax(-1).astype(np.uint8))
    fast = ArgmaxScatter.forward(NO_RECORD, g, winner, tiled, x.shape)
    general = ArgmaxScatter.forward(NO_RECORD, g, winner, tiled, (2, 3, 7, 9))[..., :6, :8]
    np.testing.assert_array_equal(fast, general)
    assert fast.dtype == np.float32
