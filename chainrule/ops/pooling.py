"""Pooling primitives over the last two axes (NCHW), each forward beside its vector-Jacobian product.

A pooling window is described by a :class:`Window` (kernel, stride, padding, dilation and the output
size). Every primitive loops over the few *kernel offsets* (4 for a 2×2 window), never over pixels or
batch items: the input values at offset ``(i, j)`` of every window form one strided view of the
(padded) input, ``xp[..., i·dh : … : sh, j·dw : … : sw]``, of the output's shape.

The primitives come in adjoint pairs, so that each backward rule is the other's forward and second
derivatives come for free (``create_graph=True``):

* ``MaxPool2d``   y = max over each window (records which offset won)   dx = ``ArgmaxScatter``(g)
* ``ArgmaxScatter`` dx[winner of each window] += g                       dg = ``ArgmaxGather``(gg)
* ``ArgmaxGather``  y = x at the recorded winners                        dx = ``ArgmaxScatter``(g)
* ``AvgPool2d``   y = (Σ window) · scale                                 dx = ``AvgScatter``(g)
* ``AvgScatter``  dx[window] += g · scale                                dg = ``AvgPool2d``(gg)
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from chainrule.autograd.function import Primitive, run_primitive

__all__ = ["Window", "MaxPool2d", "ArgmaxScatter", "ArgmaxGather", "AvgPool2d", "AvgScatter", "argmax_indices"]


class Window(NamedTuple):
    """A pooling window over ``(H, W)``: kernel, stride, padding, dilation, and the output size."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    out: tuple[int, int]

    # padded_size and offsets are cached per window (a layer pools with the same window every call):
    # 1.6 and 3.1 µs uncached against 0.2 µs each cached (measured, 2×2 window), where the arithmetic of
    # a batch-1 max pooling in the LeNet takes 8–11 µs

    @functools.lru_cache(maxsize=256)
    def padded_size(self, h: int, w: int) -> tuple[int, int]:
        """The size of the padded input that holds every window: the padding on both sides, and
        more on the right/bottom where ``ceil_mode`` lets the last window hang over the edge."""
        return tuple(max(size + 2 * p, (o - 1) * s + d * (k - 1) + 1)  # type: ignore[return-value]
                     for size, p, o, s, d, k in zip((h, w), self.padding, self.out, self.stride, self.dilation,
                                                    self.kernel))

    @functools.lru_cache(maxsize=256)
    def offsets(self) -> tuple[tuple[int, tuple[object, slice, slice]], ...]:
        """For each kernel offset ``k = i·kw + j``: ``(k, index)``, where ``xp[index]`` is the strided view
        of the padded input that the windows' elements at that offset form."""
        (kh, kw), (sh, sw), (dh, dw), (oh, ow) = self.kernel, self.stride, self.dilation, self.out
        return tuple((i * kw + j, (..., slice(i * dh, i * dh + (oh - 1) * sh + 1, sh),
                                   slice(j * dw, j * dw + (ow - 1) * sw + 1, sw)))
                     for i in range(kh) for j in range(kw))

    def tiles(self, h: int, w: int) -> bool:
        """Whether the windows cover the unpadded input exactly once (e.g. kernel 2, stride 2, even
        sizes): then a scatter writes every input element once and needs no zero fill."""
        return (self.kernel == self.stride and self.padding == (0, 0) and self.dilation == (1, 1)
                and self.out[0] * self.stride[0] == h and self.out[1] * self.stride[1] == w)


def _padded(x: np.ndarray, win: Window, fill: float) -> np.ndarray:
    """``x`` inside a frame of ``fill`` as large as :meth:`Window.padded_size` (``x`` itself if none)."""
    h, w = x.shape[-2:]
    ph, pw = win.padding
    hp, wp = win.padded_size(h, w)
    if (hp, wp) == (h, w):
        return x
    out = np.full(x.shape[:-2] + (hp, wp), fill, x.dtype)
    out[..., ph:ph + h, pw:pw + w] = x
    return out


def _zeros_padded(like: np.ndarray, shape: tuple[int, ...], win: Window) -> tuple[np.ndarray, bool]:
    """A zero gradient for the padded input of ``shape``, and whether the windows tile the input (then
    the buffer is left uninitialised, as each element gets written exactly once)."""
    h, w = shape[-2:]
    if win.tiles(h, w):
        return np.empty(shape, like.dtype), True
    return np.zeros(shape[:-2] + win.padded_size(h, w), like.dtype), False


def _crop(xp: np.ndarray, shape: tuple[int, ...], win: Window) -> np.ndarray:
    """Undo :func:`_padded`: the part of ``xp`` that holds the input of ``shape``."""
    ph, pw = win.padding
    h, w = shape[-2:]
    return xp if xp.shape[-2:] == (h, w) else xp[..., ph:ph + h, pw:pw + w]


# ---------------------------------------------------------------------------- max pooling
def _max_over_axis_1(a: np.ndarray) -> np.ndarray:
    """``a``'s maximum over axis 1 (of length 2 or more), as elementwise maxima of its slices (a NaN
    propagates)."""
    m = np.maximum(a[:, 0], a[:, 1])
    for i in range(2, a.shape[1]):
        np.maximum(m, a[:, i], out=m)
    return m


def _max_of_tiles(x: np.ndarray, win: Window) -> np.ndarray:
    """Max pooling over windows that tile ``x`` (see :meth:`Window.tiles`) with ``kh > 1``: the maximum of
    each window's rows first, as whole input rows, then of its columns, on 2-d and 1-d views of the input
    (NumPy's loops over strided 4-d views cost per short row). That is ``kh + kw - 2`` NumPy calls
    instead of ``kh·kw - 1``: 2 against 3 for 2×2. Measured on the LeNet's 2×2 poolings at batch 1
    (float32, one thread): 10.5 against 11.9 µs for (1, 16, 24, 24), 6.7 against 8.7 µs for (1, 32, 8, 8)."""
    kh, kw = win.kernel
    # row i of the r-th row of windows (of every plane), then column j of the q-th window
    m = _max_over_axis_1(x.reshape(-1, kh, x.shape[-1]))
    if kw > 1:
        m = _max_over_axis_1(m.reshape(-1, kw))
    return m.reshape(x.shape[:-2] + win.out)


class MaxPool2d(Primitive):
    """``y = max`` over each window; ``ctx`` keeps the winning kernel offset of each window (the first
    maximum in row-major window order, as PyTorch's gradient does). With ``with_indices`` it also
    returns the winners' flat positions (see :func:`argmax_indices`), which carry no gradient."""

    @staticmethod
    def forward(ctx, x, win, with_indices):
        track = with_indices or ctx.needs_input_grad[0]  # the winners are only needed for these
        if not track and win.kernel[0] > 1 and win.tiles(*x.shape[-2:]):  # (nothing to pad)
            return _max_of_tiles(x, win)
        xp = _padded(x, win, -np.inf)
        (_, first), *rest = win.offsets()
        if not track:  # the maximum alone (inference)
            if not rest:
                return xp[first].copy()
            # the first two views straight into a new array: one pass fewer than copying the first
            # (measured with 2×2 windows on (1, 16, 24, 24): 10.2 against 11.0 µs; (1, 32, 8, 8): 7.3 against 8.6)
            out = np.maximum(xp[first], xp[rest[0][1]])
            for _, at in rest[1:]:
                np.maximum(out, xp[at], out=out)  # (a NaN propagates)
            return out
        out = xp[first].copy()
        index_type = np.uint8 if len(rest) < 255 else np.int64
        winner = np.zeros(out.shape, index_type)
        for k, at in rest:
            v = xp[at]
            # offset k wins where it beats the maximum so far; k exceeds every earlier winner,
            # so "set to k where better" is a maximum (much faster than a masked copy)
            np.maximum(winner, np.multiply(np.greater(v, out), index_type(k)), out=winner)
            np.maximum(out, v, out=out)  # (a NaN propagates)
        if np.isnan(out).any():  # PyTorch's rule: a NaN wins, the last one in its window
            for k, at in win.offsets():
                np.copyto(winner, k, where=np.isnan(xp[at]))
        if ctx.needs_input_grad[0]:  # attributes, not saved: they stay arrays in a recorded backward
            ctx.winner = winner
            ctx.shape = x.shape
        if with_indices:
            indices = argmax_indices(winner, win, x.shape[-1])
            ctx.mark_non_differentiable(indices)
            return out, indices
        return out

    @staticmethod
    def backward(ctx, g, *_):  # d max(window)/dx = 1 at the window's (first) maximum, 0 elsewhere
        return run_primitive(ArgmaxScatter, g, ctx.winner, ctx.inputs[1], ctx.shape), None, None


class ArgmaxScatter(Primitive):
    """``dx`` of shape ``shape`` with each ``g`` added at its window's winning element."""

    @staticmethod
    def forward(ctx, g, winner, win, shape):
        gxp, tiles = _zeros_padded(g, shape, win)
        for k, at in win.offsets():
            if tiles:  # each element belongs to one window: write, no zero fill, no add
                np.multiply(g, winner == k, out=gxp[at])
            else:
                gxp[at] += np.multiply(g, winner == k)
        return _crop(gxp, shape, win)

    @staticmethod
    def backward(ctx, gg):  # linear in g: the adjoint of a scatter is the gather at the same places
        _, winner, win, _ = ctx.inputs
        return run_primitive(ArgmaxGather, gg, winner, win), None, None, None


class ArgmaxGather(Primitive):
    """``y`` = ``x`` at each window's recorded winning element (max pooling with the winners fixed)."""

    @staticmethod
    def forward(ctx, x, winner, win):
        ctx.shape = x.shape
        xp = _padded(x, win, 0)
        out = np.empty(winner.shape, x.dtype)
        for k, at in win.offsets():
            np.copyto(out, xp[at], where=winner == k)
        return out

    @staticmethod
    def backward(ctx, g):  # the adjoint of a gather is the scatter to the same places
        _, winner, win = ctx.inputs
        return run_primitive(ArgmaxScatter, g, winner, win, ctx.shape), None, None


def argmax_indices(winner: np.ndarray, win: Window, width: int) -> np.ndarray:
    """PyTorch's ``return_indices``: each window's winning element as a flat int64 position ``h·W + w``
    in its (unpadded) input plane of width ``width``."""
    (_, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = win.kernel, win.stride, win.padding, win.dilation, win.out
    i, j = np.divmod(winner.astype(np.int64), kw)
    rows = (np.arange(oh, dtype=np.int64) * sh - ph)[:, None] + i * dh
    cols = (np.arange(ow, dtype=np.int64) * sw - pw) + j * dw
    return rows * width + cols


# ---------------------------------------------------------------------------- average pooling
class AvgPool2d(Primitive):
    """``y = scale · Σ window`` (zero padding); ``scale`` is ``1 / divisor``, an ``(OH, OW)`` array or a
    scalar in the input's dtype."""

    @staticmethod
    def forward(ctx, x, win, scale):
        ctx.shape = x.shape
        xp = _padded(x, win, 0)
        (_, first), *rest = win.offsets()
        out = xp[first].copy()
        for _, at in rest:
            out += xp[at]
        out *= scale
        return out

    @staticmethod
    def backward(ctx, g):  # d(scale · Σ window)/dx = scale at every element of the window
        _, win, scale = ctx.inputs
        return run_primitive(AvgScatter, g, win, scale, ctx.shape), None, None


class AvgScatter(Primitive):
    """``dx`` of shape ``shape``: ``g · scale`` added at every element of its window."""

    @staticmethod
    def forward(ctx, g, win, scale, shape):
        gs = g if isinstance(scale, np.generic) and scale == 1 else g * scale
        gxp, tiles = _zeros_padded(g, shape, win)
        for _, at in win.offsets():
            if tiles:
                gxp[at] = gs
            else:
                gxp[at] += gs
        return _crop(gxp, shape, win)

    @staticmethod
    def backward(ctx, gg):  # linear in g: the adjoint of spreading over windows is summing them
        _, win, scale, _ = ctx.inputs
        return run_primitive(AvgPool2d, gg, win, scale), None, None, None
