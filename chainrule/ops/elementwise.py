"""Elementwise primitives: each forward beside its vector-Jacobian product.

Unary rules are rows of a table: ``vjp(g, x, y)`` gets the output gradient ``g``, the input ``x`` and
the output ``y`` and returns the input gradient. Rules use operators and ``np.*`` only, so that they
run on arrays in an ordinary backward and on tensors when the backward is recorded. Broadcasting is
undone by the engine, not here.
"""

from __future__ import annotations

import builtins
import math
from typing import Any, Callable

import numpy as np

from chainrule import dtype as dtypes
from chainrule import recording
from chainrule.constant_cache import remember
from chainrule.autograd.function import Primitive
from chainrule.errors import ChainruleError
from chainrule.recording import replayed_call
from chainrule.ops.special import erf as _erf_array
from chainrule.tensor import Tensor

_SCALARS = (builtins.float, builtins.int, builtins.bool)


# ---------------------------------------------------------------------------- type promotion
def _as_operand(value: Any, np_dtype: np.dtype) -> Any:
    """Cast one operand to the computation dtype (tensors differentiably, scalars untouched)."""
    if isinstance(value, Tensor):
        return value if value._data.dtype == np_dtype else cast(value, np_dtype)
    if isinstance(value, np.generic):  # before the Python scalars: np.float64 subclasses float
        return value.item()
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, (np.ndarray, list, tuple)):
        return np.asarray(value, dtype=np_dtype)
    raise ChainruleError(f"elementwise operation: cannot combine a Tensor with a {type(value).__name__}")


# NumPy's ufuncs take about 0.4 µs longer with a Python float operand than with a zero-dimensional
# array of the other operand's dtype (float32 (8,) * 1.01: 0.85 µs; * a 0-d float32 array: 0.45 µs),
# and a backward rule that multiplies by the constant pays it again. So a Python float that meets a
# floating tensor becomes a 0-d array of the tensor's dtype, made once per value and dtype (the same
# number, as NumPy rounds a Python float to the array's dtype anyway). Zero is left out (0.0 and -0.0
# are equal keys with different signs), and so is NaN (never equal to itself, so never found).
_SCALAR_ARRAYS: dict[np.dtype, dict[builtins.float, np.ndarray]] = {}
_SCALAR_CACHE_SIZE = 256  # values per dtype; the cache starts afresh when full


def scalar_array(value: builtins.float, np_dtype: np.dtype) -> Any:
    """``value`` as a read-only 0-d array of ``np_dtype`` (see above); zero and NaN stay floats."""
    cache = _SCALAR_ARRAYS.get(np_dtype)
    if cache is None:
        cache = _SCALAR_ARRAYS[np_dtype] = {}
    array = cache.get(value)
    if array is None:
        if value == 0 or value != value:
            return value
        array = remember(cache, value, np.array(value, np_dtype), _SCALAR_CACHE_SIZE)
    return array


def promote(a: Any, b: Any) -> tuple[Any, Any]:
    """Bring two operands to their common dtype, as ``torch.result_type`` decides.

    A Python float beside a floating tensor comes back as a 0-d array of the tensor's dtype
    (:func:`scalar_array`); every other scalar comes back as it is.
    """
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            if a._data.dtype is b._data.dtype:
                return a, b
        elif b.__class__ is builtins.float:
            if a._data.dtype.kind == "f":
                return a, scalar_array(b, a._data.dtype)
        elif b.__class__ is builtins.int and a._data.dtype.kind in "fiu":
            return a, b
    elif isinstance(b, Tensor) and a.__class__ in (builtins.float, builtins.int) and b._data.dtype.kind == "f":
        return (scalar_array(a, b._data.dtype) if a.__class__ is builtins.float else a), b
    np_dtype = dtypes.result_type(a, b).numpy
    return _as_operand(a, np_dtype), _as_operand(b, np_dtype)


def _float_operands(a: Any, b: Any) -> tuple[Any, Any]:
    """Promote for an operation whose result is always floating (true division, atan2 …)."""
    a, b = promote(a, b)
    kind = (a._data.dtype if isinstance(a, Tensor) else b._data.dtype).kind
    if kind != "f":
        np_dtype = dtypes.get_default_dtype().numpy
        a, b = _as_operand(a, np_dtype), _as_operand(b, np_dtype)
    return a, b


# ---------------------------------------------------------------------------- binary primitives
class Add(Primitive):
    @staticmethod
    def forward(ctx, x, y):
        return x + y

    @staticmethod
    def backward(ctx, g):  # d(x+y)/dx = d(x+y)/dy = 1
        return g, g


class Sub(Primitive):
    @staticmethod
    def forward(ctx, x, y):
        return x - y

    @staticmethod
    def backward(ctx, g):  # d(x-y)/dx = 1, d(x-y)/dy = -1
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(Primitive):
    @staticmethod
    def forward(ctx, x, y):
        needs = ctx.needs_input_grad
        ctx.save_for_backward(x if needs[1] else None, y if needs[0] else None)
        return x * y

    @staticmethod
    def backward(ctx, g):  # d(xy)/dx = y, d(xy)/dy = x
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        if x is y and x is not None and ctx.inputs[0] is ctx.inputs[1]:
            # a square, x * x: the engine would add g·x to itself; gx + gx is that sum, bit for bit
            # (doubling is exact), for one product and no second gradient to accumulate. The saved
            # arrays are compared first: a local check, where most products stop
            gx = g * x
            if gx.__class__ is np.ndarray:
                gx += gx
                return gx, None
            return gx + gx, None
        return (g * y if need_x else None), (g * x if need_y else None)


class Div(Primitive):
    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, y)
        return x / y

    @staticmethod
    def backward(ctx, g):  # d(x/y)/dx = 1/y, d(x/y)/dy = -x/y²
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        gx = g / y if need_x else None
        gy = -g * x / (y * y) if need_y else None
        return gx, gy


class Pow(Primitive):
    @staticmethod
    def forward(ctx, x, y):
        out = np.power(x, y)
        ctx.save_for_backward(x, y, out)
        return out

    @staticmethod
    def backward(ctx, g):
        # d(x^y)/dx = y x^(y-1), taken as 0 where y = 0 (PyTorch's convention)
        # d(x^y)/dy = x^y ln x, taken as 0 where x = 0 and y >= 0
        x, y, out = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        gx = gy = None
        if need_x:
            gx = g * y * np.power(x, y - 1)
            if not isinstance(y, _SCALARS):
                gx = np.where(y == 0, g * 0, gx)
            elif y == 0:
                gx = g * 0
        if need_y:
            zero_base = x == 0
            gy = np.where(zero_base & (y >= 0), g * 0, g * out * np.log(np.where(zero_base, 1, x)))
        return gx, gy


class Maximum(Primitive):
    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return np.maximum(x, y)

    @staticmethod
    def backward(ctx, g):  # the gradient goes to the larger input; ties split it evenly (as PyTorch)
        x, y = ctx.saved_tensors
        return _split_by_mask(g, x > y, x == y, ctx.needs_input_grad)


class Minimum(Primitive):
    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return np.minimum(x, y)

    @staticmethod
    def backward(ctx, g):  # the gradient goes to the smaller input; ties split it evenly
        x, y = ctx.saved_tensors
        return _split_by_mask(g, x < y, x == y, ctx.needs_input_grad)


def _split_by_mask(g: Any, first: Any, tie: Any, needs: tuple[builtins.bool, ...]) -> tuple[Any, Any]:
    half = g * 0.5
    gx = np.where(first, g, np.where(tie, half, g * 0)) if needs[0] else None
    gy = np.where(first, g * 0, np.where(tie, half, g)) if needs[1] else None
    return gx, gy


class Where(Primitive):
    @staticmethod
    def forward(ctx, condition, x, y):
        ctx.save_for_backward(condition)
        return np.where(condition, x, y)

    @staticmethod
    def backward(ctx, g):  # the gradient flows to whichever input was chosen
        (condition,) = ctx.saved_tensors
        _, need_x, need_y = ctx.needs_input_grad
        zero = g * 0
        return (None, np.where(condition, g, zero) if need_x else None,
                np.where(condition, zero, g) if need_y else None)


# ---------------------------------------------------------------------------- unary primitives
def _unary(name: str, forward: Callable[..., Any], vjp: Callable[..., Any], saves_input: builtins.bool = True,
           doc: str = "") -> type[Primitive]:
    """Make a unary primitive from its forward function and its rule ``vjp(g, x, y)``."""

    # Parameters after x (slopes, bounds …) are read back from ctx.inputs, so nothing else is stored.
    # The common case, no parameters, gets its own short forward and backward: they run on every op.
    if vjp.__code__.co_argcount > 3:
        def fwd(ctx: Any, x: np.ndarray, *params: Any) -> np.ndarray:
            y = forward(x, *params)
            ctx.save_for_backward(x, y)
            return y

        def bwd(ctx: Any, g: Any) -> Any:
            x, y = ctx.saved_tensors
            params = ctx.inputs[1:]
            return (vjp(g, x, y, *params),) + (None,) * len(params)
    elif saves_input:
        def fwd(ctx: Any, x: np.ndarray) -> np.ndarray:
            y = forward(x)
            ctx.save_for_backward(x, y)
            return y

        def bwd(ctx: Any, g: Any) -> Any:
            x, y = ctx.saved_tensors
            return (vjp(g, x, y),)
    else:
        def fwd(ctx: Any, x: np.ndarray) -> np.ndarray:
            y = forward(x)
            ctx.save_for_backward(y)
            return y

        def bwd(ctx: Any, g: Any) -> Any:
            return (vjp(g, None, ctx.saved_tensors[0]),)

    # array_function: the forward on the array alone (no ctx), for callers that record nothing
    return type(name, (Primitive,), {"forward": staticmethod(fwd), "backward": staticmethod(bwd),
                                      "array_function": staticmethod(forward), "__doc__": doc,
                                      "__module__": __name__})


_SQRT_2 = math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # σ(x) = 1 / (1 + e^-x), split by sign so that exp never overflows
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def _softplus(x: np.ndarray, beta: builtins.float, threshold: builtins.float) -> np.ndarray:
    bx = x * beta
    return np.where(bx > threshold, x, np.logaddexp(0, bx) / beta).astype(x.dtype, copy=False)


def _gelu(x: np.ndarray, approximate: str) -> np.ndarray:
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)))
    return (0.5 * x * (1 + _erf_array(x / _SQRT_2))).astype(x.dtype, copy=False)


def _gelu_vjp(g: Any, x: Any, y: Any, approximate: str) -> Any:
    if approximate == "tanh":
        # d/dx ½x(1+tanh u) = ½(1+tanh u) + ½x(1-tanh²u)·u', u = √(2/π)(x + 0.044715x³)
        t = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x ** 3))
        du = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)
    # d/dx xΦ(x) = Φ(x) + x φ(x)
    cdf = 0.5 * (1 + (erf(x / _SQRT_2) if isinstance(x, Tensor) else _erf_array(x / _SQRT_2)))
    return g * (cdf + x * np.exp(-0.5 * x * x) * _INV_SQRT_2PI)


_ZEROS: dict[np.dtype, np.ndarray] = {}
_ONES: dict[np.dtype, np.ndarray] = {}


def _constant_like(x: Any, value: builtins.int, cache: dict[np.dtype, np.ndarray]) -> np.ndarray:
    """A read-only 0-d ``value`` of the dtype of ``x`` (an array or a NumPy scalar, or a tensor in
    a recorded backward): the hot rules below (ReLU, tanh, sigmoid) use it instead of a Python int, which
    NumPy handles 0.3–0.5 µs slower per operation (see :func:`scalar_array`). A cache of its own, one
    entry per dtype: :func:`scalar_array`'s per-value cache costs a call and a lookup more, 1% of a
    batch-1 inference (measured by instruction counts)."""
    np_dtype = x._data.dtype if isinstance(x, Tensor) else x.dtype  # an array or a NumPy scalar
    constant = cache.get(np_dtype)
    if constant is None:
        constant = remember(cache, np_dtype, np.array(value, np_dtype))
    return constant


def _zero(x: Any) -> np.ndarray:
    return _constant_like(x, 0, _ZEROS)


def _one(x: Any) -> np.ndarray:
    return _constant_like(x, 1, _ONES)


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

Erf = _unary("Erf", lambda x: _erf_array(x).astype(x.dtype, copy=False),
             lambda g, x, y: g * _TWO_OVER_SQRT_PI * np.exp(-x * x), doc="erf x; d/dx = 2/√π e^(-x²)")
Neg = _unary("Neg", np.negative, lambda g, x, y: -g, doc="-x; d/dx = -1")
Exp = _unary("Exp", np.exp, lambda g, x, y: g * y, False, "e^x; d/dx e^x = e^x")
Expm1 = _unary("Expm1", np.expm1, lambda g, x, y: g * (y + 1), False, "e^x - 1; d/dx = e^x")
Log = _unary("Log", np.log, lambda g, x, y: g / x, doc="ln x; d/dx ln x = 1/x")
Log1p = _unary("Log1p", np.log1p, lambda g, x, y: g / (x + 1), doc="ln(1+x); d/dx = 1/(1+x)")
Sqrt = _unary("Sqrt", np.sqrt, lambda g, x, y: g / (2 * y), False, "√x; d/dx √x = 1/(2√x)")
Rsqrt = _unary("Rsqrt", lambda x: 1 / np.sqrt(x), lambda g, x, y: -0.5 * g * y * y * y, False,
               "1/√x; d/dx x^-½ = -½ x^-3/2")
Abs = _unary("Abs", np.abs, lambda g, x, y: g * np.sign(x), doc="|x|; d/dx |x| = sign x (0 at 0)")
Sign = _unary("Sign", np.sign, lambda g, x, y: g * 0, False, "sign x; derivative 0")
Sin = _unary("Sin", np.sin, lambda g, x, y: g * np.cos(x), doc="sin x; d/dx = cos x")
Cos = _unary("Cos", np.cos, lambda g, x, y: -g * np.sin(x), doc="cos x; d/dx = -sin x")
Tan = _unary("Tan", np.tan, lambda g, x, y: g * (1 + y * y), False, "tan x; d/dx = 1 + tan² x")
Tanh = _unary("Tanh", np.tanh, lambda g, x, y: g * (_one(y) - y * y), False, "tanh x; d/dx = 1 - tanh² x")
Sigmoid = _unary("Sigmoid", _sigmoid, lambda g, x, y: g * y * (_one(y) - y), False, "σ(x); d/dx σ = σ(1-σ)")
_ZERO_BUFFERS: dict[np.dtype, np.ndarray] = {}  # per dtype, as long as the largest ReLU input so far
_ZERO_VIEWS: dict[tuple[tuple[builtins.int, ...], np.dtype], np.ndarray] = {}  # shaped views of those
_ZERO_VIEWS_KEPT = 64  # shapes (a model has a few; varying sequence lengths would have many)


def _zeros_shaped_like(x: np.ndarray) -> np.ndarray:
    """A read-only array of zeros of the shape and dtype of ``x``: a view of one zero buffer per dtype,
    as long as the largest array asked for so far, so that the memory held is one array's."""
    key = (x.shape, x.dtype)
    zeros = _ZERO_VIEWS.get(key)
    if zeros is None:
        buffer = _ZERO_BUFFERS.get(x.dtype)
        if buffer is None or buffer.size < x.size:
            _ZERO_VIEWS.clear()  # views of a shorter buffer go with it
            buffer = remember(_ZERO_BUFFERS, x.dtype, np.zeros(x.size, x.dtype))
        zeros = remember(_ZERO_VIEWS, key, buffer[:x.size].reshape(x.shape), _ZERO_VIEWS_KEPT)
    return zeros


def relu_array(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``max(x, 0)`` of an array (into ``out`` if given: ``x`` itself for in place). From 1,024 elements
    on, against an array of zeros of ``x``'s shape rather than a 0-d zero: NumPy's maximum vectorises
    only when both operands are arrays, and that is 2-3x faster (one thread, float32: (32, 128) 1.5
    against 2.6 µs, (128, 256) 5.9 against 16.4 µs); below, the lookup costs more than it saves. Both
    give the same bits (NaN stays NaN, -0 gives 0)."""
    return np.maximum(x, _zero(x) if x.size < 1024 else _zeros_shaped_like(x), out=out)


def relu_vjp(g: Any, x: Any) -> Any:
    """The gradient through ``relu``: ``g`` where ``x > 0``, else 0 (``x`` the input or the output,
    alike; arrays, or tensors in a recorded backward)."""
    return g * (x > _zero(x))


Relu = _unary("Relu", relu_array, lambda g, x, y: relu_vjp(g, x),
              doc="max(x, 0); d/dx = [x > 0]")
LeakyRelu = _unary(
    "LeakyRelu", lambda x, slope: np.where(x > 0, x, x * slope),
    lambda g, x, y, slope: np.where(x > 0, g, g * slope), doc="x or slope·x; d/dx = 1 or slope")
Elu = _unary(
    "Elu", lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype, copy=False),
    lambda g, x, y, alpha: np.where(x > 0, g, g * alpha * np.exp(np.minimum(x, 0))),
    doc="x or α(e^x - 1); d/dx = 1 or α e^x")
Silu = _unary("Silu", lambda x: x * _sigmoid(x),
              lambda g, x, y: g * (_sig(x) * (1 + x * (1 - _sig(x)))), doc="x σ(x); d/dx = σ(1 + x(1-σ))")
Softplus = _unary(
    "Softplus", _softplus,
    lambda g, x, y, beta, threshold: np.where(x * beta > threshold, g, g * _sig(x * beta)),
    doc="log(1 + e^(βx))/β; d/dx = σ(βx)")
Gelu = _unary("Gelu", _gelu, _gelu_vjp, doc="x Φ(x) (exact, with erf) or the tanh approximation")
Clamp = _unary(
    "Clamp", lambda x, lo, hi: np.clip(x, lo, hi),
    lambda g, x, y, lo, hi: g * ((x >= (-np.inf if lo is None else lo)) & (x <= (np.inf if hi is None else hi))),
    doc="min(max(x, lo), hi); d/dx = 1 inside [lo, hi] (bounds included, as PyTorch), else 0")


def _sig(x: Any) -> Any:
    """σ(x) on arrays or tensors (used inside rules, so that recorded backward passes work)."""
    return sigmoid(x) if isinstance(x, Tensor) else _sigmoid(x)


class Cast(Primitive):
    @staticmethod
    def forward(ctx, x, np_dtype):
        ctx.source = x.dtype
        return x.astype(np_dtype)

    @staticmethod
    def backward(ctx, g):  # the gradient is cast back to the input's dtype
        return (g.astype(ctx.source) if isinstance(g, np.ndarray) else g.to(ctx.source)), None


# ---------------------------------------------------------------------------- public functions
def add(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """``input + alpha * other`` with broadcasting."""
    if alpha != 1:
        other = mul(other, alpha)
    return Add.apply(*promote(input, other))


def sub(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """``input - alpha * other`` with broadcasting."""
    if alpha != 1:
        other = mul(other, alpha)
    try:
        return Sub.apply(*promote(input, other))
    except TypeError:  # NumPy refuses bool - bool; say what to do instead
        raise ChainruleError(
            "sub: subtraction with a bool tensor is not supported; use ^ or logical_xor() for two "
            "masks, ~mask or logical_not() to invert one, or convert with .int() first") from None


def mul(input: Any, other: Any) -> Tensor:
    """``input * other`` with broadcasting."""
    return Mul.apply(*promote(input, other))


def div(input: Any, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """True division (always floating), or ``'floor'``/``'trunc'`` rounding (no gradient)."""
    if rounding_mode is None:
        return Div.apply(*_float_operands(input, other))
    a, b = promote(input, other)
    ad, bd = _array(a), _array(b)
    if np.result_type(ad, bd) == np.bool_:
        raise ChainruleError(f"div: rounding_mode={rounding_mode!r} is not defined for bool tensors; convert with .int() first")
    if rounding_mode == "floor":
        out = np.floor_divide(ad, bd) if np.result_type(ad, bd).kind in "iu" else np.floor(ad / bd)
    elif rounding_mode == "trunc":
        out = np.trunc(ad / bd).astype(np.result_type(ad, bd), copy=False)
    else:
        raise ChainruleError(f"div: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")
    return _constant(out)


def floor_divide(input: Any, other: Any) -> Tensor:
    """``input // other`` (rounds towards minus infinity; no gradient)."""
    return div(input, other, rounding_mode="floor")


def remainder(input: Any, other: Any) -> Tensor:
    """``input % other`` with the sign of ``other`` (Python's and PyTorch's convention)."""
    a, b = promote(input, other)
    # x mod y = x - floor(x/y)·y: the gradient is 1 for x (and -floor(x/y) for y)
    return sub(a, mul(floor_divide(a, b), b)) if _is_float(a, b) else _constant(np.remainder(_array(a), _array(b)))


def neg(input: Tensor) -> Tensor:
    """``-input``."""
    return Neg.apply(input)


def pow(input: Any, exponent: Any) -> Tensor:  # noqa: A001 - PyTorch's name
    """``input ** exponent`` with broadcasting; either may be a Python number."""
    a, b = promote(input, exponent)
    if isinstance(a, Tensor) and isinstance(b, builtins.int) and a._data.dtype.kind in "iu" and b < 0:
        raise ChainruleError("pow: integers to negative integer powers are not allowed; convert to float first")
    return Pow.apply(a, b)


def _array(value: Any) -> Any:
    return value._data if isinstance(value, Tensor) else value


def _is_float(a: Any, b: Any) -> builtins.bool:
    return np.result_type(_array(a), _array(b)).kind == "f"


def _constant(array: Any) -> Tensor:
    """A tensor of values computed on arrays, outside any operation (no gradient)."""
    from chainrule.tensor import wrap

    recording.refuse("a value computed on arrays outside the recorded operations (rounding, floor division, "
                     "isnan, …)", "compute it after the step from a tensor the step returns")
    return wrap(np.asarray(array))


def _float_input(op: str, x: Tensor) -> Tensor:
    """Integer inputs of floating functions (exp, sqrt …) are computed in the default float dtype."""
    if not isinstance(x, Tensor):
        raise ChainruleError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if x._data.dtype.kind != "f":
        return cast(x, dtypes.get_default_dtype().numpy)
    return x


def exp(input: Tensor) -> Tensor:
    """e to the power of each element."""
    return Exp.apply(_float_input("exp", input))


def expm1(input: Tensor) -> Tensor:
    """``exp(x) - 1``, accurate near 0."""
    return Expm1.apply(_float_input("expm1", input))


def log(input: Tensor) -> Tensor:
    """Natural logarithm."""
    return Log.apply(_float_input("log", input))


def log1p(input: Tensor) -> Tensor:
    """``log(1 + x)``, accurate near 0."""
    return Log1p.apply(_float_input("log1p", input))


def sqrt(input: Tensor) -> Tensor:
    """Square root."""
    return Sqrt.apply(_float_input("sqrt", input))


def rsqrt(input: Tensor) -> Tensor:
    """``1 / sqrt(x)``."""
    return Rsqrt.apply(_float_input("rsqrt", input))


def abs(input: Tensor) -> Tensor:  # noqa: A001
    """Absolute value; its gradient at 0 is 0, as in PyTorch."""
    return Abs.apply(input)


def sign(input: Tensor) -> Tensor:
    """-1, 0 or 1 by the sign of each element (zero gradient)."""
    return Sign.apply(input)


def sin(input: Tensor) -> Tensor:
    """Sine."""
    return Sin.apply(_float_input("sin", input))


def cos(input: Tensor) -> Tensor:
    """Cosine."""
    return Cos.apply(_float_input("cos", input))


def tan(input: Tensor) -> Tensor:
    """Tangent."""
    return Tan.apply(_float_input("tan", input))


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return Tanh.apply(_float_input("tanh", input))


def erf(input: Tensor) -> Tensor:
    """The error function, accurate to float64 precision."""
    return Erf.apply(_float_input("erf", input))


def sigmoid(input: Tensor) -> Tensor:
    """The logistic function ``1 / (1 + exp(-x))``, stable for large ``|x|``."""
    return Sigmoid.apply(_float_input("sigmoid", input))


def relu(input: Tensor, inplace: builtins.bool = False) -> Tensor:
    """``max(x, 0)``; its gradient at 0 is 0, as in PyTorch."""
    return Relu.apply(input)


def leaky_relu(input: Tensor, negative_slope: builtins.float = 0.01, inplace: builtins.bool = False) -> Tensor:
    """``x`` for positive ``x``, else ``negative_slope * x``."""
    return LeakyRelu.apply(input, negative_slope)


def elu(input: Tensor, alpha: builtins.float = 1.0, inplace: builtins.bool = False) -> Tensor:
    """``x`` for positive ``x``, else ``alpha * (exp(x) - 1)``."""
    return Elu.apply(input, alpha)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """``x * Φ(x)`` with the exact normal CDF (erf), or ``approximate='tanh'``."""
    if approximate not in ("none", "tanh"):
        raise ChainruleError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return Gelu.apply(_float_input("gelu", input), approximate)


def silu(input: Tensor, inplace: builtins.bool = False) -> Tensor:
    """``x * sigmoid(x)`` (also called swish)."""
    return Silu.apply(_float_input("silu", input))


def softplus(input: Tensor, beta: builtins.float = 1.0, threshold: builtins.float = 20.0) -> Tensor:
    """``log(1 + exp(beta * x)) / beta``, linear above ``threshold`` (as PyTorch)."""
    return Softplus.apply(_float_input("softplus", input), beta, threshold)


def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Limit every element to ``[min, max]``; either bound may be omitted, or be a tensor."""
    if min is None and max is None:
        raise ChainruleError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = input if min is None else maximum(input, min)
        return out if max is None else minimum(out, max)
    return Clamp.apply(input, min, max)


clip = clamp


def maximum(input: Any, other: Any) -> Tensor:
    """Elementwise maximum; at ties the gradient is split evenly between the inputs."""
    return Maximum.apply(*promote(input, other))


def minimum(input: Any, other: Any) -> Tensor:
    """Elementwise minimum; at ties the gradient is split evenly between the inputs."""
    return Minimum.apply(*promote(input, other))


def where(condition: Any, input: Any = None, other: Any = None) -> Any:
    """Choose ``input`` where ``condition`` holds, else ``other`` (both broadcast)."""
    if input is None and other is None:
        from chainrule.ops.index import nonzero

        return nonzero(condition, as_tuple=True)
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise ChainruleError(f"where: condition must be a bool tensor, got dtype {cond.dtype}")
    return Where.apply(cond, *promote(input, other))


def cast(input: Tensor, np_dtype: Any) -> Tensor:
    """Convert to another dtype; the gradient is converted back."""
    return Cast.apply(input, np.dtype(np_dtype))


# ---------------------------------------------------------------------------- no-gradient functions
def _compare(ufunc: np.ufunc) -> Callable[[Any, Any], Tensor]:
    def compare(input: Any, other: Any) -> Tensor:
        a, b = promote(input, other)
        return _constant(ufunc(_array(a), _array(b)))

    compare.__name__ = ufunc.__name__
    compare.__doc__ = f"Elementwise ``{ufunc.__name__}`` as a bool tensor (no gradient)."
    return replayed_call(compare)  # computed on arrays: a compiled step replays the call


eq = _compare(np.equal)
ne = _compare(np.not_equal)
lt = _compare(np.less)
le = _compare(np.less_equal)
gt = _compare(np.greater)
ge = _compare(np.greater_equal)
logical_and = _compare(np.logical_and)
logical_or = _compare(np.logical_or)
logical_xor = _compare(np.logical_xor)
bitwise_and = _compare(np.bitwise_and)
bitwise_or = _compare(np.bitwise_or)
bitwise_xor = _compare(np.bitwise_xor)


def logical_not(input: Tensor) -> Tensor:
    """Elementwise logical not (no gradient)."""
    return _constant(np.logical_not(input._data))


def bitwise_not(input: Tensor) -> Tensor:
    """``~x``: logical not for bool tensors, bitwise for integers (no gradient)."""
    if input._data.dtype.kind == "f":
        raise ChainruleError("bitwise_not: not defined for floating tensors; use logical_not")
    return _constant(np.invert(input._data))


def isnan(input: Tensor) -> Tensor:
    """Where the elements are NaN."""
    return _constant(np.isnan(input._data))


def isinf(input: Tensor) -> Tensor:
    """Where the elements are infinite."""
    return _constant(np.isinf(input._data))


def isfinite(input: Tensor) -> Tensor:
    """Where the elements are finite."""
    return _constant(np.isfinite(input._data))


def floor(input: Tensor) -> Tensor:
    """Round down (zero gradient, as PyTorch)."""
    return _rounding(np.floor, input)


def ceil(input: Tensor) -> Tensor:
    """Round up (zero gradient)."""
    return _rounding(np.ceil, input)


def round(input: Tensor, decimals: builtins.int = 0) -> Tensor:  # noqa: A001
    """Round half to even (zero gradient)."""
    return _rounding(lambda x: np.round(x, decimals), input)


def trunc(input: Tensor) -> Tensor:
    """Round towards zero (zero gradient)."""
    return _rounding(np.trunc, input)


def _rounding(fn: Callable[[np.ndarray], np.ndarray], input: Tensor) -> Tensor:
    # x ↦ round(x) is piecewise constant: the gradient is 0 (x - x.detach() keeps the graph)
    out = _constant(fn(input._data))
    return add(out, mul(input, 0)) if input.requires_grad else out


def square(input: Tensor) -> Tensor:
    """``x * x``."""
    return mul(input, input)


def reciprocal(input: Tensor) -> Tensor:
    """``1 / x``."""
    return div(1.0, input)


# ---------------------------------------------------------------------------- Tensor methods, NumPy dispatch
def _reflected(fn: Callable[[Any, Any], Tensor]) -> Callable[[Tensor, Any], Tensor]:
    def method(self: Tensor, other: Any) -> Tensor:
        return fn(other, self)

    method.__name__ = f"r{fn.__name__}"
    return method


def _tensor_where(self: Tensor, condition: Any, other: Any) -> Tensor:
    """``x.where(condition, y)``: ``x`` where ``condition`` holds, else ``y``."""
    return where(condition, self, other)


def _numpy_where(condition: Any, x: Any = None, y: Any = None) -> Any:
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    return where(cond, x, y)


def _clip_method(self: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    return clamp(self, min, max)


def _numpy_clip(a: Tensor, a_min: Any = None, a_max: Any = None, **kwargs: Any) -> Tensor:
    return clamp(a, kwargs.get("min", a_min), kwargs.get("max", a_max))


_UNARY = (neg, exp, expm1, log, log1p, sqrt, rsqrt, abs, sign, sin, cos, tan, tanh, sigmoid, relu,
          leaky_relu, elu, gelu, silu, softplus, erf, floor, ceil, round, trunc, square, reciprocal,
          logical_not, bitwise_not, isnan, isinf, isfinite)
_BINARY = (add, sub, mul, div, pow, maximum, minimum, floor_divide, remainder, eq, ne, lt, le, gt, ge,
           logical_and, logical_or, logical_xor, bitwise_and, bitwise_or, bitwise_xor)

TENSOR_METHODS: dict[str, Callable[..., Any]] = {fn.__name__: fn for fn in _UNARY + _BINARY}
TENSOR_METHODS.update({
    "__add__": add, "__radd__": add, "__sub__": sub, "__rsub__": _reflected(sub),
    "__mul__": mul, "__rmul__": mul, "__truediv__": div, "__rtruediv__": _reflected(div),
    "__floordiv__": floor_divide, "__rfloordiv__": _reflected(floor_divide),
    "__mod__": remainder, "__rmod__": _reflected(remainder),
    "__pow__": pow, "__rpow__": _reflected(pow), "__neg__": neg, "__abs__": abs,
    "__pos__": lambda self: self,
    "__eq__": eq, "__ne__": ne, "__lt__": lt, "__le__": le, "__gt__": gt, "__ge__": ge,
    "__and__": bitwise_and, "__rand__": bitwise_and, "__or__": bitwise_or, "__ror__": bitwise_or,
    "__xor__": bitwise_xor, "__rxor__": bitwise_xor, "__invert__": bitwise_not,
    "subtract": sub, "multiply": mul, "divide": div, "true_divide": div, "negative": neg,
    "greater": gt, "less": lt, "greater_equal": ge, "less_equal": le, "not_equal": ne,
    "clamp": clamp, "clip": _clip_method, "where": _tensor_where, "absolute": abs,
})

NUMPY_UFUNCS: dict[np.ufunc, Callable[..., Any]] = {
    np.add: add, np.subtract: sub, np.multiply: mul, np.true_divide: div, np.negative: neg,
    np.power: pow, np.exp: exp, np.expm1: expm1, np.log: log, np.log1p: log1p, np.sqrt: sqrt,
    np.absolute: abs, np.sign: sign, np.sin: sin, np.cos: cos, np.tan: tan, np.tanh: tanh,
    np.maximum: maximum, np.minimum: minimum, np.floor_divide: floor_divide, np.remainder: remainder,
    np.equal: eq, np.not_equal: ne, np.less: lt, np.less_equal: le, np.greater: gt,
    np.greater_equal: ge, np.logical_and: logical_and, np.logical_or: logical_or,
    np.logical_xor: logical_xor, np.logical_not: logical_not, np.bitwise_and: bitwise_and,
    np.bitwise_or: bitwise_or, np.bitwise_xor: bitwise_xor, np.invert: bitwise_not,
    np.isnan: isnan, np.isinf: isinf, np.isfinite: isfinite, np.floor: floor, np.ceil: ceil,
    np.trunc: trunc, np.square: square, np.reciprocal: reciprocal,
}
NUMPY_FUNCTIONS: dict[Any, Callable[..., Any]] = {np.where: _numpy_where, np.clip: _numpy_clip}
