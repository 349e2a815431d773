"""The convolution primitives (``Conv``, ``ConvInputGrad``, ``ConvWeightGrad``): values against torch,
the adjoint identities that tie them together, first and second derivatives, dtype and layout."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd.function import NO_RECORD
from chainrule.ops.conv import Conv, ConvInputGrad, ConvWeightGrad, _input_grad_gather, _input_grad_scatter
from tests.helpers import assert_close, rand, require_torch

# (x shape, weight shape, stride, ((top, bottom), (left, right)), dilation, groups)
GEOMETRIES = [
    ((2, 3, 6, 5), (4, 3, 3, 3), (1, 1), ((0, 0), (0, 0)), (1, 1), 1),
    ((1, 4, 7, 9), (6, 2, 3, 2), (2, 1), ((1, 1), (0, 2)), (1, 2), 2),
    ((2, 2, 8, 6), (4, 1, 2, 3), (3, 2), ((2, 1), (1, 1)), (2, 1), 2),
    ((3, 3, 5, 5), (3, 1, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 3),  # depthwise
    ((2, 2, 4, 6), (3, 2, 1, 1), (2, 3), ((0, 0), (0, 0)), (1, 1), 1),  # 1 × 1 kernel, strided
]


def _arrays(x_shape, w_shape, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(w_shape).astype(dtype)


def _torch_conv(torch, x, w, b, stride, padding, dilation, groups):
    (pt, pb), (pl, pr) = padding
    x = torch.nn.functional.pad(x, (pl, pr, pt, pb))
    return torch.nn.functional.conv2d(x, w, b, stride=stride, dilation=dilation, groups=groups)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", GEOMETRIES)
def test_primitives_match_torch(dtype, x_shape, w_shape, stride, padding, dilation, groups):
    torch = require_torch()
    x, w = _arrays(x_shape, w_shape, dtype=dtype)
    b = np.linspace(-1, 1, w_shape[0]).astype(dtype)
    geom = (stride, padding, dilation, groups)
    t_x, t_w = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w).requires_grad_()
    t_y = _torch_conv(torch, t_x, t_w, torch.from_numpy(b), stride, padding, dilation, groups)
    y = Conv.forward(NO_RECORD, x, w, b, geom)
    assert y.dtype == dtype and y.flags.c_contiguous
    assert_close(y, t_y)
    g = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
    t_y.backward(torch.from_numpy(g))
    dx = ConvInputGrad.forward(NO_RECORD, g, w, None, geom, x_shape[2:])
    dw = ConvWeightGrad.forward(NO_RECORD, x, g, geom, w_shape[2:])
    assert dx.dtype == dtype and dw.dtype == dtype and dx.flags.c_contiguous
    assert_close(dx, t_x.grad)
    assert_close(dw, t_w.grad)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", GEOMETRIES)
def test_adjoint_identities(x_shape, w_shape, stride, padding, dilation, groups):
    # <conv(x, w), g> = <x, input_grad(g, w)> = <w, weight_grad(x, g)>: each is the others' VJP
    geom = (stride, padding, dilation, groups)
    x, w = _arrays(x_shape, w_shape)
    y = Conv.forward(NO_RECORD, x, w, None, geom)
    g = np.random.default_rng(2).standard_normal(y.shape)
    dx = ConvInputGrad.forward(NO_RECORD, g, w, None, geom, x_shape[2:])
    dw = ConvWeightGrad.forward(NO_RECORD, x, g, geom, w_shape[2:])
    np.testing.assert_allclose(np.vdot(y, g), np.vdot(x, dx), rtol=1e-10)
    np.testing.assert_allclose(np.vdot(y, g), np.vdot(w, dw), rtol=1e-10)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", GEOMETRIES)
def test_both_input_gradient_strategies_agree(x_shape, w_shape, stride, padding, dilation, groups):
    # ConvInputGrad picks one of the two by shape; each must be right for every geometry
    geom = (stride, padding, dilation, groups)
    x, w = _arrays(x_shape, w_shape, dtype=np.float32)
    g = np.random.default_rng(2).standard_normal(Conv.forward(NO_RECORD, x, w, None, geom).shape)
    g = g.astype(np.float32)
    (pt, pb), (pl, pr) = padding
    padded = (x_shape[2] + pt + pb, x_shape[3] + pl + pr)
    gathered, scattered = _input_grad_gather(g, w, geom, padded), _input_grad_scatter(g, w, geom, padded)
    assert gathered.dtype == scattered.dtype == np.float32
    assert gathered.shape == scattered.shape == x_shape[:2] + padded
    np.testing.assert_allclose(gathered, scattered, rtol=1e-5, atol=1e-5)
    dx = ConvInputGrad.forward(NO_RECORD, g, w, None, geom, x_shape[2:])
    np.testing.assert_allclose(dx, gathered[:, :, pt:pt + x_shape[2], pl:pl + x_shape[3]], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("stride", [(1, 1), (1, 2)])
def test_forward_on_a_non_contiguous_input(stride):
    # im2col reads window rows straight from the input's buffer: a strided view must be copied first
    x, w = _arrays((3, 2, 6, 7), (4, 2, 3, 3))
    view = np.asfortranarray(x)[:, :, :, ::-1]
    geom = (stride, ((0, 0), (0, 0)), (1, 1), 1)
    np.testing.assert_array_equal(Conv.forward(NO_RECORD, view, w, None, geom),
                                  Conv.forward(NO_RECORD, np.ascontiguousarray(view), w, None, geom))


def _tensors(x_shape, w_shape, g_shape=None):
    x, w = _arrays(x_shape, w_shape, seed=3)
    out = [cr.from_numpy(x).requires_grad_(), cr.from_numpy(w).requires_grad_()]
    if g_shape is not None:
        out.append(rand(g_shape, seed=4))
    return out


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", [
    ((1, 2, 4, 5), (2, 1, 2, 3), (2, 1), ((1, 0), (1, 2)), (1, 2), 2),
    ((2, 1, 4, 3), (2, 1, 2, 2), (1, 1), ((0, 1), (0, 0)), (1, 1), 1),
])
def test_each_primitive_gradcheck_and_gradgradcheck(x_shape, w_shape, stride, padding, dilation, groups):
    geom = (stride, padding, dilation, groups)
    x, w = _tensors(x_shape, w_shape)
    b = rand((w_shape[0],), seed=5)
    conv = lambda x, w, b: Conv.apply(x, w, b, geom)  # noqa: E731
    assert cr.autograd.gradcheck(conv, (x, w, b))
    assert cr.autograd.gradgradcheck(conv, (x, w, b))
    y_shape = conv(x, w, b).shape
    g = rand(y_shape, seed=6)
    input_grad = lambda g, w: ConvInputGrad.apply(g, w, None, geom, x_shape[2:])  # noqa: E731
    weight_grad = lambda x, g: ConvWeightGrad.apply(x, g, geom, w_shape[2:])  # noqa: E731
    for fn, args in ((input_grad, (g, w)), (weight_grad, (x, g))):
        assert cr.autograd.gradcheck(fn, args)
        assert cr.autograd.gradgradcheck(fn, args)


def test_weight_gradient_is_the_same_on_a_second_backward():
    # the first backward reuses the forward's im2col matrix; a retained graph's second one rebuilds it
    x, w = _tensors((2, 3, 5, 5), (4, 3, 3, 3))
    y = Conv.apply(x, w, None, ((1, 1), ((1, 1), (1, 1)), (1, 1), 1))
    y.sum().backward(retain_graph=True)
    first = w.grad.numpy().copy()
    w.grad = None
    y.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), first, rtol=1e-12)


def test_first_order_backward_runs_on_arrays_and_records_nothing():
    x, w = _tensors((1, 2, 4, 4), (3, 2, 2, 2))
    y = Conv.apply(x, w, None, ((1, 1), ((0, 0), (0, 0)), (1, 1), 1))
    gx, gw = cr.autograd.grad(y.sum(), [x, w])
    assert gx.grad_fn is None and gw.grad_fn is None
    gx, gw = cr.autograd.grad(Conv.apply(x, w, None, ((1, 1), ((0, 0), (0, 0)), (1, 1), 1)).sum(), [x, w],
                              create_graph=True)
    assert gx.grad_fn is not None and gw.grad_fn is not None
