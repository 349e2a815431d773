"""Pooling and upsampling functionals and layers against PyTorch: max_pool1d, adaptive_avg_pool2d,
interpolate (nearest), the layers' outputs and reprs, and the errors for bad shapes and settings.
(max_pool2d and avg_pool2d in depth: tests/ops/test_pooling.py.)"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from tests.helpers import check_against_torch, rand, require_torch


def _tF():
    return require_torch().nn.functional


# ---------------------------------------------------------------------------- max_pool1d
@pytest.mark.parametrize("shape,kwargs", [
    ((2, 3, 10), dict(kernel_size=2)),
    ((2, 3, 11), dict(kernel_size=3, stride=2, padding=1)),
    ((1, 2, 9), dict(kernel_size=2, stride=2, ceil_mode=True, dilation=2)),
    ((3, 7), dict(kernel_size=3, stride=1)),
])
@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
def test_max_pool1d_against_torch(shape, kwargs, dtype):
    check_against_torch(lambda x: F.max_pool1d(x, **kwargs), lambda x: _tF().max_pool1d(x, **kwargs),
                        [rand(shape, dtype, contiguous=False)])
    x = rand(shape, requires_grad=False)
    _, indices = F.max_pool1d(x, return_indices=True, **kwargs)
    _, t_indices = _tF().max_pool1d(require_torch().from_numpy(x.numpy()), return_indices=True, **kwargs)
    np.testing.assert_array_equal(indices.numpy(), t_indices.numpy())
    assert cr.autograd.gradcheck(lambda x: F.max_pool1d(x, **kwargs), (rand(shape[-2:]),))


# ---------------------------------------------------------------------------- adaptive_avg_pool2d
ADAPTIVE = [((2, 3, 7, 7), 3), ((2, 3, 5, 6), (2, None)), ((1, 2, 8, 8), 1), ((2, 2, 8, 6), (4, 3)),
            ((2, 2, 5, 7), (3, 4)), ((3, 5, 4), (6, 5)), ((1, 1, 6, 9), (None, 4)), ((1, 2, 10, 10), (2, 2))]


@pytest.mark.parametrize("shape,size", ADAPTIVE)
@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
def test_adaptive_avg_pool2d_against_torch(shape, size, dtype):
    check_against_torch(lambda x: F.adaptive_avg_pool2d(x, size), lambda x: _tF().adaptive_avg_pool2d(x, size),
                        [rand(shape, dtype, contiguous=False)])


@pytest.mark.parametrize("shape,size", ADAPTIVE[:5])
def test_adaptive_avg_pool2d_gradcheck(shape, size):
    x = rand((1, 1) + shape[-2:])
    assert cr.autograd.gradcheck(lambda x: F.adaptive_avg_pool2d(x, size), (x,))
    assert cr.autograd.gradgradcheck(lambda x: F.adaptive_avg_pool2d(x, size), (x,))


# ---------------------------------------------------------------------------- interpolate
INTERPOLATE = [((2, 3, 4, 5), dict(scale_factor=2)), ((2, 3, 4, 5), dict(scale_factor=3)),
               ((2, 3, 4, 5), dict(size=(7, 9))), ((1, 2, 6, 5), dict(size=3)),
               ((2, 3, 5, 7), dict(scale_factor=1.7)), ((2, 3, 5, 7), dict(scale_factor=(0.5, 2.5))),
               ((2, 3, 9, 7), dict(scale_factor=1.3, recompute_scale_factor=True)),
               ((2, 3, 7), dict(scale_factor=2)), ((2, 3, 7), dict(size=10)), ((1, 2, 10), dict(scale_factor=0.45)),
               ((1, 2, 300), dict(scale_factor=1.5)),  # longer than 256: indexing instead of a selection matmul
               ((2, 3, 5, 7), dict(size=(5, 7)))]  # the same size: a copy


@pytest.mark.parametrize("shape,kwargs", INTERPOLATE)
@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
def test_interpolate_nearest_against_torch(shape, kwargs, dtype):
    check_against_torch(lambda x: F.interpolate(x, **kwargs), lambda x: _tF().interpolate(x, **kwargs),
                        [rand(shape, dtype, contiguous=False)])


@pytest.mark.parametrize("shape,kwargs", INTERPOLATE[::2])
def test_interpolate_gradcheck(shape, kwargs):
    x = rand((1, 1) + shape[2:])
    assert cr.autograd.gradcheck(lambda x: F.interpolate(x, **kwargs), (x,))
    assert cr.autograd.gradgradcheck(lambda x: F.interpolate(x, **kwargs), (x,))


# ---------------------------------------------------------------------------- layers
LAYERS = [
    (lambda nn: nn.MaxPool2d(2), (2, 3, 8, 8)),
    (lambda nn: nn.MaxPool2d((2, 3), 1, 1, 2, ceil_mode=True), (2, 3, 9, 8)),
    (lambda nn: nn.MaxPool1d(3, 2, 1), (2, 3, 11)),
    (lambda nn: nn.AvgPool2d(2), (2, 3, 8, 8)),
    (lambda nn: nn.AvgPool2d(3, 2, 1, True, False), (2, 3, 9, 8)),
    (lambda nn: nn.AvgPool2d(2, divisor_override=3), (3, 6, 6)),
    (lambda nn: nn.AdaptiveAvgPool2d((2, None)), (2, 3, 5, 6)),
    (lambda nn: nn.AdaptiveAvgPool2d(3), (2, 3, 7, 7)),
    (lambda nn: nn.Upsample(scale_factor=2), (2, 3, 4, 4)),
    (lambda nn: nn.Upsample(size=(3, 7), mode="nearest"), (2, 3, 4, 4)),
    (lambda nn: nn.Upsample(scale_factor=(1.5, 2.0)), (2, 3, 4, 4)),
]


@pytest.mark.parametrize("make,shape", LAYERS)
def test_layers_match_torch_outputs_gradients_and_repr(make, shape):
    torch = require_torch()
    ours, theirs = make(nn), make(torch.nn)
    assert repr(ours) == repr(theirs)
    assert ours.state_dict() == {} and list(ours.parameters()) == []
    check_against_torch(ours, theirs, [rand(shape, cr.float32)])


def test_max_pool_layer_returns_indices():
    torch = require_torch()
    x = rand((2, 3, 7, 7), requires_grad=False)
    out, indices = nn.MaxPool2d(3, 2, return_indices=True)(x)
    t_out, t_indices = torch.nn.MaxPool2d(3, 2, return_indices=True)(torch.from_numpy(x.numpy()))
    np.testing.assert_array_equal(indices.numpy(), t_indices.numpy())
    np.testing.assert_array_equal(out.numpy(), t_out.numpy())


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize("call,match", [
    (lambda: F.max_pool2d(cr.zeros(8, 32, 32, 3), 4), r"too small.*output size would be \(8, 0\).*NHWC.*permute"),
    (lambda: nn.MaxPool2d(4)(cr.zeros(8, 32, 32, 3)), r"max_pool2d.*\(8, 32, 32, 3\).*permute\(0, 3, 1, 2\)"),
    (lambda: F.avg_pool2d(cr.zeros(1, 1, 2, 2), 3), r"avg_pool2d.*too small"),
    (lambda: F.max_pool2d(cr.zeros(1, 1, 9, 9), 3, padding=2), r"padding must be at most half the kernel size"),
    (lambda: F.avg_pool2d(cr.zeros(1, 1, 9, 9), 2, padding=(0, 2)), r"avg_pool2d: padding must be at most half"),
    (lambda: F.max_pool2d(cr.zeros(9, 9), 2), r"expected an input of shape \(N, C, H, W\) or \(C, H, W\)"),
    (lambda: F.max_pool1d(cr.zeros(1, 2, 3, 9), 2), r"max_pool1d: expected an input of shape \(N, C, L\)"),
    (lambda: F.max_pool2d(cr.zeros(1, 1, 4, 4), 2, stride=0), r"must be positive"),
    (lambda: F.max_pool2d(cr.zeros(1, 1, 4, 4), (2, 2, 2)), r"kernel_size must be an int or a tuple of 2 ints"),
    (lambda: F.avg_pool2d(cr.zeros(1, 1, 4, 4), 2, divisor_override=0), r"divisor_override must be a non-zero int"),
    (lambda: F.adaptive_avg_pool2d(cr.zeros(1, 1, 4, 4), 0), r"output_size must be a positive int"),
    (lambda: F.adaptive_avg_pool2d(cr.zeros(1, 1, 4, 4), (2, 2, 2)), r"output_size must be"),
    (lambda: F.interpolate(cr.zeros(1, 1, 4, 4), size=0), r"output size \(0, 0\).*must be positive"),
    (lambda: F.interpolate(cr.zeros(1, 1, 4, 4)), r"exactly one of size and scale_factor"),
    (lambda: F.interpolate(cr.zeros(1, 1, 4, 4), scale_factor=2, mode="bilinear"), r"mode='bilinear' is not supported"),
    (lambda: F.interpolate(cr.zeros(4, 4), scale_factor=2), r"expected a 3-d \(N, C, L\) or 4-d"),
    (lambda: F.interpolate(cr.zeros(1, 1, 4, 4), scale_factor=(2, 2, 2)), r"sequence of 2 numbers"),
])
def test_errors_name_the_problem_and_the_fix(call, match):
    with pytest.raises(cr.ChainruleError, match=match):
        call()


def test_interpolate_to_the_same_size_returns_a_copy():
    x = rand((1, 2, 3, 3))
    y = F.interpolate(x, size=(3, 3))
    assert y is not x and not np.shares_memory(y.detach().numpy(), x.detach().numpy())
    np.testing.assert_array_equal(y.detach().numpy(), x.detach().numpy())


def test_max_pool2d_takes_lists_and_fails_every_time():
    # the window is cached on the arguments: lists (unhashable) are read uncached, and a bad call
    # raises on every call, not only the first
    x = rand((1, 2, 6, 6), requires_grad=False)
    np.testing.assert_array_equal(F.max_pool2d(x, [2, 3], stride=[2, 1]).numpy(),
                                  F.max_pool2d(x, (2, 3), stride=(2, 1)).numpy())
    for _ in range(2):
        with pytest.raises(cr.ChainruleError, match="max_pool2d: padding must be at most half the kernel size"):
            F.max_pool2d(x, 2, padding=2)
    F.max_pool2d(x, 2, stride=1)
    for equal_but_wrong in (True, 1.0):  # equal to 1 as a cache key, but not an int
        with pytest.raises(cr.ChainruleError, match="max_pool2d: stride must be an int or a tuple of 2 ints"):
            F.max_pool2d(x, 2, stride=equal_but_wrong)
