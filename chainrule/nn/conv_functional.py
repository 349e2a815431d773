"""Convolutions of ``chainrule.nn.functional``: ``conv1d``, ``conv2d`` and ``conv_transpose2d``.

PyTorch's signatures, defaults and channels-first layout (``(N, C, L)``, ``(N, C, H, W)``, or the
same without the batch dimension). These functions normalise the arguments (ints or tuples,
``padding='same'``/``'valid'``), check shapes and dtypes, and apply the primitives of
:mod:`chainrule.ops.conv`, which run a 1-d convolution as the 2-d one with ``H = 1``.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import numpy as np

from chainrule.errors import ChainruleError
from chainrule.ops.conv import Conv, ConvInputGrad, Geometry, output_size
from chainrule.tensor import Tensor

__all__ = ["conv1d", "conv2d", "conv_transpose2d"]

IntOrTuple = int | Sequence[int]
_LAYOUT = {1: ("L",), 2: ("H", "W")}


def _is_int(value: Any) -> bool:
    return type(value) is int or (isinstance(value, (int, np.integer)) and not isinstance(value, bool))


def as_tuple(op: str, name: str, value: Any, n: int) -> tuple[int, ...]:
    """``value`` (an int or a tuple/list of ``n`` ints, NumPy's included) as a tuple of ``n`` ints;
    shared by the convolution and pooling arguments."""
    if type(value) is int:  # the common case, at the cost of one test
        return (value,) * n
    values = value if isinstance(value, (tuple, list)) else (value,) * n
    if len(values) == n and all([_is_int(v) for v in values]):
        return tuple(map(int, values))
    raise ChainruleError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")


def _positive(op: str, name: str, values: tuple[int, ...], minimum: int = 1) -> tuple[int, ...]:
    if min(values) < minimum:
        raise ChainruleError(f"{op}: {name} must be at least {minimum} in every dimension, got {values}")
    return values


def resolve_padding(op: str, padding: Any, kernel: tuple[int, ...], stride: tuple[int, ...],
             dilation: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """``(before, after)`` per spatial dimension. ``'same'`` pads ``dilation·(kernel-1)`` in all, the
    odd one after (as PyTorch); ``'valid'`` pads nothing."""
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding != "same":
            raise ChainruleError(f"{op}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
        if any(s != 1 for s in stride):
            raise ChainruleError(f"{op}: padding='same' is not supported for strided convolutions (stride="
                                 f"{stride}); use stride=1, or give the padding as numbers")
        totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
        return tuple((t // 2, t - t // 2) for t in totals)
    pads = _positive(op, "padding", as_tuple(op, "padding", padding, n), 0)
    return tuple((p, p) for p in pads)


def _describe(t: Any) -> str:
    return f"shape {tuple(t.shape)} ({t.dtype})" if isinstance(t, Tensor) else type(t).__name__


def _check_tensors(op: str, input: Any, weight: Any, bias: Any) -> None:
    """The argument types and dtypes (input, weight and bias alike); the shapes are checked apart
    (:func:`_check_weight`, :func:`_batched`), in :func:`_geometry`'s cache for a convolution."""
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor) or not (
            bias is None or isinstance(bias, Tensor)):
        raise ChainruleError(f"{op}: expected tensors, got input {_describe(input)}, weight {_describe(weight)}, "
                             f"bias {_describe(bias)}")
    dtype = input._data.dtype
    if dtype.kind != "f" or weight._data.dtype != dtype or (bias is not None and bias._data.dtype != dtype):
        raise ChainruleError(f"{op}: input, weight and bias must have the same floating dtype, got input "
                             f"{_describe(input)}, weight {_describe(weight)}, bias {_describe(bias)}; convert "
                             "the input (x.float() / x.double()) or the model (model.to(dtype))")


def _check_weight(op: str, weight_shape: tuple[int, ...], bias_shape: tuple[int, ...] | None, spatial: int,
                  transposed: bool = False) -> None:
    """The weight's rank and, for a convolution, the bias's shape ``(out_channels,)``."""
    if len(weight_shape) != spatial + 2:
        channels = "in_channels, out_channels/groups" if transposed else "out_channels, in_channels/groups"
        raise ChainruleError(f"{op}: expected a weight with {spatial + 2} dimensions ({channels}, "
                             f"{', '.join('k' + s for s in _LAYOUT[spatial])}), got shape {weight_shape}")
    if bias_shape is not None and bias_shape != weight_shape[:1] and not transposed:
        raise ChainruleError(f"{op}: expected a bias of shape ({weight_shape[0]},), got shape {bias_shape}")


def _batched(op: str, shape: tuple[int, ...], channels: int, spatial: int, groups: int) -> bool:
    """Check that an input of ``shape`` is ``(N, channels, *spatial)`` or ``(channels, *spatial)``; True
    if batched."""
    ndim = len(shape)
    if ndim in (spatial + 1, spatial + 2) and shape[-spatial - 1] == channels:
        return ndim == spatial + 2
    dims = ", ".join(_LAYOUT[spatial])
    message = (f"{op}: expected input of shape (N, {channels}, {dims}) or ({channels}, {dims}) (channels first, "
               f"N{'C' + ''.join(_LAYOUT[spatial])}), got {shape}")
    if groups > 1:
        message += f" ({channels} channels for the weight's {channels // groups} per group times groups={groups})"
    if ndim in (spatial + 1, spatial + 2) and shape[-1] == channels:
        batch = (0,) if ndim == spatial + 2 else ()
        b = len(batch)
        order = batch + (b + spatial,) + tuple(range(b, b + spatial))
        message += (f"; if your data is channels last (N{''.join(_LAYOUT[spatial])}C), use "
                    f"x.permute{order}")
    raise ChainruleError(message)


def _too_small(op: str, size: tuple[int, ...], pads: tuple[tuple[int, int], ...], kernel: tuple[int, ...],
               dilation: tuple[int, ...]) -> ChainruleError:
    return ChainruleError(
        f"{op}: the kernel {kernel} (dilation {dilation}, so spanning "
        f"{tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))}) is larger than the padded input "
        f"{tuple(s + a + b for s, (a, b) in zip(size, pads))} (input {size}, padding {pads}); use a smaller "
        "kernel or dilation, more padding, or a larger input")


def _groups(op: str, groups: Any, weight_shape: tuple[int, ...]) -> int:
    """Check that ``groups`` divides the weight's first dimension (the channels split into groups)."""
    if not isinstance(groups, int) or isinstance(groups, bool) or groups < 1 or weight_shape[0] % groups:
        raise ChainruleError(f"{op}: groups must be a positive int that divides the weight's first dimension "
                             f"(shape {weight_shape}), got groups={groups!r}")
    return groups


def _batch(t: Tensor, batched: bool) -> Tensor:
    """``t`` with a batch dimension (a view)."""
    return t if batched else t.reshape((1,) + tuple(t.shape))


def _unbatch(y: Tensor, batched: bool) -> Tensor:
    """Undo :func:`_batch` on the output."""
    return y if batched else y.reshape(tuple(y.shape)[1:])


def _plane(values: tuple[Any, ...], spatial: int, one: Any) -> tuple[Any, ...]:
    """A 1-d argument as the 2-d one with the ``H`` axis trivial."""
    return values if spatial == 2 else (one,) + values


def cached_checks(checks: Any, *args: Any) -> Any:
    """``checks(*args)`` through its ``functools.lru_cache``, or uncached when an argument is unhashable
    (a list): the argument checks of a layer, which calls with the same arguments every time."""
    try:
        return checks(*args)
    except TypeError:  # an unhashable argument (or the checks' own TypeError, raised again uncached)
        return checks.__wrapped__(*args)


@functools.lru_cache(maxsize=256, typed=True)
def _geometry(op: str, spatial: int, in_shape: tuple[int, ...], weight_shape: tuple[int, ...],
              bias_shape: tuple[int, ...] | None, stride: Any, padding: Any, dilation: Any,
              groups: Any) -> tuple[Geometry, bool]:
    """Check the shapes and the geometry arguments of a convolution, and return the primitive's
    ``geom`` (2-d) and whether the input is batched.

    Cached: a layer calls with the same shapes and arguments every time, and these checks take 7 µs
    uncached against 0.2 µs cached (measured on conv2 of the LeNet of ``benchmarks/train_cnn.py``,
    whose batch-1 forward takes about 50 µs in all). Unhashable arguments (lists) are checked uncached;
    ``typed=True`` keeps ``stride=True`` or ``1.0`` from reusing the entry of ``stride=1`` (and so being
    accepted).
    """
    _check_weight(op, weight_shape, bias_shape, spatial)
    kernel = weight_shape[2:]
    groups = _groups(op, groups, weight_shape)
    batched = _batched(op, in_shape, weight_shape[1] * groups, spatial, groups)
    stride = _positive(op, "stride", as_tuple(op, "stride", stride, spatial))
    dilation = _positive(op, "dilation", as_tuple(op, "dilation", dilation, spatial))
    pads = resolve_padding(op, padding, kernel, stride, dilation)
    size = in_shape[-spatial:]
    if any(output_size(s, k, 1, a + b, d) < 1 for s, k, (a, b), d in zip(size, kernel, pads, dilation)):
        raise _too_small(op, size, pads, kernel, dilation)
    geom: Geometry = (_plane(stride, spatial, 1), _plane(pads, spatial, (0, 0)), _plane(dilation, spatial, 1),
                      groups)
    return geom, batched


def convolution(op: str, spatial: int, input: Tensor, weight: Tensor, bias: Tensor | None, stride: IntOrTuple,
                padding: IntOrTuple | str, dilation: IntOrTuple, groups: int) -> Tensor:
    """The 1-d or 2-d convolution behind ``conv1d``/``conv2d`` and the layers; ``op`` names the
    caller in errors."""
    _check_tensors(op, input, weight, bias)
    geom, batched = cached_checks(_geometry, op, spatial, input._data.shape, weight._data.shape,
                                  None if bias is None else bias._data.shape, stride, padding, dilation, groups)
    return _unbatch(Conv.apply(_batch(input, batched), weight, bias, geom), batched)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntOrTuple = 1,
           padding: IntOrTuple | str = 0, dilation: IntOrTuple = 1, groups: int = 1) -> Tensor:
    """1-d convolution (cross-correlation) of ``input`` ``(N, C_in, L)`` or ``(C_in, L)`` with ``weight``
    ``(C_out, C_in/groups, K)``: ``y[n, o, l] = b[o] + Σ_(c, k) w[o, c, k] · x_pad[n, c, l·stride + k·dilation]``
    (``c`` over the channels of ``o``'s group). ``padding`` is an int, ``'valid'`` (0) or ``'same'``
    (output length = input length; stride 1 only)."""
    return convolution("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntOrTuple = 1,
           padding: IntOrTuple | str = 0, dilation: IntOrTuple = 1, groups: int = 1) -> Tensor:
    """2-d convolution (cross-correlation) of ``input`` ``(N, C_in, H, W)`` or ``(C_in, H, W)`` with
    ``weight`` ``(C_out, C_in/groups, KH, KW)``:
    ``y[n, o, p, q] = b[o] + Σ_(c, i, j) w[o, c, i, j] · x_pad[n, c, p·sh + i·dh, q·sw + j·dw]``
    (``c`` over the channels of ``o``'s group). ``d/dx`` is the transposed convolution of the output
    gradient with ``w``; ``d/dw`` correlates the input with the output gradient; ``d/db`` sums it.
    ``padding`` is an int, a pair, ``'valid'`` (0) or ``'same'`` (output size = input size, stride 1)."""
    return convolution("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def transposed_output_size(size: Sequence[int], stride: Sequence[int], padding: Sequence[int],
                           dilation: Sequence[int], kernel: Sequence[int],
                           output_padding: Sequence[int] = (0, 0)) -> tuple[int, ...]:
    """The inverse of the convolution's output size, per dimension:
    ``(in - 1)·stride - 2·padding + dilation·(kernel - 1) + output_padding + 1``."""
    return tuple((s - 1) * st - 2 * p + d * (k - 1) + e + 1
                 for s, st, p, d, k, e in zip(size, stride, padding, dilation, kernel, output_padding))


def transposed_convolution(op: str, input: Tensor, weight: Tensor, bias: Tensor | None, stride: IntOrTuple,
                           padding: IntOrTuple, output_padding: IntOrTuple, groups: int,
                           dilation: IntOrTuple) -> Tensor:
    """The 2-d transposed convolution behind ``conv_transpose2d`` and ``ConvTranspose2d``; ``op`` names
    the caller in errors."""
    _check_tensors(op, input, weight, bias)
    _check_weight(op, weight._data.shape, None, 2, transposed=True)
    groups = _groups(op, groups, weight._data.shape)
    if bias is not None and bias.shape != (weight.shape[1] * groups,):
        raise ChainruleError(f"{op}: expected a bias of shape ({weight.shape[1] * groups},) (out_channels), got "
                             f"{_describe(bias)}")
    batched = _batched(op, input._data.shape, weight.shape[0], 2, 1)
    stride = _positive(op, "stride", as_tuple(op, "stride", stride, 2))
    dilation = _positive(op, "dilation", as_tuple(op, "dilation", dilation, 2))
    if isinstance(padding, str):
        raise ChainruleError(f"{op}: padding must be an int or a tuple of 2 ints, got {padding!r} (strings are "
                             "for convolutions only)")
    pads = _positive(op, "padding", as_tuple(op, "padding", padding, 2), 0)
    extra = _positive(op, "output_padding", as_tuple(op, "output_padding", output_padding, 2), 0)
    if any(e >= s and e >= d for e, s, d in zip(extra, stride, dilation)):
        raise ChainruleError(f"{op}: output_padding {extra} must be smaller than either stride {stride} or "
                             f"dilation {dilation} in every dimension")
    size = tuple(input.shape[-2:])
    kernel = tuple(weight.shape[2:])
    out = transposed_output_size(size, stride, pads, dilation, kernel, extra)
    if min(out) < 1:
        raise ChainruleError(f"{op}: the output size {out} would not be positive (input {size}, kernel {kernel}, "
                             f"stride {stride}, padding {pads}, dilation {dilation}); reduce the padding")
    geom: Geometry = (stride, tuple((p, p) for p in pads), dilation, groups)
    return _unbatch(ConvInputGrad.apply(_batch(input, batched), weight, bias, geom, out), batched)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntOrTuple = 1,
                     padding: IntOrTuple = 0, output_padding: IntOrTuple = 0, groups: int = 1,
                     dilation: IntOrTuple = 1) -> Tensor:
    """2-d transposed convolution ("deconvolution", the gradient of ``conv2d`` in its input) of
    ``input`` ``(N, C_in, H, W)`` or ``(C_in, H, W)`` with ``weight`` ``(C_in, C_out/groups, KH, KW)``:
    ``y[n, o, p·sh + i·dh - ph, q·sw + j·dw - pw] += Σ_c x[n, c, p, q] · w[c, o, i, j]`` (plus ``b[o]``),
    of size ``(H - 1)·sh - 2·ph + dh·(KH - 1) + output_padding + 1`` (likewise in W)."""
    return transposed_convolution("conv_transpose2d", input, weight, bias, stride, padding, output_padding,
                                  groups, dilation)
