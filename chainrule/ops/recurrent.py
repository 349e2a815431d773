"""Recurrent primitives: one RNN, LSTM or GRU layer, in one direction, over a whole sequence.

Each primitive is one graph node for the whole recurrence. Its input is the input projection of
every time step, computed beforehand by one matrix product (``xproj = x W_ihᵀ + b_ih``, shape
``(L, N, G·H)``), so that the loop only multiplies the hidden state by ``W_hhᵀ`` and applies the
gates; the activated gates are kept for backward. Backward runs the loop in reverse with the gates'
vector-Jacobian product written out, stores the pre-activation gradient of every step in one
``(L, N, G·H)`` array — which is at once the gradient of ``xproj`` — and forms ``∂W_hh`` and
``∂b_hh`` from it with one matrix product and one sum after the loop.

Measured (sequence 50, batch 32, 32 → 128, float32, one thread, CPU time of forward + backward
including the input projection): LSTM 18 ms fused against 48 ms for the same recurrence composed of
chainrule operations (:func:`lstm_steps`: ``xproj[t] + h @ W_hhᵀ``, chunk, sigmoid, tanh and
products, ~12 nodes a step), torch 15 ms; GRU 17 ms fused, 38 ms composed, torch 19 ms. Of the
LSTM's 18 ms, 11.5 ms are the matrix products themselves (the floor, the same in every framework).

The hand-written backward runs on arrays. Under ``create_graph=True`` (a recorded backward) the rule
instead differentiates the same recurrence composed of chainrule operations (:func:`lstm_steps`,
:func:`gru_steps`, :func:`rnn_steps`), so second derivatives are available too, at the composition's
speed.

Gate layouts follow PyTorch: LSTM ``i, f, g, o``; GRU ``r, z, n`` with
``n = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn))``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from chainrule.autograd.engine import grad
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


def _recorded_backward(ctx: Any, steps: Callable[..., tuple], grads: tuple) -> tuple:
    """``create_graph=True``: the gradient of the same recurrence composed of chainrule operations
    (recomputed from the inputs), so that it is itself differentiable."""
    args = ctx.inputs
    wanted = [i for i, a in enumerate(args) if isinstance(a, Tensor) and ctx.needs_input_grad[i]]
    outs = steps(*args)
    pairs = [(o, g) for o, g in zip(outs, grads) if g is not None]
    found = grad([o for o, _ in pairs], [args[i] for i in wanted], [g for _, g in pairs],
                 create_graph=True, allow_unused=True)
    result: list[Any] = [None] * len(args)
    for i, g in zip(wanted, found):
        result[i] = g
    return tuple(result)


# ---------------------------------------------------------------------------- LSTM
class LSTMLayer(Primitive):
    """``(out, h_n, c_n)`` of one LSTM direction: ``gates = xprojₜ + b_hh + h W_hhᵀ``,
    ``i, f, o = σ(·)``, ``g = tanh(·)``, ``c' = f ⊙ c + i ⊙ g``, ``h' = o ⊙ tanh(c')``.

    The gates are kept gate-major, ``(4, N, H)`` per step (the product ``h W_hhᵀ`` written so by one
    batched matmul over the four ``(H, H)`` blocks), so that every elementwise operation runs over
    contiguous memory; all four gates go through one sigmoid, the ``g`` block of ``W_hh`` and
    ``xproj`` doubled beforehand, since ``tanh x = 2σ(2x) - 1`` (and everything negated, so that
    ``σ(x) = 1 / (1 + e⁻ˣ)`` costs three passes: exp, +1, reciprocal). Measured against the ``(N, 4H)``
    layout with a sigmoid and a tanh over strided column blocks: forward + backward ~12% faster."""

    @staticmethod
    def forward(ctx, xproj, h0, c0, w_hh, b_hh, reverse):
        steps, n, gh = xproj.shape
        hidden = gh // 4
        # the pre-activations are computed negated (σ(x) = 1 / (1 + e⁻ˣ) then needs no negation),
        # and doubled for the g gate (tanh x = 2σ(2x) - 1): -(xproj + b_hh) and -W_hhᵀ, gate-major
        pre = np.empty((steps, 4, n, hidden), xproj.dtype)
        by_gate = xproj.reshape(steps, n, 4, hidden).transpose(0, 2, 1, 3)
        if b_hh is None:
            np.negative(by_gate, out=pre)
        else:
            np.subtract(-b_hh.reshape(4, 1, hidden), by_gate, out=pre)
        pre[:, 2] *= 2
        w_blocks = w_hh.reshape(4, hidden, hidden).transpose(0, 2, 1).copy()  # W_kᵀ per gate k
        w_blocks *= np.array([-1, -1, -2, -1], xproj.dtype).reshape(4, 1, 1)
        acts = np.empty_like(pre)  # activated gates i, f, g, o per step
        cs = np.empty((steps, n, hidden), xproj.dtype)
        tcs = np.empty_like(cs)
        out = np.empty_like(cs)
        h, c = h0, c0
        with np.errstate(over="ignore"):  # e⁻ˣ overflows to inf for very negative x: σ = 0, as it should
            for t in _order(steps, reverse):
                a = acts[t]
                np.matmul(h, w_blocks, out=a)
                a += pre[t]
                np.exp(a, out=a)
                a += 1
                np.reciprocal(a, out=a)
                a[2] *= 2  # tanh x = 2σ(2x) - 1
                a[2] -= 1
                c = np.multiply(a[1], c, out=cs[t])
                c += a[0] * a[2]
                tc = np.tanh(c, out=tcs[t])
                h = np.multiply(a[3], tc, out=out[t])
        ctx.save_for_backward(acts, cs, tcs, out, h0, c0, w_hh)
        return out, h.copy(), c.copy()

    @staticmethod
    def backward(ctx, g_out, g_h, g_c):
        if isinstance(g_out, Tensor):
            return _recorded_backward(ctx, lstm_steps, (g_out, g_h, g_c))
        acts, cs, tcs, out, h0, c0, w_hh = ctx.saved_tensors
        reverse = ctx.inputs[5]
        steps, n, hidden = out.shape
        d_pre = np.empty((steps, n, 4 * hidden), out.dtype)
        d_gates = np.empty((4, n, hidden), out.dtype)  # one step's, gate-major
        local = np.empty_like(d_gates)  # one step's activation derivatives
        d_tanh = np.empty((n, hidden), out.dtype)
        dh = g_h.copy()
        dc = g_c.copy()
        order = _order(steps, reverse)
        for k, t in enumerate(reversed(order)):
            a, d, tc = acts[t], d_pre[t], tcs[t]
            c_prev = c0 if k == steps - 1 else cs[t + 1 if reverse else t - 1]
            # d/dx σ = σ(1 - σ) (gates i, f, o), d/dx tanh = 1 - tanh² (gate g)
            np.subtract(1, a, out=local)
            local *= a
            np.multiply(a[2], a[2], out=local[2])
            np.subtract(1, local[2], out=local[2])
            dh += g_out[t]
            # h = o ⊙ tanh(c): ∂o = ∂h ⊙ tanh c, ∂c += ∂h ⊙ o ⊙ (1 - tanh² c)
            np.multiply(dh, tc, out=d_gates[3])
            dh *= a[3]
            np.multiply(tc, tc, out=d_tanh)
            np.subtract(1, d_tanh, out=d_tanh)
            dh *= d_tanh
            dc += dh
            # c = f ⊙ c_prev + i ⊙ g: ∂i = ∂c ⊙ g, ∂f = ∂c ⊙ c_prev, ∂g = ∂c ⊙ i, ∂c_prev = ∂c ⊙ f
            np.multiply(dc, a[2], out=d_gates[0])
            np.multiply(dc, c_prev, out=d_gates[1])
            np.multiply(dc, a[0], out=d_gates[2])
            d_gates *= local  # through the activations, to the pre-activations
            dc *= a[1]
            np.copyto(d.reshape(n, 4, hidden), d_gates.transpose(1, 0, 2))  # back to (N, 4H)
            dh = d @ w_hh
        need = ctx.needs_input_grad
        dw = _dw_hh(d_pre, out, h0, reverse) if need[3] else None
        db = d_pre.sum(axis=(0, 1)) if need[4] else None
        return d_pre, dh, dc, dw, db, None


def lstm_steps(xproj: Tensor, h0: Tensor, c0: Tensor, w_hh: Tensor, b_hh: Tensor | None,
               reverse: bool) -> tuple[Tensor, Tensor, Tensor]:
    """:class:`LSTMLayer` composed of chainrule operations (the differentiable reference)."""
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
            return _recorded_backward(ctx, gru_steps, (g_out, g_h))
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
            return _recorded_backward(ctx, rnn_steps, (g_out, g_h))
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
