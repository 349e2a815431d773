"""Pooling, nearest-neighbour upsampling and channel dropout (part of ``chainrule.nn.functional``).

All work on channels-first inputs, as PyTorch does: ``(N, C, H, W)`` or unbatched ``(C, H, W)`` for
the 2-d functions, ``(N, C, L)`` or ``(C, L)`` for the 1-d ones. Max and average pooling are the
primitives of :mod:`chainrule.ops.pooling`; adaptive average pooling and ``interpolate`` are
compositions of existing differentiable operations (average pooling, matmul, expand, indexing).
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any, Sequence

import numpy as np

from chainrule.errors import ChainruleError
from chainrule.nn.conv_functional import as_tuple, cached_checks
from chainrule.nn.functional import _apply_dropout_mask, _check_probability
from chainrule.ops.pooling import AvgPool2d, AvgScatter, MaxPool2d, Window
from chainrule.tensor import Tensor, wrap

__all__ = ["max_pool1d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "interpolate", "dropout2d"]

IntOrPair = int | Sequence[int]


def _spatial(op: str, input: Tensor, dims: int) -> tuple[int, ...]:
    """Check that ``input`` is channels-first with ``dims`` spatial dimensions, batched or not."""
    shape = tuple(input._data.shape)
    if len(shape) not in (dims + 1, dims + 2):
        layout = "(N, C, H, W) or (C, H, W)" if dims == 2 else "(N, C, L) or (C, L)"
        raise ChainruleError(f"{op}: expected an input of shape {layout} (channels first), got {shape}")
    return shape


def _stride(op: str, stride: Any, kernel: tuple[int, ...]) -> tuple[int, ...]:
    """``stride`` as a tuple like ``kernel``; ``None`` (or ``[]``) means the kernel size, as in PyTorch."""
    return kernel if stride is None or stride == [] else as_tuple(op, "stride", stride, len(kernel))


@functools.lru_cache(maxsize=256)
def _window(op: str, shape: tuple[int, ...], kernel: tuple[int, int], stride: tuple[int, int],
            padding: tuple[int, int], dilation: tuple[int, int], ceil_mode: bool) -> Window:
    """The pooling geometry for an input of ``shape``, with PyTorch's output size and checks."""
    if min(kernel) <= 0 or min(stride) <= 0 or min(dilation) <= 0 or min(padding) < 0:
        raise ChainruleError(f"{op}: kernel_size, stride and dilation must be positive and padding non-negative, "
                             f"got kernel_size={kernel}, stride={stride}, padding={padding}, dilation={dilation}")
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise ChainruleError(f"{op}: padding must be at most half the kernel size, got padding={padding} for "
                             f"kernel_size={kernel}; use a larger kernel or pad the input first with F.pad")
    out = []
    for size, k, s, p, d in zip(shape[-2:], kernel, stride, padding, dilation):
        # (size + 2p - d(k-1) - 1) / s + 1, rounded down (or up with ceil_mode, but the last
        # window must start inside the input or its left padding)
        n = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (n - 1) * s >= size + p:
            n -= 1
        out.append(n)
    if min(out) < 1:
        hint = ""
        if len(shape) == 4 and shape[-1] <= 4 < shape[1]:
            hint = (f"; the input looks channels-last (NHWC): use x.permute(0, 3, 1, 2) to make it "
                    f"(N, C, H, W) = {(shape[0], shape[3], shape[1], shape[2])}")
        raise ChainruleError(
            f"{op}: the input of shape {shape} is too small for kernel_size={kernel}, padding={padding}, "
            f"dilation={dilation}: the output size would be {tuple(out)}. Its spatial (last) dimensions must be "
            f"at least the dilated kernel size, less twice the padding{hint}")
    return Window(kernel, stride, padding, dilation, (out[0], out[1]))


@functools.lru_cache(maxsize=256, typed=True)
def _window2d(op: str, shape: tuple[int, ...], kernel_size: Any, stride: Any, padding: Any, dilation: Any,
              ceil_mode: Any) -> Window:
    """:func:`_window` from the pooling arguments as given (ints or pairs). Cached on them too: turning
    them into pairs and the window's checks cost 2–3 µs a call uncached (measured), a fifth of a batch-1
    2×2 max pooling in the LeNet. ``typed=True``: ``kernel_size=True`` must not reuse the entry of 1."""
    kernel = as_tuple(op, "kernel_size", kernel_size, 2)
    return _window(op, shape, kernel, _stride(op, stride, kernel), as_tuple(op, "padding", padding, 2),
                   as_tuple(op, "dilation", dilation, 2), bool(ceil_mode))


def max_pool2d(input: Tensor, kernel_size: IntOrPair, stride: IntOrPair | None = None, padding: IntOrPair = 0,
               dilation: IntOrPair = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """The maximum over each ``kernel_size`` window of ``(N, C, H, W)`` or ``(C, H, W)``, moved by
    ``stride`` (default: the kernel size) over the input padded with ``-inf``; ``dilation`` spaces the
    window's elements. ``return_indices=True`` also returns each maximum's flat position ``h·W + w``
    in its input plane (int64), as :func:`torch.nn.functional.max_pool2d` does.

    The gradient goes to the (first) maximum of each window: ``d max(window)/dx = 1`` there, 0 elsewhere.
    """
    win = cached_checks(_window2d, "max_pool2d", _spatial("max_pool2d", input, 2), kernel_size, stride, padding,
                        dilation, ceil_mode)
    return MaxPool2d.apply(input, win, bool(return_indices))


def max_pool1d(input: Tensor, kernel_size: IntOrPair, stride: IntOrPair | None = None, padding: IntOrPair = 0,
               dilation: IntOrPair = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """The maximum over each window of ``(N, C, L)`` or ``(C, L)`` (see :func:`max_pool2d`; the
    indices are positions along ``L``)."""
    op = "max_pool1d"
    _spatial(op, input, 1)
    x = input.unsqueeze(-2)  # pool (…, 1, L) with a (1, k) window
    kernel = as_tuple(op, "kernel_size", kernel_size, 1)
    win = _window(op, tuple(x._data.shape), (1,) + kernel, (1,) + _stride(op, stride, kernel),
                  (0,) + as_tuple(op, "padding", padding, 1), (1,) + as_tuple(op, "dilation", dilation, 1),
                  bool(ceil_mode))
    out = MaxPool2d.apply(x, win, bool(return_indices))
    if return_indices:
        return out[0].squeeze(-2), out[1].squeeze(-2)
    return out.squeeze(-2)


@functools.lru_cache(maxsize=256)
def _avg_scale(win: Window, h: int, w: int, count_include_pad: bool, divisor_override: int | None,
               dtype: np.dtype) -> Any:
    """``1 / divisor`` for each output of average pooling, as PyTorch counts it: the window's size
    clipped to the padded input (``count_include_pad``) or to the input itself; a scalar when all agree."""
    if divisor_override is not None:
        return dtype.type(1 / divisor_override)
    counts = []
    for size, k, s, p, o in zip((h, w), win.kernel, win.stride, win.padding, win.out):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, size + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, size)
        counts.append(end - start)
    divisor = counts[0][:, None] * counts[1]
    if (divisor == divisor.flat[0]).all():
        return dtype.type(1 / divisor.flat[0])
    return (1 / divisor).astype(dtype)


def avg_pool2d(input: Tensor, kernel_size: IntOrPair, stride: IntOrPair | None = None, padding: IntOrPair = 0,
               ceil_mode: bool = False, count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """The mean over each ``kernel_size`` window of ``(N, C, H, W)`` or ``(C, H, W)``, moved by ``stride``
    (default: the kernel size) over the zero-padded input. The divisor counts the padding when
    ``count_include_pad`` (PyTorch's default), only the input's elements otherwise, and is
    ``divisor_override`` when given. ``d/dx`` spreads each output's gradient ``/ divisor`` over its window."""
    op = "avg_pool2d"
    shape = _spatial(op, input, 2)
    if divisor_override is not None and (not isinstance(divisor_override, (int, np.integer)) or divisor_override == 0):
        raise ChainruleError(f"{op}: divisor_override must be a non-zero int, got {divisor_override!r}")
    win = cached_checks(_window2d, op, shape, kernel_size, stride, padding, 1, ceil_mode)
    scale = _avg_scale(win, shape[-2], shape[-1], bool(count_include_pad), divisor_override, input._data.dtype)
    return AvgPool2d.apply(input, win, scale)


@functools.lru_cache(maxsize=64)
def _adaptive_matrix(size: int, out: int, dtype: np.dtype) -> np.ndarray:
    """The ``(out, size)`` averaging matrix of adaptive pooling: row ``i`` averages PyTorch's window
    ``[floor(i·size/out), ceil((i+1)·size/out))``."""
    i = np.arange(out)
    start = i * size // out
    end = -(-(i + 1) * size // out)
    cols = np.arange(size)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def adaptive_avg_pool2d(input: Tensor, output_size: int | None | Sequence[int | None]) -> Tensor:
    """Average pooling to a fixed output size ``(OH, OW)`` (``None`` keeps that input size), whatever
    the input size: output ``i`` averages rows ``floor(i·H/OH)`` to ``ceil((i+1)·H/OH) - 1`` (windows
    may overlap when OH does not divide H), and likewise along W."""
    op = "adaptive_avg_pool2d"
    shape = _spatial(op, input, 2)
    sizes = (output_size, output_size) if output_size is None or isinstance(output_size, (int, np.integer)) \
        else tuple(output_size)
    if len(sizes) != 2 or not all(s is None or (isinstance(s, (int, np.integer)) and s > 0) for s in sizes):
        raise ChainruleError(f"{op}: output_size must be a positive int or a pair of positive ints (or None to keep "
                             f"that size), got {output_size!r}")
    (h, w), dtype = shape[-2:], input._data.dtype
    oh, ow = (h if sizes[0] is None else int(sizes[0])), (w if sizes[1] is None else int(sizes[1]))
    if min(h, w) == 0:
        raise ChainruleError(f"{op}: the input of shape {shape} has an empty spatial dimension")
    if (oh, ow) == (1, 1):  # global average pooling: one contiguous reduction
        return input.mean((-2, -1), keepdim=True)
    if h % oh == 0 and w % ow == 0 and (h // oh) * (w // ow) <= 16:
        # small equal windows that tile the input: plain average pooling (a pass per window element)
        kernel = (h // oh, w // ow)
        win = Window(kernel, kernel, (0, 0), (1, 1), (oh, ow))
        return AvgPool2d.apply(input, win, dtype.type(1 / (kernel[0] * kernel[1])))
    # y = A_h · x · A_wᵀ with the averaging matrices (linear, so differentiable by matmul's rules)
    x = input if ow == w else input @ wrap(_adaptive_matrix(w, ow, dtype).T)
    return x if oh == h else wrap(_adaptive_matrix(h, oh, dtype)) @ x


# ---------------------------------------------------------------------------- interpolate
@functools.lru_cache(maxsize=64)
def _nearest_source(size: int, out: int, scale_factor: float | None) -> tuple[np.ndarray, int | None]:
    """PyTorch's nearest-neighbour source index for each output index, ``floor(i · scale)`` computed in
    float32 with ``scale = 1 / scale_factor`` when one was given, else ``size / out``; and the repeat
    count when that is every input index repeated equally often (``None`` otherwise)."""
    if out == size:
        source = np.arange(out)
    elif out == 2 * size:
        source = np.arange(out) >> 1
    else:
        scale = np.float32(1.0 / scale_factor) if scale_factor else np.float32(size) / np.float32(out)
        source = np.minimum(np.floor(np.arange(out, dtype=np.float32) * scale).astype(np.int64), size - 1)
    whole = out % size == 0 and np.array_equal(source, np.arange(out) // (out // size))
    return source, (out // size if whole else None)


_MATMUL_MAX = 256  # up to this input size, an uneven resize is a matmul (BLAS) rather than indexing


@functools.lru_cache(maxsize=64)
def _selection_matrix(size: int, out: int, scale_factor: float | None, dtype: np.dtype) -> np.ndarray:
    """The ``(out, size)`` 0/1 matrix whose row ``i`` picks the nearest-neighbour source of output ``i``."""
    source, _ = _nearest_source(size, out, scale_factor)
    matrix = np.zeros((out, size), dtype)
    matrix[np.arange(out), source] = 1
    return matrix


def interpolate(input: Tensor, size: int | Sequence[int] | None = None,
                scale_factor: float | Sequence[float] | None = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize ``(N, C, L)`` or ``(N, C, H, W)`` to ``size``, or by ``scale_factor`` (output size
    ``floor(input size · scale_factor)``), with nearest-neighbour sampling (the only ``mode``
    supported): output ``i`` copies input ``floor(i · scale)``, exactly PyTorch's ``'nearest'``.
    ``d/dx``: each input element receives the sum of the gradients of its copies."""
    op = "interpolate"
    if mode != "nearest":
        raise ChainruleError(f"{op}: mode={mode!r} is not supported; only mode='nearest' is implemented")
    if align_corners is not None or antialias:
        raise ChainruleError(f"{op}: align_corners and antialias are not used with mode='nearest'; leave them unset")
    shape = tuple(input._data.shape)
    dims = len(shape) - 2
    if dims not in (1, 2):
        raise ChainruleError(f"{op}: expected a 3-d (N, C, L) or 4-d (N, C, H, W) input, got shape {shape}")
    spatial = shape[2:]
    if (size is None) == (scale_factor is None):
        raise ChainruleError(f"{op}: give exactly one of size and scale_factor, got size={size!r}, "
                             f"scale_factor={scale_factor!r}")
    factors: tuple[float | None, ...] = (None,) * dims
    if size is not None:
        out = as_tuple(op, "size", size, dims)
    else:
        factors = (float(scale_factor),) * dims if isinstance(scale_factor, (int, float)) else tuple(
            float(f) for f in scale_factor)  # type: ignore[union-attr]
        if len(factors) != dims:
            raise ChainruleError(f"{op}: scale_factor must be a number or a sequence of {dims} numbers for an input "
                                 f"of shape {shape}, got {scale_factor!r}")
        out = tuple(math.floor(n * f) for n, f in zip(spatial, factors))
        if recompute_scale_factor:
            factors = (None,) * dims
    if min(out) <= 0:
        raise ChainruleError(f"{op}: the output size {out} for an input of shape {shape} must be positive; "
                             "choose a larger size or scale_factor")
    x = input if dims == 2 else input.unsqueeze(-2)  # resize (N, C, L) as (N, C, 1, L)
    resizes = list(zip(x._data.shape[2:], (1,) * (2 - dims) + out, (None,) * (2 - dims) + factors))
    if all(n == o for n, o, _ in resizes):
        return input.clone()  # the same size: a copy, as PyTorch returns
    repeats = []
    for axis, (n, o, f) in enumerate(resizes, start=2):
        source, repeat = _nearest_source(n, o, f)
        repeats.append(repeat or 1)
        if repeat is None:  # an uneven resize of this axis: pick the source rows/columns
            if n > _MATMUL_MAX:
                x = x[(slice(None),) * axis + (source,)]
            else:  # as a product with a 0/1 selection matrix, whose gradient is a matmul too (faster)
                select = wrap(_selection_matrix(n, o, f, x._data.dtype))
                x = select @ x if axis == 2 else x @ select.T
    kernel = tuple(repeats)
    if kernel != (1, 1):
        # each element copied into a kernel-sized block: average pooling's adjoint with a divisor of 1
        # (so the gradient sums each block)
        n, c, h, w = x._data.shape
        win = Window(kernel, kernel, (0, 0), (1, 1), (h, w))  # type: ignore[arg-type]
        x = AvgScatter.apply(x, win, x._data.dtype.type(1), (n, c, h * kernel[0], w * kernel[1]))
    return x if dims == 2 else x.squeeze(-2)


# ---------------------------------------------------------------------------- dropout2d
def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Channel dropout: in training, zero each whole channel (one ``(H, W)`` plane of ``(N, C, H, W)``)
    with probability ``p`` and scale the kept ones by ``1 / (1 - p)``; the identity when
    ``training=False``. A 3-d input is read as ``(N, C, L)``, as PyTorch does. Masks come from
    chainrule's seeded generator (``chainrule.manual_seed``); ``d/dx`` is the same mask."""
    _check_probability("dropout2d", p)
    data = input._data
    if data.ndim == 3:
        warnings.warn("dropout2d: a 3-d input is read as (N, C, L) and whole rows of L are dropped (as PyTorch "
                      "does); use dropout1d for that, or unsqueeze(0) an unbatched (C, H, W) input", stacklevel=2)
    elif data.ndim != 4:
        raise ChainruleError(f"dropout2d: expected an input of shape (N, C, H, W), got {tuple(data.shape)}; "
                             "use dropout for other shapes")
    if not training or p == 0:
        return input
    # one draw per channel: each is kept (scaled by 1/(1-p)) or zeroed whole
    return _apply_dropout_mask(input, p, data.shape[:2] + (1,) * (data.ndim - 2), inplace)
