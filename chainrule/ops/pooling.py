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

    def padded_size(self, h: int, w: int) -> tuple[int, int]:
        """The size of the padded input that holds every window: the padding on both sides, and
        more on the right/bottom where ``ceil_mode`` lets the last window hang over the edge."""
        return tuple(max(size + 2 * p, (o - 1) * s + d * (k - 1) + 1)  # type: ignore[return-value]
                     for size, p, o, s, d, k in zip((h, w), self.padding, self.out, self.stride, self.dilation,
                                                    self.kernel))

    def offsets(self) -> list[tuple[int, slice, slice]]:
        """For each kernel offset ``k = i·kw + j``: ``(k, rows, cols)``, the slices of the padded input
        that the windows' elements at that offset form."""
        (kh, kw), (sh, sw), (dh, dw), (oh, ow) = self.kernel, self.stride, self.dilation, self.out
        return [(i * kw + j, slice(i * dh, i * dh + (oh - 1) * sh + 1, sh),
                 slice(j * dw, j * dw + (ow - 1) * sw + 1, sw)) for i in range(kh) for j in range(kw)]

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
class MaxPool2d(Primitive):
    """``y = max`` over each window; ``ctx`` keeps the winning kernel offset of each window (the first
    maximum in row-major window order, as PyTorch's gradient does). With ``with_indices`` it also
    returns the winners' flat positions (see :func:`argmax_indices`), which carry no gradient."""

    @staticmethod
    def forward(ctx, x, win, with_indices):
        xp = _padded(x, win, -np.inf)
        (_, rows, cols), *rest = win.offsets()
        out = xp[..., rows, cols].copy()
        track = with_indices or ctx.needs_input_grad[0]  # the winners are only needed for these
        index_type = np.uint8 if len(rest) < 255 else np.int64
        winner = np.zeros(out.shape, index_type) if track else None
        for k, rows, cols in rest:
            v = xp[..., rows, cols]
            if track:
                # offset k wins where it beats the maximum so far; k exceeds every earlier winner,
                # so "set to k where better" is a maximum (much faster than a masked copy)
                np.maximum(winner, np.multiply(np.greater(v, out), index_type(k)), out=winner)
            np.maximum(out, v, out=out)  # (a NaN propagates)
        if track and np.isnan(out).any():  # PyTorch's rule: a NaN wins, the last one in its window
            for k, rows, cols in win.offsets():
                np.copyto(winner, k, where=np.isnan(xp[..., rows, cols]))
        if ctx.needs_input_grad[0]:  # an attribute, not saved: it stays an array in a recorded backward
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
        for k, rows, cols in win.offsets():
            if tiles:  # each element belongs to one window: write, no zero fill, no add
                np.multiply(g, winner == k, out=gxp[..., rows, cols])
            else:
                gxp[..., rows, cols] += np.multiply(g, winner == k)
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
        for k, rows, cols in win.offsets():
            np.copyto(out, xp[..., rows, cols], where=winner == k)
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
        (_, rows, cols), *rest = win.offsets()
        out = xp[..., rows, cols].copy()
        for _, rows, cols in rest:
            out += xp[..., rows, cols]
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
        for _, rows, cols in win.offsets():
            if tiles:
                gxp[..., rows, cols] = gs
            else:
                gxp[..., rows, cols] += gs
        return _crop(gxp, shape, win)

    @staticmethod
    def backward(ctx, gg):  # linear in g: the adjoint of spreading over windows is summing them
        _, win, scale, _ = ctx.inputs
        return run_primitive(AvgPool2d, gg, win, scale), None, None, None
