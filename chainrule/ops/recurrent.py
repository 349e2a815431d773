"""Recurrent primitives: one RNN, LSTM or GRU layer, in one direction, over a whole sequence.

Each primitive is one graph node for the whole recurrence. For GRU and RNN its input is the input
projection of every time step, computed beforehand by one matrix product (``xproj = x W_ihᵀ + b_ih``,
shape ``(L, N, G·H)``), so that the loop only multiplies the hidden state by ``W_hhᵀ`` and applies
the gates; the LSTM primitive takes ``x`` and ``W_ih`` themselves and does the projection inside its
per-step product (see :class:`LSTMLayer`). The activated gates are kept for backward. Backward runs
the loop in reverse with the gates' vector-Jacobian product written out, stores the pre-activation
gradient of every step in one ``(L, N, G·H)`` array, and forms the weight and bias gradients from it
with one matrix product (and, for GRU and RNN, one sum) after the loop.

Measured (sequence 50, batch 32, 32 → 128, float32, one thread, CPU time of forward + backward
including the input projection): LSTM 14.6 ms against torch's 13.6 ms in the same run
(``python -m benchmarks --clock cpu lstm``; the recurrence composed of chainrule operations,
:func:`lstm_steps`, ~12 nodes a step: 46 ms); GRU 17 ms fused, 38 ms composed, torch 19 ms. About
10.4 ms of the LSTM's time are the matrix products (OpenBLAS runs these shapes as fast as torch's
own products do: the products after the loop at ~87% of one core's peak, the per-step ones at ~75%,
OpenBLAS packing the weights again at every call); of the rest, NumPy's float32 ``exp`` (1.35 ns an
element) and ``tanh`` (2.7 ns) of the gates and the cell take ~1.75 ms, and the ~26 cheaper calls a
step (9 forward, 17 backward, ~1 µs each, most of it the call itself) ~1.5 ms, where torch's LSTM
(``aten::mkldnn_rnn_layer``) does a step's elementwise work in one oneDNN kernel.

The hand-written backward runs on arrays. Under ``create_graph=True`` (a recorded backward) the rule
instead differentiates the same recurrence composed of chainrule operations (:func:`lstm_steps`,
:func:`gru_steps`, :func:`rnn_steps`), so second derivatives are available too, at the composition's
speed.

Gate layouts follow PyTorch: LSTM ``i, f, g, o``; GRU ``r, z, n`` with
``n = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn))``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd.engine import composed_backward
from chainrule.autograd.function import Primitive
from chainrule.ops import elementwise as ew
from chainrule.ops.shape import stack
from chainrule.tensor import Tensor

__all__ = ["LSTMLayer", "GRULayer", "RNNLayer", "lstm_steps", "gru_steps", "rnn_steps"]


def _order(length: int, reverse: bool) -> range:
    return range(length - 1, -1, -1) if reverse else range(length)


def _pre_activation(xproj_t: Tensor, h: Tensor, w_hh_t: Tensor, b_hh: Tensor | None) -> Tensor:
    """One step's ``xprojₜ + h W_hhᵀ (+ b_hh)``, composed of chainrule operations (for the ``*_steps``)."""
    pre = xproj_t + h @ w_hh_t
    return pre if b_hh is None else pre + b_hh


def _sigmoid_(x: np.ndarray) -> np.ndarray:
    """``σ(x) = 1 / (1 + e⁻ˣ)`` in place (overflow of ``e⁻ˣ`` to inf gives the right 0)."""
    np.negative(x, out=x)
    np.exp(x, out=x)
    x += 1
    return np.reciprocal(x, out=x)


def _dw_hh(d_pre: np.ndarray, out: np.ndarray, h0: np.ndarray, reverse: bool) -> np.ndarray:
    """``∂W_hh = Σ_t d_preₜᵀ h_prevₜ``: ``h_prev`` is the previous output (``h0`` at the first step)."""
    d2 = d_pre.reshape(-1, d_pre.shape[-1])
    n = h0.shape[0]
    h2 = out.reshape(-1, out.shape[-1])
    if reverse:  # step t follows step t + 1
        dw = d2[:-n].T @ h2[n:]
        dw += d2[-n:].T @ h0
    else:
        dw = d2[n:].T @ h2[:-n]
        dw += d2[:n].T @ h0
    return dw


# ---------------------------------------------------------------------------- LSTM
# Per gate i, f, g, o: the factor applied to the pre-activation before the shared sigmoid. Negated, so
# that σ(x) = 1 / (1 + e⁻ˣ) needs no negation pass; doubled for g, since tanh x = 2σ(2x) - 1.
_LSTM_GATE_SCALE = (-1.0, -1.0, -2.0, -1.0)


class LSTMLayer(Primitive):
    """``(out, h_n, c_n)`` of one LSTM direction, input projection included: ``gates = xₜ W_ihᵀ + b_ih +
    h W_hhᵀ + b_hh``, ``i, f, o = σ(·)``, ``g = tanh(·)``, ``c' = f ⊙ c + i ⊙ g``, ``h' = o ⊙ tanh(c')``.

    Each step is one matrix product ``zₜ Wᵀ`` of ``zₜ = [xₜ, h, 1]`` (``(N, I + H + 1)``) with the
    stacked ``W = [W_ih | W_hh | b_ih + b_hh]``, and backward forms ``∂W`` (the gradients of both
    weights and both biases) with one product ``Σₜ d_preₜᵀ zₜ`` after the loop. The ``zₜ`` of all steps
    are one array, each step writing its ``h`` into the next step's row block. Measured (sequence 50,
    batch 32, 32 → 128, one thread) against a separate input projection ``x W_ihᵀ + b_ih`` of the whole
    sequence and a recurrence over ``h W_hhᵀ``: forward + backward 9% faster — the per-step product
    with the wider ``K = I + H + 1`` costs about what the separate ``K = I`` product did, and the
    separate pass adding the projection at every step, the bias sums and the copies go.

    The gates are kept gate-major, ``(4, N, H)`` per step (the product written so by one batched matmul
    over the four ``(I + H + 1, H)`` blocks), so that every elementwise operation runs over contiguous
    memory; all four gates go through one sigmoid, the ``g`` block of ``W`` doubled beforehand, since
    ``tanh x = 2σ(2x) - 1`` (and everything negated, so that ``σ(x) = 1 / (1 + e⁻ˣ)`` costs three
    passes: exp, +1, division; the division's numerator is 2 on the ``g`` block, so that one more pass,
    -1, makes ``g``). Measured against the ``(N, 4H)`` layout with a sigmoid and a tanh over strided
    column blocks: forward + backward ~12% faster.

    At these sizes (``N·H`` = 4096 elements) a NumPy call costs about as much as its arithmetic, so the
    loops make as few calls as they can and call the ufuncs with a positional ``out`` through local
    names (``mul(a, b, out)``): measured ~1.0 µs a call against ~1.15 µs for ``np.multiply(a, b,
    out=out)`` and ~1.3 µs for ``a *= b``; forward + backward 0.2-0.4 ms (2%) faster, and the numerator
    saving the ``g`` block's doubling pass ~0.1 ms more. Measured and left out (no faster, within the
    noise): the backward's activation derivatives precomputed for all steps at once before the loop
    (a pass over 50 steps' gates runs from L3, not L2, and costs what the per-step calls did); ``tanh c``
    as ``2/(1 + e⁻²ᶜ) - 1`` (four calls, 10.4 µs a step against 11.2 µs, and less precise near 0);
    ``∂h ⊙ o ⊙ (1 - tanh² c)`` as ``∂h ⊙ o - ∂o ⊙ h`` (one call fewer, but ``h`` read from ``z``'s
    strided rows); the derivative of ``g`` as ``u(2 - u)`` from ``u = 2σ(2x)`` kept in ``acts`` (two
    calls fewer, one more array); the last multiplication of the backward written straight into
    ``d_pre``'s strided ``(N, 4, H)`` view instead of a contiguous one and a copy; the input projection
    as a separate product (the per-step product with ``K = H`` saves 7 µs a step, 0.35 ms, the
    separate ``K = I + 1`` product costs 0.7 ms); the ``(N, 4H)`` layout with this same single sigmoid
    over the whole product (one BLAS call a step instead of four, no transposing copy in backward): 10%
    slower (16.8 against 15.3 ms), the per-gate operations on strided column blocks costing more than
    that saves; ``W`` stacked without transposing (``[W_ih | W_hh | b]`` row by row, each step's product
    reading its blocks transposed): building it takes 27 µs instead of 101, but every step's product
    7 µs more; the numerator as a ``(4, 1, H)`` broadcast instead of ``(4, N, H)`` (64 KB less to keep in
    cache), and ``h`` written to a contiguous output and copied into ``z`` (no strided write, no copy of
    the outputs at the end): no faster (40 interleaved rounds, median ratios 1.02 and 1.00)."""

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse):
        steps, n, n_in = x.shape
        hidden = w_hh.shape[1]
        dtype = x.dtype
        biases = [b for b in (b_ih, b_hh) if b is not None]
        width = n_in + hidden + (1 if biases else 0)
        h_cols = slice(n_in, n_in + hidden)
        # z[s] = [x, h_prev, 1] of the s-th step run (time L - 1 - s when reversed); z[s + 1] receives h
        z = np.empty((steps + 1, n, width), dtype)
        z[:steps, :, :n_in] = x[::-1] if reverse else x
        z[0, :, h_cols] = h0
        if biases:
            z[:, :, -1] = 1
        # w[k] = scale_k · [W_ih | W_hh | b_ih + b_hh]ᵀ restricted to gate k's rows: (I + H + 1, H)
        w = np.empty((4, width, hidden), dtype)
        w[:, :n_in] = w_ih.reshape(4, hidden, n_in).transpose(0, 2, 1)
        w[:, h_cols] = w_hh.reshape(4, hidden, hidden).transpose(0, 2, 1)
        if biases:
            w[:, -1] = sum(biases).reshape(4, hidden)
        w *= np.array(_LSTM_GATE_SCALE, dtype).reshape(4, 1, 1)
        acts = np.empty((steps, 4, n, hidden), dtype)  # activated gates i, f, g, o per step
        cs = np.empty((steps, n, hidden), dtype)
        tcs = np.empty_like(cs)
        ig = np.empty((n, hidden), dtype)
        numerator = np.ones((4, n, hidden), dtype)  # 1 / (1 + e⁻ˣ) = σ(x); for g, 2 / (1 + e⁻²ˣ) = 2σ(2x)
        numerator[2] = 2
        one, minus_one = np.array(1, dtype), np.array(-1, dtype)  # 0-d: 0.45 µs a call less than Python ints
        c = c0
        # ufuncs by local name, positional out: fewer Python overheads a call (see the class docstring)
        exp, add, mul, divide, tanh, matmul = np.exp, np.add, np.multiply, np.divide, np.tanh, np.matmul
        with np.errstate(over="ignore"):  # e⁻ˣ overflows to inf for very negative x: σ = 0, as it should
            for s in range(steps):
                a = matmul(z[s], w, acts[s])
                exp(a, a)
                add(a, one, a)
                divide(numerator, a, a)  # measured faster than np.reciprocal
                i, f, g, o = a[0], a[1], a[2], a[3]  # indexing: half the cost of unpacking `a`
                add(g, minus_one, g)  # tanh x = 2σ(2x) - 1
                c = mul(f, c, cs[s])
                add(c, mul(i, g, ig), c)
                tc = tanh(c, tcs[s])
                mul(o, tc, z[s + 1, :, h_cols])
        ctx.save_for_backward(acts, cs, tcs, z, c0, w_ih, w_hh)
        hs = z[1:, :, h_cols]
        return np.ascontiguousarray(hs[::-1] if reverse else hs), z[steps, :, h_cols].copy(), c.copy()

    @staticmethod
    def backward(ctx, g_out, g_h, g_c):
        if isinstance(g_out, Tensor):
            return composed_backward(ctx, lstm_steps, (g_out, g_h, g_c))
        acts, cs, tcs, z, c0, w_ih, w_hh = ctx.saved_tensors
        reverse = ctx.inputs[7]
        steps, _, n, hidden = acts.shape
        dtype = acts.dtype
        d_pre = np.empty((steps, n, 4 * hidden), dtype)  # per step run, in W's row order i, f, g, o
        d_gates = np.empty((4, n, hidden), dtype)  # one step's, gate-major
        d_i, d_f, d_g, d_o = d_gates
        local = np.empty_like(d_gates)  # one step's activation derivatives
        local_g = local[2]
        d_tanh = np.empty((n, hidden), dtype)
        dh = g_h.copy()
        dc = g_c.copy()
        one = np.array(1, dtype)
        # ufuncs by local name, positional out (see the class docstring)
        add, sub, mul, matmul, copyto = np.add, np.subtract, np.multiply, np.matmul, np.copyto
        d_rows = d_pre.reshape(steps, n, 4, hidden)
        for s in range(steps - 1, -1, -1):
            a, tc = acts[s], tcs[s]
            i, f, g, o = a[0], a[1], a[2], a[3]
            c_prev = cs[s - 1] if s else c0
            # d/dx σ = σ(1 - σ) (gates i, f, o), d/dx tanh = 1 - tanh² (gate g)
            sub(one, a, local)
            mul(local, a, local)
            mul(g, g, local_g)
            sub(one, local_g, local_g)
            add(dh, g_out[steps - 1 - s if reverse else s], dh)
            # h = o ⊙ tanh(c): ∂o = ∂h ⊙ tanh c, ∂c += ∂h ⊙ o ⊙ (1 - tanh² c)
            mul(dh, tc, d_o)
            mul(dh, o, dh)
            mul(tc, tc, d_tanh)
            sub(one, d_tanh, d_tanh)
            mul(dh, d_tanh, dh)
            add(dc, dh, dc)
            # c = f ⊙ c_prev + i ⊙ g: ∂i = ∂c ⊙ g, ∂f = ∂c ⊙ c_prev, ∂g = ∂c ⊙ i, ∂c_prev = ∂c ⊙ f
            mul(dc, g, d_i)
            mul(dc, c_prev, d_f)
            mul(dc, i, d_g)
            mul(d_gates, local, d_gates)  # through the activations, to the pre-activations
            mul(dc, f, dc)
            # back to W's (N, 4H) row layout: measured faster than one multiplication into the strided view
            copyto(d_rows[s], d_gates.transpose(1, 0, 2))
            matmul(d_pre[s], w_hh, dh)  # ∂h_prev
        need = ctx.needs_input_grad
        n_in = w_ih.shape[1]
        d2 = d_pre.reshape(steps * n, 4 * hidden)
        grads: list[Any] = [None, dh, dc, None, None, None, None, None]
        if need[0]:
            dx = (d2 @ w_ih).reshape(steps, n, n_in)
            grads[0] = dx[::-1].copy() if reverse else dx
        if any(need[3:7]):
            # ∂[W_ih | W_hh | b] = Σₜ d_preₜᵀ zₜ, one product over all steps; both biases get ∂b
            dw = d2.T @ z[:steps].reshape(steps * n, z.shape[2])
            blocks = (slice(None, n_in), slice(n_in, n_in + hidden), -1, -1)
            for i, block in enumerate(blocks, start=3):
                if need[i]:
                    grads[i] = dw[:, block].copy()
        return tuple(grads)


def lstm_steps(x: Tensor, h0: Tensor, c0: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None,
               b_hh: Tensor | None, reverse: bool) -> tuple[Tensor, Tensor, Tensor]:
    """:class:`LSTMLayer` composed of chainrule operations (the differentiable reference)."""
    xproj = x @ w_ih.t()
    if b_ih is not None:
        xproj = xproj + b_ih
    h, c = h0, c0
    outs: list[Any] = [None] * xproj.shape[0]
    w_t = w_hh.t()
    for t in _order(xproj.shape[0], reverse):
        i, f, g, o = _pre_activation(xproj[t], h, w_t, b_hh).chunk(4, 1)
        c = ew.sigmoid(f) * c + ew.sigmoid(i) * ew.tanh(g)
        h = outs[t] = ew.sigmoid(o) * ew.tanh(c)
    return stack(outs), h, c


# ---------------------------------------------------------------------------- GRU
class GRULayer(Primitive):
    """``(out, h_n)`` of one GRU direction: ``hh = h W_hhᵀ + b_hh``, ``r, z = σ(xprojₜ + hh)`` (first
    two thirds), ``n = tanh(xprojₜ + r ⊙ hh)`` (last third), ``h' = (1 - z) ⊙ n + z ⊙ h``."""

    @staticmethod
    def forward(ctx, xproj, h0, w_hh, b_hh, reverse):
        steps, n, gh = xproj.shape
        hidden = gh // 3
        acts = np.empty_like(xproj)  # r, z, n per step
        hns = np.empty((steps, n, hidden), xproj.dtype)  # h W_hnᵀ + b_hn, per step
        out = np.empty_like(hns)
        hh = np.empty((n, gh), xproj.dtype)
        w_t = w_hh.T
        h = h0
        with np.errstate(over="ignore"):
            for t in _order(steps, reverse):
                np.matmul(h, w_t, out=hh)
                if b_hh is not None:
                    hh += b_hh
                a, x = acts[t], xproj[t]
                rz = np.add(x[:, :2 * hidden], hh[:, :2 * hidden], out=a[:, :2 * hidden])
                _sigmoid_(rz)
                hn = hns[t]
                hn[...] = hh[:, 2 * hidden:]
                new = np.multiply(a[:, :hidden], hn, out=a[:, 2 * hidden:])
                new += x[:, 2 * hidden:]
                np.tanh(new, out=new)
                # h' = n + z ⊙ (h - n)
                h_new = np.subtract(h, new, out=out[t])
                h_new *= a[:, hidden:2 * hidden]
                h_new += new
                h = h_new
        ctx.save_for_backward(acts, hns, out, h0, w_hh)
        return out, h.copy()

    @staticmethod
    def backward(ctx, g_out, g_h):
        if isinstance(g_out, Tensor):
            return composed_backward(ctx, gru_steps, (g_out, g_h))
        acts, hns, out, h0, w_hh = ctx.saved_tensors
        reverse = ctx.inputs[4]
        steps, _, hidden = out.shape
        d_x = np.empty_like(acts)  # ∂xproj
        d_hh = np.empty_like(acts)  # ∂(h W_hhᵀ + b_hh)
        dh = g_h.copy()
        order = _order(steps, reverse)
        for k, t in enumerate(reversed(order)):
            a, dx, dhh = acts[t], d_x[t], d_hh[t]
            r, z, new = a[:, :hidden], a[:, hidden:2 * hidden], a[:, 2 * hidden:]
            h_prev = h0 if k == steps - 1 else out[t + 1 if reverse else t - 1]
            dh += g_out[t]
            # h' = (1 - z) ⊙ n + z ⊙ h: dn = dh ⊙ (1 - z), dz = dh ⊙ (h - n), dh_prev = dh ⊙ z
            dn = dx[:, 2 * hidden:]
            np.multiply(dh, 1 - z, out=dn)
            dn *= 1 - new * new  # d/dx tanh = 1 - tanh²
            np.multiply(dn, r, out=dhh[:, 2 * hidden:])
            np.multiply(dn, hns[t], out=dx[:, :hidden])  # dr
            dx[:, :hidden] *= r * (1 - r)  # d/dx σ = σ(1 - σ)
            np.subtract(h_prev, new, out=dx[:, hidden:2 * hidden])
            dx[:, hidden:2 * hidden] *= dh
            dx[:, hidden:2 * hidden] *= z * (1 - z)
            dhh[:, :2 * hidden] = dx[:, :2 * hidden]
            dh *= z
            dh += dhh @ w_hh
        need = ctx.needs_input_grad
        dw = _dw_hh(d_hh, out, h0, reverse) if need[2] else None
        db = d_hh.sum(axis=(0, 1)) if need[3] else None
        return d_x, dh, dw, db, None


def gru_steps(xproj: Tensor, h0: Tensor, w_hh: Tensor, b_hh: Tensor | None,
              reverse: bool) -> tuple[Tensor, Tensor]:
    """:class:`GRULayer` composed of chainrule operations (the differentiable reference)."""
    h = h0
    outs: list[Any] = [None] * xproj.shape[0]
    w_t = w_hh.t()
    for t in _order(xproj.shape[0], reverse):
        hh = h @ w_t
        if b_hh is not None:
            hh = hh + b_hh
        x_r, x_z, x_n = xproj[t].chunk(3, 1)
        h_r, h_z, h_n = hh.chunk(3, 1)
        r, z = ew.sigmoid(x_r + h_r), ew.sigmoid(x_z + h_z)
        new = ew.tanh(x_n + r * h_n)
        h = outs[t] = new + z * (h - new)
    return stack(outs), h


# ---------------------------------------------------------------------------- Elman RNN
class RNNLayer(Primitive):
    """``(out, h_n)`` of one Elman RNN direction: ``h' = act(xprojₜ + b_hh + h W_hhᵀ)``, ``act`` tanh or
    relu."""

    @staticmethod
    def forward(ctx, xproj, h0, w_hh, b_hh, reverse, relu):
        pre = xproj if b_hh is None else xproj + b_hh
        out = np.empty_like(pre)
        w_t = w_hh.T
        h = h0
        for t in _order(pre.shape[0], reverse):
            h = np.matmul(h, w_t, out=out[t])
            h += pre[t]
            if relu:
                np.maximum(h, 0, out=h)
            else:
                np.tanh(h, out=h)
        ctx.save_for_backward(out, h0, w_hh)
        return out, h.copy()

    @staticmethod
    def backward(ctx, g_out, g_h):
        if isinstance(g_out, Tensor):
            return composed_backward(ctx, rnn_steps, (g_out, g_h))
        out, h0, w_hh = ctx.saved_tensors
        reverse, relu = ctx.inputs[4], ctx.inputs[5]
        # d/dx tanh = 1 - tanh², d/dx relu = [x > 0], from the outputs, for all steps at once
        local = (out > 0).astype(out.dtype) if relu else 1 - out * out
        d_pre = np.empty_like(out)
        dh = g_h.copy()
        for t in reversed(_order(out.shape[0], reverse)):
            dh += g_out[t]
            d = np.multiply(dh, local[t], out=d_pre[t])
            dh = d @ w_hh
        need = ctx.needs_input_grad
        dw = _dw_hh(d_pre, out, h0, reverse) if need[2] else None
        db = d_pre.sum(axis=(0, 1)) if need[3] else None
        return d_pre, dh, dw, db, None, None


def rnn_steps(xproj: Tensor, h0: Tensor, w_hh: Tensor, b_hh: Tensor | None, reverse: bool,
              relu: bool) -> tuple[Tensor, Tensor]:
    """:class:`RNNLayer` composed of chainrule operations (the differentiable reference)."""
    h = h0
    outs: list[Any] = [None] * xproj.shape[0]
    w_t = w_hh.t()
    for t in _order(xproj.shape[0], reverse):
        pre = _pre_activation(xproj[t], h, w_t, b_hh)
        h = outs[t] = ew.relu(pre) if relu else ew.tanh(pre)
    return stack(outs), h
