"""The elementwise op table: forward and gradients against PyTorch, and float64 gradcheck."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from tests.helpers import check_against_torch, rand, require_torch

# name: (chainrule function, torch function name or callable, input shapes, (low, high))
UNARY = {
    "neg": (cr.neg, "neg", (-3, 3)), "exp": (cr.exp, "exp", (-3, 3)), "expm1": (cr.expm1, "expm1", (-3, 3)),
    "log": (cr.log, "log", (0.1, 4)), "log1p": (cr.log1p, "log1p", (-0.9, 3)),
    "sqrt": (cr.sqrt, "sqrt", (0.1, 4)), "rsqrt": (cr.rsqrt, "rsqrt", (0.1, 4)),
    "abs": (cr.abs, "abs", (-3, 3)), "sign": (cr.sign, "sign", (-3, 3)),
    "sin": (cr.sin, "sin", (-3, 3)), "cos": (cr.cos, "cos", (-3, 3)), "tan": (cr.tan, "tan", (-1.2, 1.2)),
    "tanh": (cr.tanh, "tanh", (-3, 3)), "sigmoid": (cr.sigmoid, "sigmoid", (-6, 6)),
    "relu": (cr.relu, "relu", (-3, 3)), "erf": (cr.erf, "erf", (-3, 3)),
    "leaky_relu": (lambda x: cr.leaky_relu(x, 0.1), lambda t: __import__("torch").nn.functional.leaky_relu(t, 0.1), (-3, 3)),
    "elu": (lambda x: cr.elu(x, 0.7), lambda t: __import__("torch").nn.functional.elu(t, 0.7), (-3, 3)),
    "gelu": (cr.gelu, lambda t: __import__("torch").nn.functional.gelu(t), (-4, 4)),
    "gelu_tanh": (lambda x: cr.gelu(x, approximate="tanh"),
                  lambda t: __import__("torch").nn.functional.gelu(t, approximate="tanh"), (-4, 4)),
    "silu": (cr.silu, lambda t: __import__("torch").nn.functional.silu(t), (-4, 4)),
    "softplus": (lambda x: cr.softplus(x, beta=2.0, threshold=5.0),
                 lambda t: __import__("torch").nn.functional.softplus(t, beta=2.0, threshold=5.0), (-4, 4)),
    "clamp": (lambda x: cr.clamp(x, -0.5, 1.0), lambda t: t.clamp(-0.5, 1.0), (-3, 3)),
    "clamp_min": (lambda x: cr.clamp(x, min=0.2), lambda t: t.clamp(min=0.2), (-3, 3)),
    "pow_scalar": (lambda x: x ** 3, lambda t: t ** 3, (-2, 2)),
    "pow_frac": (lambda x: x ** 1.5, lambda t: t ** 1.5, (0.1, 3)),
    "rpow": (lambda x: 2.0 ** x, lambda t: 2.0 ** t, (-2, 2)),
    "scalar_ops": (lambda x: (3 - x) / 2 + 1 * x - 0.5 / (x * x + 1), lambda t: (3 - t) / 2 + 1 * t - 0.5 / (t * t + 1), (-2, 2)),
}
BINARY = {
    "add": (cr.add, "add", (-3, 3)), "sub": (cr.sub, "sub", (-3, 3)), "mul": (cr.mul, "mul", (-3, 3)),
    "div": (cr.div, "div", (0.5, 3)), "pow": (cr.pow, "pow", (0.5, 2)),
    "maximum": (cr.maximum, "maximum", (-3, 3)), "minimum": (cr.minimum, "minimum", (-3, 3)),
    "add_alpha": (lambda a, b: cr.add(a, b, alpha=2.5), lambda a, b: __import__("torch").add(a, b, alpha=2.5), (-3, 3)),
}
# broadcasting, size-1, empty and non-contiguous shape pairs
SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((1,), (5, 2)), ((), (2, 3)),
          ((0, 3), (3,)), ((4, 3), (4, 3))]


def _torch_fn(spec):
    if callable(spec):
        return spec
    torch = require_torch()
    return getattr(torch, spec)


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("shape", [(3, 4), (5,), (), (0, 2), (1, 3)])
def test_unary_gradcheck(name, shape):
    fn, _, (low, high) = UNARY[name]
    assert cr.autograd.gradcheck(fn, (rand(shape, low=low, high=high),))


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
def test_unary_against_torch(name, dtype):
    fn, torch_fn, (low, high) = UNARY[name]
    check_against_torch(fn, _torch_fn(torch_fn), [rand((4, 5), dtype, low, high, contiguous=False)])


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shapes", SHAPES)
def test_binary_gradcheck(name, shapes):
    fn, _, (low, high) = BINARY[name]
    a = rand(shapes[0], low=low, high=high, seed=1, contiguous=shapes == SHAPES[-1])
    b = rand(shapes[1], low=low, high=high, seed=2, contiguous=False)
    assert cr.autograd.gradcheck(fn, (a, b))


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
@pytest.mark.parametrize("shapes", SHAPES)
def test_binary_against_torch(name, dtype, shapes):
    fn, torch_fn, (low, high) = BINARY[name]
    a = rand(shapes[0], dtype, low, high, seed=1)
    b = rand(shapes[1], dtype, low, high, seed=2, contiguous=False)
    check_against_torch(fn, _torch_fn(torch_fn), [a, b])


@pytest.mark.parametrize("name", ["neg", "exp", "tanh", "sigmoid", "gelu", "silu", "softplus", "sin", "log"])
def test_unary_second_derivatives(name):
    fn, _, (low, high) = UNARY[name]
    assert cr.autograd.gradgradcheck(fn, (rand((2, 3), low=low, high=high),))


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_second_derivatives(name):
    fn, _, (low, high) = BINARY[name]
    assert cr.autograd.gradgradcheck(fn, (rand((2, 3), low=low, high=high, seed=1), rand((3,), low=low, high=high, seed=2)))


def test_where_against_torch():
    torch = require_torch()
    cond = cr.tensor([[True, False, True], [False, False, True]])
    check_against_torch(lambda a, b: cr.where(cond, a, b), lambda a, b: torch.where(torch.from_numpy(cond.numpy()), a, b),
                        [rand((2, 3)), rand((3,), seed=3)])
    assert cr.autograd.gradcheck(lambda a, b: cr.where(cond, a, b), (rand((2, 3)), rand((1, 3), seed=3)))


# ------------------------------------------------------------------ edge rows, checked against torch
EDGES = [
    ("relu at 0", lambda m, x: m.relu(x), [[-1.0, 0.0, 2.0]]),
    ("abs at 0", lambda m, x: m.abs(x), [[-1.0, 0.0, 2.0]]),
    ("clamp at bounds", lambda m, x: m.clamp(x, -1.0, 1.0), [[-1.0, 0.0, 1.0, 2.0]]),
    ("maximum tie", lambda m, x, y: m.maximum(x, y), [[1.0, 2.0, 3.0], [1.0, 0.0, 3.0]]),
    ("minimum tie", lambda m, x, y: m.minimum(x, y), [[1.0, 2.0, 3.0], [1.0, 0.0, 3.0]]),
    ("pow(0, y)", lambda m, x, y: m.pow(x, y), [[0.0, 0.0, 0.0, 2.0], [0.0, 1.0, 2.0, 0.0]]),
    ("pow(x, 0)", lambda m, x: x ** 0, [[0.0, 1.0, -2.0]]),
    ("sqrt near 0", lambda m, x: m.sqrt(x), [[1e-12, 1e-6, 1.0]]),
    ("sigmoid extremes", lambda m, x: m.sigmoid(x), [[-1e4, -50.0, 0.0, 50.0, 1e4]]),
    ("softplus extremes", lambda m, x: m.nn.functional.softplus(x) if hasattr(m, "nn") else m.softplus(x),
     [[-1e4, -30.0, 0.0, 30.0, 1e4]]),
    ("tanh extremes", lambda m, x: m.tanh(x), [[-1e4, 0.0, 1e4]]),
    ("empty", lambda m, x: m.exp(x) * 2, [np.zeros((0, 3))]),
]


@pytest.mark.parametrize("name,fn,values", EDGES, ids=[e[0] for e in EDGES])
@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
def test_edge_rows_against_torch(name, fn, values, dtype):
    torch = require_torch()
    inputs = [cr.tensor(np.asarray(v), dtype=dtype, requires_grad=True) for v in values]
    check_against_torch(lambda *xs: fn(cr, *xs), lambda *ts: fn(torch, *ts), inputs)


def test_gelu_matches_erf_reference():
    x = cr.tensor(np.linspace(-6, 6, 101), dtype=cr.float64)
    from math import erf, sqrt

    expected = np.array([v * 0.5 * (1 + erf(v / sqrt(2))) for v in x.tolist()])
    np.testing.assert_allclose(cr.gelu(x).numpy(), expected, rtol=1e-14, atol=1e-15)


# ---------------------------------------------------------------------------- Python float operands
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scalar", [0.1, -2.5, 1e30, -0.0, 0.0, float("nan"), float("inf")])
def test_python_float_operands_match_numpy_and_torch(dtype, scalar):
    """A Python float beside a floating tensor is computed in the tensor's dtype (kept as a cached
    0-d array): the same values, signed zeros, NaN and infinities as NumPy's and PyTorch's."""
    torch = require_torch()
    values = np.array([1.5, -0.0, 3e-3, -7.0], dtype)
    x = cr.from_numpy(values.copy()).requires_grad_()
    tx = torch.from_numpy(values.copy()).requires_grad_()
    for _ in range(2):  # the second round reads the cached scalar
        for op in (lambda a: a * scalar, lambda a: scalar - a, lambda a: a / scalar, lambda a: a + scalar):
            with np.errstate(all="ignore"):  # inf · 0 and x / 0, as in NumPy
                expected = op(values)
                got = op(x)
            assert got.dtype == x.dtype
            np.testing.assert_array_equal(got.detach().numpy(), expected)
            np.testing.assert_array_equal(np.signbit(got.detach().numpy()), np.signbit(op(tx).detach().numpy()))
    x.grad = tx.grad = None
    with np.errstate(all="ignore"):
        (x * scalar).sum().backward()
    (tx * scalar).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


def test_scalar_cache_stays_bounded():
    from chainrule.ops import elementwise

    x = cr.ones(3)
    for i in range(3 * elementwise._SCALAR_CACHE_SIZE):
        assert (x * (i + 0.5)).numpy()[0] == i + 0.5
    assert len(elementwise._SCALAR_ARRAYS[np.dtype(np.float32)]) <= elementwise._SCALAR_CACHE_SIZE


RELU_SPECIALS = [np.nan, -np.nan, -0.0, 0.0, np.inf, -np.inf, -1.5, 2.5]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("shape", [(9,), (32, 32), (32, 128), (2, 3, 400)])
def test_relu_array_is_numpys_maximum_with_zero_bit_for_bit(shape, dtype):
    # from 1,024 elements on relu_array compares with an array of zeros instead of a 0-d zero
    from chainrule.ops.elementwise import relu_array

    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, shape).astype(dtype)
    if dtype != np.int64:
        x.ravel()[:len(RELU_SPECIALS)] = RELU_SPECIALS
    for array in (x, x.T, x[..., ::2]):  # contiguous, transposed, strided
        expected = _bits(np.maximum(array, dtype(0)))
        np.testing.assert_array_equal(_bits(relu_array(array)), expected)
        in_place = array.copy()
        assert relu_array(in_place, in_place) is in_place
        np.testing.assert_array_equal(_bits(in_place), expected)


def _bits(a):
    """The bytes of ``a``'s values in row-major order (NaN and -0 compare as what they are)."""
    return np.ascontiguousarray(a).view(np.uint8)


def test_relu_zeros_are_one_read_only_buffer_per_dtype_that_grows():
    from chainrule.ops import elementwise as ew

    ew._ZERO_BUFFERS.clear()
    ew._ZERO_VIEWS.clear()
    ew.relu_array(np.full((40, 30), -1.0, np.float32))
    ew.relu_array(np.full((20, 60), -1.0, np.float32))  # the same size: the same buffer, another view
    buffer = ew._ZERO_BUFFERS[np.dtype(np.float32)]
    assert buffer.size == 1200 and not buffer.flags.writeable and len(ew._ZERO_VIEWS) == 2
    out = ew.relu_array(np.full((50, 50), -1.0, np.float32))  # longer: a new buffer, the old views dropped
    assert ew._ZERO_BUFFERS[np.dtype(np.float32)].size == 2500 and len(ew._ZERO_VIEWS) == 1
    assert not np.shares_memory(out, ew._ZERO_BUFFERS[np.dtype(np.float32)])
    np.testing.assert_array_equal(ew.relu_array(np.full((20, 60), 2.0, np.float32)), 2.0)
    assert ew._ZERO_BUFFERS[np.dtype(np.float32)].size == 2500 and not ew._ZERO_BUFFERS[np.dtype(np.float32)].any()
    ew.relu_array(np.full((40, 30), -1.0))  # float64 has a buffer of its own
    assert ew._ZERO_BUFFERS[np.dtype(np.float64)].size == 1200
    ew.relu_array(np.full((2 * ew._ZERO_VIEWS_KEPT, 1024), -1.0, np.float32))
    for rows in range(1, 2 * ew._ZERO_VIEWS_KEPT):  # many shapes of one buffer: the views kept stay bounded
        np.testing.assert_array_equal(ew.relu_array(np.full((rows, 1024), -1.0, np.float32)), 0.0)
        assert len(ew._ZERO_VIEWS) <= ew._ZERO_VIEWS_KEPT


@pytest.mark.parametrize("shape", [(32, 128), (3, 4, 500)])
def test_relu_of_large_tensors_against_torch(shape):
    torch = require_torch()
    x = rand(shape, cr.float32, seed=2)
    out = cr.relu(x)
    expected = torch.relu(torch.from_numpy(x.detach().numpy().copy()))
    np.testing.assert_array_equal(out.detach().numpy(), expected.numpy())
    g = rand(shape, cr.float32, requires_grad=False, seed=3)
    (gx,) = cr.autograd.grad(out, [x], g)
    np.testing.assert_array_equal(gx.numpy(), g.numpy() * (x.detach().numpy() > 0))


@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
def test_square_by_mul_has_the_gradient_of_two_distinct_factors_bit_for_bit(dtype):
    """``x * x`` returns one gradient, ``g·x + g·x``: the bits of ``x * x.clone()``, whose two factors'
    gradients the engine adds, and of torch's."""
    torch = require_torch()
    x = rand((6, 7), dtype, seed=4)
    g = rand((6, 7), dtype, requires_grad=False, seed=5)
    (square,) = cr.autograd.grad(x * x, [x], g)
    (two_factors,) = cr.autograd.grad(x * x.clone(), [x], g)
    np.testing.assert_array_equal(square.numpy(), two_factors.numpy())
    tx = torch.from_numpy(x.detach().numpy().copy()).requires_grad_()
    (expected,) = torch.autograd.grad(tx * tx, [tx], torch.from_numpy(g.numpy().copy()))
    np.testing.assert_array_equal(square.numpy(), expected.numpy())
    through = x * 1.5  # a square of an intermediate result, reduced: the gradient flows on to x
    (via,) = cr.autograd.grad((through * through).mean(), [x])
    np.testing.assert_allclose(via.numpy(), 2 * 1.5 * 1.5 * x.detach().numpy() / x.numel(), rtol=1e-6)


def test_square_by_mul_second_derivatives():
    assert cr.autograd.gradgradcheck(lambda x: x * x, (rand((2, 3), seed=6),))
