"""``F.conv1d``, ``F.conv2d``, ``F.conv_transpose2d`` and the layers ``Conv1d``, ``Conv2d``,
``ConvTranspose2d``: values and input/weight/bias gradients against torch over many configurations,
gradcheck and gradgradcheck, PyTorch state dicts, initialisation, repr, and the error messages."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.errors import ChainruleError
from tests.helpers import assert_close, check_against_torch, rand, require_torch

DTYPES = [cr.float64, cr.float32]

# (input shape, weight shape, keyword arguments)
CONV2D = [
    ((2, 3, 8, 8), (4, 3, 3, 3), {}),
    ((2, 3, 9, 7), (4, 3, 3, 3), dict(stride=2, padding=1)),
    ((1, 2, 7, 10), (3, 2, 2, 4), dict(stride=(2, 3), padding=(1, 2))),  # non-square kernel, batch of 1
    ((2, 2, 9, 9), (3, 2, 3, 3), dict(dilation=2, padding=2)),
    ((2, 4, 7, 6), (6, 2, 3, 3), dict(groups=2, stride=(1, 2))),
    ((2, 4, 6, 6), (4, 1, 3, 3), dict(groups=4, padding=1)),  # depthwise
    ((2, 3, 7, 8), (5, 3, 3, 3), dict(padding="same")),
    ((2, 3, 7, 8), (5, 3, 4, 2), dict(padding="same", dilation=(2, 3))),  # even kernels: asymmetric padding
    ((2, 3, 7, 8), (5, 3, 3, 2), dict(padding="valid")),
    ((3, 8, 8), (4, 3, 3, 3), dict(padding=1)),  # unbatched
    ((2, 3, 5, 5), (2, 3, 5, 5), {}),  # kernel as large as the input: 1 × 1 output
    ((2, 3, 6, 6), (4, 3, 1, 1), dict(stride=2)),
]

CONV1D = [
    ((2, 3, 10), (4, 3, 3), {}),
    ((2, 4, 11), (6, 2, 4), dict(stride=2, padding=2, dilation=2, groups=2)),
    ((2, 3, 9), (5, 3, 4), dict(padding="same", dilation=2)),
    ((3, 7), (2, 3, 2), dict(padding="valid", stride=3)),  # unbatched
]

# (input shape, weight shape (C_in, C_out/groups, KH, KW), keyword arguments)
CONV_TRANSPOSE2D = [
    ((2, 3, 5, 5), (3, 4, 3, 3), {}),
    ((2, 3, 4, 5), (3, 2, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    ((1, 4, 4, 3), (4, 3, 2, 3), dict(stride=(2, 3), padding=(0, 1), output_padding=(1, 2), groups=2)),
    ((2, 2, 4, 4), (2, 2, 3, 2), dict(dilation=(2, 1), padding=1)),
    ((2, 2, 4, 4), (2, 1, 3, 3), dict(dilation=2, output_padding=1)),  # output_padding < dilation
    ((3, 5, 4), (3, 2, 3, 3), dict(stride=2)),  # unbatched
]


def _args(shapes, dtype, bias, contiguous=True):
    x_shape, w_shape, bias_size = shapes
    x = rand(x_shape, dtype, seed=1, contiguous=contiguous)
    w = rand(w_shape, dtype, seed=2, low=-0.5, high=0.5)
    b = rand((bias_size,), dtype, seed=3) if bias else None
    return x, w, b


def _check_against_torch(name, shapes, dtype, bias, kwargs, contiguous=True):
    """``F.<name>`` against ``torch.nn.functional.<name>`` (values and gradients) on ``_args``'s tensors."""
    torch = require_torch()
    x, w, b = _args(shapes, dtype, bias, contiguous)
    if not contiguous:
        assert not x.is_contiguous()
    check_against_torch(lambda x, w, b: getattr(F, name)(x, w, b, **kwargs),
                        lambda x, w, b: getattr(torch.nn.functional, name)(x, w, b, **kwargs), [x, w, b])


def _each_dtype_and_bias(test):
    """Run ``test`` for every dtype of ``DTYPES``, with and without a bias."""
    return pytest.mark.parametrize("dtype", DTYPES)(pytest.mark.parametrize("bias", [True, False])(test))


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch's, on its own speed
@_each_dtype_and_bias
@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV2D)
def test_conv2d_matches_torch(dtype, bias, x_shape, w_shape, kwargs):
    _check_against_torch("conv2d", (x_shape, w_shape, w_shape[0]), dtype, bias, kwargs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, w_shape, kwargs", [CONV2D[1], CONV2D[4], CONV2D[7]])
def test_conv2d_non_contiguous_input(dtype, x_shape, w_shape, kwargs):
    _check_against_torch("conv2d", (x_shape, w_shape, w_shape[0]), dtype, True, kwargs, contiguous=False)


@_each_dtype_and_bias
@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV1D)
def test_conv1d_matches_torch(dtype, bias, x_shape, w_shape, kwargs):
    _check_against_torch("conv1d", (x_shape, w_shape, w_shape[0]), dtype, bias, kwargs)


@_each_dtype_and_bias
@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV_TRANSPOSE2D)
def test_conv_transpose2d_matches_torch(dtype, bias, x_shape, w_shape, kwargs):
    _check_against_torch("conv_transpose2d", (x_shape, w_shape, w_shape[1] * kwargs.get("groups", 1)), dtype, bias,
                         kwargs)


def test_float32_stays_float32_and_output_is_contiguous():
    x, w, b = _args(((2, 3, 6, 6), (4, 3, 3, 3), 4), cr.float32, True)
    for y in (F.conv2d(x, w, b, padding=1), F.conv_transpose2d(x, w.permute(1, 0, 2, 3), b, stride=2)):
        assert y.dtype == cr.float32 and y.is_contiguous()
        gx, gw, gb = cr.autograd.grad(y.sum(), [x, w, b])
        assert gx.dtype == gw.dtype == gb.dtype == cr.float32


TINY = [((1, 2, 5, 4), (2, 1, 2, 3), dict(stride=(2, 1), padding=1, dilation=(1, 2), groups=2)),
        ((2, 1, 4, 4), (2, 1, 2, 2), dict(padding="same"))]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", TINY)
def test_conv2d_gradcheck_and_gradgradcheck(x_shape, w_shape, kwargs):
    x, w, b = _args((x_shape, w_shape, w_shape[0]), cr.float64, True)
    fn = lambda x, w, b: F.conv2d(x, w, b, **kwargs)  # noqa: E731
    assert cr.autograd.gradcheck(fn, (x, w, b))
    assert cr.autograd.gradgradcheck(fn, (x, w, b))


@pytest.mark.parametrize("kwargs", [dict(stride=2, padding=1, output_padding=1, groups=2, dilation=(2, 1)),
                                    dict(output_padding=1, dilation=2)])
def test_conv_transpose2d_gradcheck_and_gradgradcheck(kwargs):
    x, w, b = _args(((1, 2, 3, 4), (2, 2, 2, 3), 2 * kwargs.get("groups", 1)), cr.float64, True)
    if kwargs.get("groups", 1) == 1:
        b = rand((2,), seed=3)
    fn = lambda x, w, b: F.conv_transpose2d(x, w, b, **kwargs)  # noqa: E731
    assert cr.autograd.gradcheck(fn, (x, w, b))
    assert cr.autograd.gradgradcheck(fn, (x, w, b))


@pytest.mark.parametrize("kwargs", [dict(stride=2, padding=1), dict(padding="same", dilation=2, groups=2)])
def test_conv1d_gradcheck_and_gradgradcheck(kwargs):
    x, w, b = _args(((2, 2, 7), (2, 2 // kwargs.get("groups", 1), 3), 2), cr.float64, True)
    fn = lambda x, w, b: F.conv1d(x, w, b, **kwargs)  # noqa: E731
    assert cr.autograd.gradcheck(fn, (x, w, b))
    assert cr.autograd.gradgradcheck(fn, (x, w, b))


def test_conv2d_double_backward_matches_torch():
    torch = require_torch()
    x, w, b = _args(((2, 2, 6, 5), (3, 2, 3, 2), 3), cr.float64, True)
    t_x, t_w = (torch.from_numpy(t.detach().numpy().copy()).requires_grad_() for t in (x, w))
    kwargs = dict(stride=2, padding=1)
    gx, gw = cr.autograd.grad((F.conv2d(x, w, b, **kwargs) ** 2).sum(), [x, w], create_graph=True)
    t_gx, t_gw = torch.autograd.grad((torch.nn.functional.conv2d(t_x, t_w, None, **kwargs) ** 2).sum(), [t_x, t_w],
                                     create_graph=True)
    # the bias changes the first derivatives; compare the version without it for the second ones
    gx, gw = cr.autograd.grad((F.conv2d(x, w, None, **kwargs) ** 2).sum(), [x, w], create_graph=True)
    second = cr.autograd.grad((gx ** 2).sum() + (gw ** 3).sum(), [x, w])
    t_second = torch.autograd.grad((t_gx ** 2).sum() + (t_gw ** 3).sum(), [t_x, t_w])
    for ours, theirs in zip(second, t_second):
        assert_close(ours, theirs)


# ---------------------------------------------------------------------------- layers
LAYERS = [
    ("Conv2d", (3, 4, 3), dict(stride=2, padding=1), (2, 3, 9, 9)),
    ("Conv2d", (4, 6, (3, 2)), dict(padding="same", dilation=2, groups=2, bias=False), (2, 4, 7, 8)),
    ("Conv2d", (3, 4, 3), {}, (3, 8, 8)),  # unbatched
    ("Conv1d", (3, 4, 3), dict(stride=2, padding=1), (2, 3, 10)),
    ("Conv1d", (4, 4, 5), dict(padding="same", groups=4, bias=False), (2, 4, 9)),
    ("ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, output_padding=1, groups=2), (2, 4, 5, 5)),
    ("ConvTranspose2d", (3, 2, (2, 3)), dict(dilation=2, bias=False), (3, 4, 4)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, args, kwargs, x_shape", LAYERS)
def test_layer_loads_torch_state_dict_and_matches(dtype, name, args, kwargs, x_shape):
    torch = require_torch()
    theirs = getattr(torch.nn, name)(*args, **kwargs).to(getattr(torch, dtype.numpy.name))
    ours = getattr(nn, name)(*args, **kwargs, dtype=dtype)
    assert repr(ours) == repr(theirs)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    ours.load_state_dict({k: cr.from_numpy(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()})
    x = rand(x_shape, dtype)
    t_x = torch.from_numpy(x.detach().numpy().copy()).requires_grad_()
    y, t_y = ours(x), theirs(t_x)
    assert_close(y, t_y)
    y.sum().backward()
    t_y.sum().backward()
    assert_close(x.grad, t_x.grad)
    for (k, p), t_p in zip(ours.named_parameters(), theirs.parameters()):
        assert_close(p.grad, t_p.grad, err_msg=k)


def test_conv_transpose2d_output_size_picks_the_output_padding():
    torch = require_torch()
    theirs = torch.nn.ConvTranspose2d(2, 3, 3, stride=3, padding=1).double()
    ours = nn.ConvTranspose2d(2, 3, 3, stride=3, padding=1, dtype=cr.float64)
    ours.load_state_dict({k: cr.from_numpy(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()})
    x = rand((1, 2, 4, 4), requires_grad=False)
    t_x = torch.from_numpy(x.numpy().copy())
    for size in [(10, 10), (11, 12), (1, 3, 12, 10)]:
        assert_close(ours(x, output_size=size), theirs(t_x, output_size=size))
    with pytest.raises(ChainruleError, match=r"ConvTranspose2d: output_size \(13, 10\) is not reachable"):
        ours(x, output_size=(13, 10))


@pytest.mark.parametrize("layer, fan_in", [(lambda: nn.Conv2d(8, 16, 5), 8 * 25),
                                           (lambda: nn.Conv2d(8, 16, (3, 5), groups=4), 2 * 15),
                                           (lambda: nn.Conv1d(6, 12, 7), 6 * 7),
                                           (lambda: nn.ConvTranspose2d(16, 8, 4, groups=2), 4 * 16)])
def test_initialisation_follows_pytorch(layer, fan_in):
    # kaiming_uniform_(a=√5) is U(±1/√fan_in); the bias is U(±1/√fan_in) too
    m = layer()
    bound = 1 / math.sqrt(fan_in)
    for p in (m.weight.detach().numpy(), m.bias.detach().numpy()):
        assert p.dtype == np.float32
        assert np.abs(p).max() <= bound
    w = m.weight.detach().numpy()
    assert np.abs(w).max() > 0.9 * bound  # spread over the whole interval
    assert abs(w.std() - bound / math.sqrt(3)) < 0.15 * bound
    cr.manual_seed(3)
    first = layer().weight.detach().numpy()
    cr.manual_seed(3)
    np.testing.assert_array_equal(layer().weight.detach().numpy(), first)


def test_conv_layers_train_a_step():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 3, stride=2), nn.Flatten(),
                          nn.Linear(2 * 3 * 3, 3))
    x = cr.randn(5, 1, 8, 8)
    target = cr.tensor([0, 1, 2, 0, 1])
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


# ---------------------------------------------------------------------------- errors
def test_nhwc_input_to_conv2d_says_how_to_permute():
    layer = nn.Conv2d(3, 8, 3)
    with pytest.raises(ChainruleError) as info:
        layer(cr.randn(8, 32, 32, 3))
    message = str(info.value)
    assert message.startswith("Conv2d: expected input of shape (N, 3, H, W) or (3, H, W)")
    assert "got (8, 32, 32, 3)" in message and "x.permute(0, 3, 1, 2)" in message
    with pytest.raises(ChainruleError, match=r"x\.permute\(2, 0, 1\)"):
        layer(cr.randn(32, 32, 3))
    with pytest.raises(ChainruleError, match=r"Conv1d: expected input of shape \(N, 3, L\).*x\.permute\(0, 2, 1\)"):
        nn.Conv1d(3, 4, 3)(cr.randn(2, 10, 3))


@pytest.mark.parametrize("call, pattern", [
    (lambda: F.conv2d(cr.randn(2, 4, 8, 8), cr.randn(6, 3, 3, 3)),
     r"conv2d: expected input of shape \(N, 3, H, W\).*got \(2, 4, 8, 8\)"),
    (lambda: nn.Conv2d(3, 6, 3, groups=3)(cr.randn(2, 6, 8, 8)),
     r"Conv2d: expected input of shape \(N, 3, H, W\).*got \(2, 6, 8, 8\)"),
    (lambda: F.conv2d(cr.randn(2, 4, 8, 8), cr.randn(6, 2, 3, 3), groups=4),
     r"conv2d: groups must be a positive int that divides .*\(6, 2, 3, 3\)\), got groups=4"),
    (lambda: F.conv2d(cr.randn(2, 3, 4, 4), cr.randn(6, 3, 5, 5), padding=0),
     r"conv2d: the kernel \(5, 5\).*larger than the padded input \(4, 4\)"),
    (lambda: F.conv2d(cr.randn(2, 3, 4, 4), cr.randn(6, 3, 3, 3), dilation=2),
     r"spanning \(5, 5\)"),
    (lambda: F.conv2d(cr.randn(2, 3, 8, 8), cr.randn(6, 3, 3, 3), stride=2, padding="same"),
     r"conv2d: padding='same' is not supported for strided convolutions"),
    (lambda: nn.Conv2d(3, 6, 3, stride=2, padding="same"),
     r"Conv2d: padding='same' is not supported for strided convolutions"),
    (lambda: F.conv2d(cr.randn(2, 3, 8, 8), cr.randn(6, 3, 3, 3), padding="full"),
     r"conv2d: padding must be an int, a tuple, 'same' or 'valid', got 'full'"),
    (lambda: F.conv2d(cr.randn(2, 3, 8, 8, dtype=cr.float64), cr.randn(6, 3, 3, 3)),
     r"conv2d: input, weight and bias must have the same floating dtype.*float64.*float32.*x\.float\(\)"),
    (lambda: F.conv2d(cr.randn(2, 3, 8, 8), cr.randn(6, 3, 3, 3), cr.randn(5)),
     r"conv2d: expected a bias of shape \(6,\), got shape \(5,\)"),
    (lambda: F.conv2d(cr.randn(2, 3, 8, 8), cr.randn(6, 3, 3)),
     r"conv2d: expected a weight with 4 dimensions"),
    (lambda: F.conv2d(cr.randn(2, 3, 8, 8), cr.randn(6, 3, 3, 3), stride=0),
     r"conv2d: stride must be at least 1"),
    (lambda: F.conv2d(cr.randn(2, 3, 8, 8), cr.randn(6, 3, 3, 3), stride=(1, 2, 3)),
     r"conv2d: stride must be an int or a tuple of 2 ints"),
    (lambda: nn.Conv2d(4, 6, 3, groups=4), r"Conv2d: groups=4 must be a positive int that divides in_channels"),
    (lambda: nn.Conv2d(3, 6, 3, padding_mode="reflect"), r"Conv2d: padding_mode='reflect' is not supported"),
    (lambda: F.conv_transpose2d(cr.randn(2, 3, 4, 4), cr.randn(3, 2, 3, 3), stride=2, output_padding=2),
     r"conv_transpose2d: output_padding \(2, 2\) must be smaller than either stride \(2, 2\) or dilation"),
    (lambda: F.conv_transpose2d(cr.randn(2, 3, 2, 2), cr.randn(3, 2, 3, 3), padding=3),
     r"conv_transpose2d: the output size \(-2, -2\) would not be positive"),
    (lambda: F.conv_transpose2d(cr.randn(2, 4, 4, 4), cr.randn(3, 2, 3, 3)),
     r"conv_transpose2d: expected input of shape \(N, 3, H, W\)"),
    (lambda: F.conv_transpose2d(cr.randn(2, 3, 4, 4), cr.randn(3, 2, 3, 3), cr.randn(3)),
     r"conv_transpose2d: expected a bias of shape \(2,\)"),
])
def test_clear_errors(call, pattern):
    with pytest.raises(ChainruleError, match=pattern):
        call()


def test_geometry_checks_are_cached_per_arguments_but_take_lists_and_fail_every_time():
    # the shape and geometry checks are cached on their arguments: lists (unhashable) are checked
    # uncached, and a bad call raises on every call, not only the first
    x, w, b = _args(((1, 2, 7, 10), (3, 2, 2, 4), 3), cr.float32, True)
    expected = F.conv2d(x, w, b, stride=(2, 3), padding=(1, 2))
    assert_close(F.conv2d(x, w, b, stride=[2, 3], padding=[1, 2]), expected)
    assert_close(F.conv2d(x, w, b, stride=(2, 3), padding=(1, 2)), expected)
    for _ in range(2):
        with pytest.raises(ChainruleError, match="conv2d: stride must be at least 1"):
            F.conv2d(x, w, b, stride=0)
    F.conv2d(x, w, b, stride=1)
    for equal_but_wrong in (True, 1.0):  # equal to 1 as a cache key, but not an int
        with pytest.raises(ChainruleError, match="conv2d: stride must be an int or a tuple of 2 ints"):
            F.conv2d(x, w, b, stride=equal_but_wrong)
