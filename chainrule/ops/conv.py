"""Convolution primitives (NCHW), each forward beside its vector-Jacobian product.

Three primitives are closed under differentiation. With ``x`` the input ``(N, C, H, W)``, ``w`` the
weight ``(O, C/groups, KH, KW)`` and ``g`` an output-shaped array ``(N, O, OH, OW)``:

* :class:`Conv`         ``(x, w, b) -> y``   the convolution (cross-correlation) plus a bias,
* :class:`ConvInputGrad`  ``(g, w, b) -> dx``  its gradient in ``x`` (the transposed convolution),
* :class:`ConvWeightGrad` ``(x, g) -> dw``     its gradient in ``w``.

All three are bilinear, and ``<Conv(x, w), g> = <x, ConvInputGrad(g, w)> = <w, ConvWeightGrad(x, g)>``,
so each one's VJP is made of the other two (called through :func:`run_primitive`): a recorded backward
(``create_graph=True``) is again a graph of convolutions, differentiable to any order.

Implementation (the speed target is PyTorch's CPU convolution; figures are float32, one thread, CPU
time, best of 20 or more, on the LeNet shapes of ``benchmarks/train_cnn.py``: conv1 1→16 5×5 on
64×1×28×28 and conv2 16→32 5×5 on 64×16×12×12):

* ``Conv`` and ``ConvWeightGrad``: im2col through a strided view of the padded input, copied once
  into ``cols`` of shape ``(groups, C/groups·KH·KW, N·OH·OW)``, then one matrix product per group
  (``np.matmul``, batched over groups). This layout (spatial positions last) copies 1.5–2× faster
  than ``(N·OH·OW, C·KH·KW)``, and for stride 1 each window row is copied as one opaque element
  (2.4× faster again; short rows in two steps of larger elements, see :func:`_im2col`); the product
  lands as ``(O, N, OH, OW)`` and is copied to contiguous NCHW with the bias added in the same pass
  (at batch 1 it is NCHW already: the bias is added in place). ``Conv`` keeps ``cols`` for the weight
  gradient of an ordinary backward instead of building it again.
* ``ConvInputGrad`` (the transposed convolution) has two strategies, chosen by shape
  (:func:`_input_grad_gather` for stride-1 columns when O <= C·KH, :func:`_input_grad_scatter`
  otherwise): gather the kernel columns into one product and add its rows at the KH row shifts, or
  compute all KH·KW offsets in one product and scatter-add them (col2im).
* Forward + backward against ``torch.nn.functional.conv2d``: 2.0 ms against torch's 4.4 ms for
  conv1 (no input gradient), 6.9 ms against 5.0 ms for conv2, where torch's direct (oneDNN)
  convolution needs no im2col copy and no product over padding zeros; NumPy's products themselves
  run as fast as torch's ``mm`` on the same matrices.

The primitives also take 1-d data (``(N, C, L)``, weight ``(O, C/groups, K)``) as 2-d data with
``H = 1`` (views, nothing copied; ``geom``, ``in_hw`` and ``kernel`` then have ``1`` for the H axis).

``geom`` is ``(stride, padding, dilation, groups)`` with ``stride = (sh, sw)``, ``padding =
((top, bottom), (left, right))`` (asymmetric for ``padding='same'`` with even kernels) and
``dilation = (dh, dw)``. Argument checks live in :mod:`chainrule.nn.conv_functional`.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from chainrule.autograd.function import Primitive, run_primitive
from chainrule.tensor import Tensor

__all__ = ["Conv", "ConvInputGrad", "ConvWeightGrad", "output_size"]

Geometry = tuple[tuple[int, int], tuple[tuple[int, int], tuple[int, int]], tuple[int, int], int]


def output_size(size: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    """Output length of a convolution along one axis: ``⌊(size + pad - dilation·(kernel-1) - 1) / stride⌋ + 1``
    (``pad`` is the total padding of that axis)."""
    return (size + pad - dilation * (kernel - 1) - 1) // stride + 1


def _lift(a: np.ndarray) -> np.ndarray:
    """1-d data ``(N, C, L)`` as 2-d data ``(N, C, 1, L)`` (a view); 2-d data unchanged."""
    return a if a.ndim == 4 else a[:, :, None]


def _plane(size: tuple[int, ...]) -> tuple[int, ...]:
    """A 1-d size ``(L,)`` as the 2-d ``(1, L)``."""
    return tuple(size) if len(size) == 2 else (1,) + tuple(size)


def _spatial_sum(g: Any) -> Any:
    # d/db of y = ... + b[o]: the sum of g over everything but the channel axis
    return g.sum(axis=(0,) + tuple(range(2, g.ndim)))


def _pad(x: np.ndarray, padding: tuple[tuple[int, int], tuple[int, int]]) -> np.ndarray:
    (pt, pb), (pl, pr) = padding
    if not (pt or pb or pl or pr):
        return x
    n, c, h, w = x.shape
    xp = np.zeros((n, c, h + pt + pb, w + pl + pr), x.dtype)
    xp[:, :, pt:pt + h, pl:pl + w] = x
    return xp


@functools.lru_cache(maxsize=64)
def _opaque(nbytes: int) -> np.dtype:
    """The opaque dtype of ``nbytes`` bytes (cached: building it costs 1 µs, as much as a batch-1
    im2col of a small layer, measured)."""
    return np.dtype((np.void, nbytes))


def _im2col(x: np.ndarray, kernel: tuple[int, int], geom: Geometry,
            out_hw: tuple[int, int] | None = None) -> tuple[np.ndarray, int, int]:
    """``cols[grp, (c, i, j), (n, oh, ow)] = x_padded[n, grp·C/groups + c, oh·sh + i·dh, ow·sw + j·dw]``,
    with ``OH, OW`` (the number of windows) computed, or given by ``out_hw``."""
    (sh, sw), padding, (dh, dw), groups = geom
    kh, kw = kernel
    xp = np.ascontiguousarray(_pad(x, padding))
    n, c, hp, wp = xp.shape
    oh, ow = out_hw or (output_size(hp, kh, sh, 0, dh), output_size(wp, kw, sw, 0, dw))
    s_n, s_c, s_h, s_w = xp.strides
    shape, strides = (c, kh, kw, n, oh, ow), (s_c, s_h * dh, s_w * dw, s_n, s_h * sh, s_w * sw)
    item = xp.itemsize
    if sw == 1 and sh == 1 and ow * item < 64:
        # short window rows: copy them in two steps, fewer and larger elements. First the KW shifted copies
        # of each input row, shifted[c, j, n, h] = xp[n, c, h, j·dw : j·dw + OW] (opaque OW-element rows);
        # then for stride 1 the OH rows of a window position (c, i, j) in a sample are consecutive rows
        # of `shifted`, one opaque OH·OW block. Measured (float32, one thread) on the LeNet's conv2 (rows
        # of 8 floats): 11.4 against 13.8 µs at batch 1, 0.58 against 0.93 ms at batch 64; slower on
        # conv1's rows of 24 floats (6.8 against 5.6 µs, 190 against 170 µs), hence the row length test.
        shifted = np.ndarray((c, kw, n, hp), _opaque(ow * item), buffer=xp, strides=(s_c, s_w * dw, s_n, s_h)).copy()
        t_c, t_j, t_n, t_h = shifted.strides
        blocks = np.ndarray((c, kh, kw, n), _opaque(oh * ow * item), buffer=shifted, strides=(t_c, t_h * dh, t_j, t_n))
        cols = blocks.copy().view(xp.dtype)
    elif sw == 1:
        # a window row (OW neighbours) is contiguous: copy each as one opaque OW·itemsize-byte element,
        # so that NumPy moves whole rows instead of looping over floats, OW at a time. Measured (float32,
        # one thread): 0.63 ms against 1.49 ms for conv2's (400, 4096), 0.13 against 0.34 for conv1's.
        rows = np.ndarray(shape[:-1], _opaque(ow * item), buffer=xp, strides=strides[:-1])
        cols = rows.copy().view(xp.dtype)
    else:
        cols = as_strided(xp, shape, strides, writeable=False)
    return cols.reshape(groups, c // groups * kh * kw, n * oh * ow), oh, ow


def _weight_grad(cols: np.ndarray, g: np.ndarray, weight_shape: tuple[int, ...]) -> np.ndarray:
    # dw[o, (c, i, j)] = Σ_(n, oh, ow) g[n, o, oh, ow] · cols[(c, i, j), (n, oh, ow)], per group; computed
    # as (cols · gᵀ)ᵀ, which OpenBLAS runs ~6% faster than g · colsᵀ (1.60 against 1.70 ms on conv2)
    groups = cols.shape[0]
    g_cols = g.transpose(1, 0, 2, 3).reshape(groups, g.shape[1] // groups, -1)
    return np.matmul(cols, g_cols.transpose(0, 2, 1)).transpose(0, 2, 1).reshape(weight_shape)


def _contiguous(y: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """An ``(N, C, H, W)`` view of a scratch array as a contiguous array, with the bias added: in place
    when the view is contiguous already (a batch of 1), else on the way into a copy."""
    if y.flags.c_contiguous:
        if b is not None:
            y += b.reshape(-1, 1, 1)
        return y
    out = np.empty(y.shape, y.dtype)
    if b is None:
        np.copyto(out, y)
    else:
        np.add(y, b.reshape(-1, 1, 1), out=out)
    return out


def _conv_to(x: Any, w: Any, geom: Geometry, out_hw: tuple[int, int]) -> Any:
    """``Conv(x, w)`` cut to ``out_hw`` windows: an input grown by a transposed convolution's
    ``output_padding`` can hold one window more than the gradient it pairs with."""
    y = run_primitive(Conv, x, w, None, geom)
    if tuple(y.shape[2:]) != tuple(out_hw):
        y = y[(slice(None), slice(None)) + tuple(slice(0, s) for s in out_hw)]
    return y


class Conv(Primitive):
    @staticmethod
    def forward(ctx, x, w, b, geom):
        ctx.save_for_backward(x, w)
        groups = geom[3]
        cols, oh, ow = _im2col(_lift(x), _plane(w.shape[2:]), geom)
        if ctx.needs_input_grad[1]:
            ctx.cols = cols  # reused by the weight gradient of an ordinary backward
        o = w.shape[0]
        y = np.matmul(w.reshape(groups, o // groups, -1), cols)  # (groups, O/groups, N·OH·OW)
        y = _contiguous(y.reshape(o, x.shape[0], oh, ow).transpose(1, 0, 2, 3), b)
        return y if x.ndim == 4 else y[:, :, 0]

    @staticmethod
    def backward(ctx, g):
        # y = conv(x, w) + b: dx = conv_input_grad(g, w), dw = conv_weight_grad(x, g), db = Σ_(n,h,w) g
        x, w = ctx.saved_tensors
        need_x, need_w, need_b, _ = ctx.needs_input_grad
        geom = ctx.inputs[3]
        cols = ctx.__dict__.pop("cols", None)
        gx = run_primitive(ConvInputGrad, g, w, None, geom, tuple(x.shape[2:])) if need_x else None
        gw = None
        if need_w:
            if cols is not None and not isinstance(g, Tensor):
                gw = _weight_grad(cols, _lift(g), w.shape)
            else:
                gw = run_primitive(ConvWeightGrad, x, g, geom, tuple(w.shape[2:]))
        gb = _spatial_sum(g) if need_b else None
        return gx, gw, gb, None


def _input_grad_scatter(g: np.ndarray, w: np.ndarray, geom: Geometry, padded: tuple[int, int]) -> np.ndarray:
    """The padded input gradient ``(N, C, HP, WP)`` (a view), one kernel offset at a time:
    ``dcols = wᵀ g`` in one product, then a scatter-add of the KH·KW offsets into a zeroed buffer.

    The buffer is flat per (channel, sample) and ``g`` is widened with zero columns to the padded
    input's row length, so each offset adds rows of the full padded width (contiguous for stride 1)
    instead of short rows of OW: 2.5–3× faster than a plain 4-d scatter, for a slightly larger product.
    """
    (sh, sw), _, (dh, dw), groups = geom
    n, o, oh, ow = g.shape
    _, cg, kh, kw = w.shape
    c = cg * groups
    hp, wp = padded
    # g widened with zero columns to wq positions per row, which step through a whole padded row
    wq = (wp - 1) // sw + 1
    g_wide = np.zeros((o, n, oh, wq), g.dtype)
    g_wide[..., :ow] = g.transpose(1, 0, 2, 3)
    # dcols[(c, i, j), (n, oh, q)] = Σ_o w[o, c, i, j] · g[n, o, oh, q], per group
    w_t = w.reshape(groups, o // groups, cg * kh * kw).transpose(0, 2, 1)
    dcols = np.matmul(w_t, g_wide.reshape(groups, o // groups, n * oh * wq)).reshape(c, kh, kw, n, oh, wq)
    # col2im: dx_padded[n, c, oh·sh + i·dh, q·sw + j·dw] += dcols[c, i, j, n, oh, q], row by row of
    # the flat padded buffer (the zero columns q >= OW add nothing wherever they land)
    end = (kh - 1) * dh * wp + (kw - 1) * dw + (oh - 1) * sh * wp + sw * (wq - 1) + 1
    buf = np.zeros((c, n, max(hp * wp, end)), g.dtype)
    s_c, s_n, item = buf.strides
    for i in range(kh):
        for j in range(kw):
            dest = as_strided(buf[:, :, i * dh * wp + j * dw:], (c, n, oh, wq),
                              (s_c, s_n, sh * wp * item, sw * item))
            dest += dcols[:, i, j]
    return buf[:, :, :hp * wp].reshape(c, n, hp, wp).transpose(1, 0, 2, 3)


def _input_grad_gather(g: np.ndarray, w: np.ndarray, geom: Geometry, padded: tuple[int, int]) -> np.ndarray:
    """The padded input gradient ``(N, C, HP, WP)`` (a view), one kernel row at a time: the kernel
    columns are gathered into the product, whose rows are then added at each kernel row's shift.

    ``dx_padded[n, c, y, x] = Σ_(o, i, j) w[o, c, i, j] · g[n, o, r, q]`` over ``y = r·sh + i·dh``,
    ``x = q·sw + j·dw``. It works in a (channel, row, sample, column) layout with one "line" per row:
    the row's WP columns of every sample side by side, so that a column shift of all samples is one
    shift of the line. Needs ``sw = 1`` to be worth it (otherwise the product runs over sw - 1 zero
    columns for each column of ``g``) but is correct for any geometry.
    """
    (sh, sw), _, (dh, dw), groups = geom
    n, o, oh, ow = g.shape
    _, cg, kh, kw = w.shape
    og = o // groups
    hp, wp = padded
    # g_line[o, r, (n, x)] holds g[n, o, r, q] at x = q·sw, zeros elsewhere. The zeros at the end of each
    # sample's row (at least (KW-1)·dw of them) make a shift by j·dw read zeros instead of the previous
    # sample's row, and `lead` zeros do the same before the first one.
    line, lead = n * wp, (kw - 1) * dw
    g_line = np.zeros((o, lead + oh * line), g.dtype)
    g_line[:, lead:].reshape(o, oh, n, wp)[..., :(ow - 1) * sw + 1:sw] = g.transpose(1, 2, 0, 3)
    # shifted[grp, (o, j), (r, n, x)] = g_line[o, r, (n, x - j·dw)]: one copy of KW shifted views
    s_o, item = g_line.strides
    shifted = as_strided(g_line[:, lead:], (o, kw, oh * line), (s_o, -dw * item, item), writeable=False)
    shifted = shifted.reshape(groups, og * kw, oh * line)
    # rows[grp, (i, c), (r, n, x)] = Σ_(o, j) w[o, c, i, j] · shifted[(o, j), (r, n, x)]: what kernel row
    # i adds to padded row r·sh + i·dh, every column at once
    w_rows = w.reshape(groups, og, cg, kh, kw).transpose(0, 3, 2, 1, 4).reshape(groups, kh * cg, og * kw)
    rows = np.matmul(w_rows, shifted).reshape(groups, kh, cg, oh, line)
    dx_lines = np.zeros((groups, cg, hp, line), g.dtype)
    for i in range(kh):
        dx_lines[:, :, i * dh:i * dh + (oh - 1) * sh + 1:sh] += rows[:, i]
    return dx_lines.reshape(groups * cg, hp, n, wp).transpose(2, 0, 1, 3)


class ConvInputGrad(Primitive):
    """The transposed convolution of ``g`` with ``w`` into an input of spatial size ``in_hw``, plus ``b``."""

    @staticmethod
    def forward(ctx, g, w, b, geom, in_hw):
        ctx.save_for_backward(g, w)
        (_, sw), ((pt, pb), (pl, pr)), _, groups = geom
        lower = g.ndim == 3
        g, w = _lift(g), _lift(w)
        o, cg, kh = g.shape[1], w.shape[1], w.shape[2]
        h, wd = _plane(in_hw)
        padded = (h + pt + pb, wd + pl + pr)
        # the gather multiplies sw× more zeros and copies O·KW shifted rows where the scatter writes
        # C·KH·KW product rows. Measured (float32, one thread), gather against scatter: 2.6 against
        # 4.2 ms on the LeNet's conv2, 6.3 against 29 ms on a depthwise 3×3 over 16×64×32×32, but 3.2
        # against 1.9 ms on the LeNet's conv1 (O > C·KH) and 18.7 against 13.0 on a stride-2 3×3 64→128
        gather = sw == 1 and o <= cg * groups * kh
        dx = (_input_grad_gather if gather else _input_grad_scatter)(g, w, geom, padded)
        dx = _contiguous(dx[:, :, pt:pt + h, pl:pl + wd], b)
        return dx[:, :, 0] if lower else dx

    @staticmethod
    def backward(ctx, h):
        # dx = A(g, w) + b, bilinear with <A(g, w), h> = <g, conv(h, w)> = <w, conv_weight_grad(h, g)>
        g, w = ctx.saved_tensors
        need_g, need_w, need_b, _, _ = ctx.needs_input_grad
        geom = ctx.inputs[3]
        gg = _conv_to(h, w, geom, tuple(g.shape[2:])) if need_g else None
        gw = run_primitive(ConvWeightGrad, h, g, geom, tuple(w.shape[2:])) if need_w else None
        gb = _spatial_sum(h) if need_b else None
        return gg, gw, gb, None, None


class ConvWeightGrad(Primitive):
    """``dw[o, c, i, j] = Σ_(n, oh, ow) g[n, o, oh, ow] · x_padded[n, c, oh·sh + i·dh, ow·sw + j·dw]``."""

    @staticmethod
    def forward(ctx, x, g, geom, kernel):
        ctx.save_for_backward(x, g)
        groups = geom[3]
        cols, _, _ = _im2col(_lift(x), _plane(kernel), geom, _plane(g.shape[2:]))
        return _weight_grad(cols, _lift(g), (g.shape[1], x.shape[1] // groups) + tuple(kernel))

    @staticmethod
    def backward(ctx, k):
        # dw = B(x, g), bilinear with <B(x, g), k> = <g, conv(x, k)> = <x, conv_input_grad(g, k)>
        x, g = ctx.saved_tensors
        need_x, need_g, _, _ = ctx.needs_input_grad
        geom = ctx.inputs[2]
        gx = run_primitive(ConvInputGrad, g, k, None, geom, tuple(x.shape[2:])) if need_x else None
        gg = _conv_to(x, k, geom, tuple(g.shape[2:])) if need_g else None
        return gx, gg, None, None
