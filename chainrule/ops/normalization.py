"""Fused normalisation primitives: batch, layer and group normalisation, each forward beside its VJP.

All three standardise the input over some axes and then apply a per-feature affine map::

    x̂ = (x - μ) · rstd,   rstd = 1 / √(σ² + eps)   (μ, σ² the mean and biased variance over the axes)
    y = γ · x̂ + β

They differ only in the layout: batch norm views the input as ``(N, C, L)`` and standardises over
``N`` and ``L`` with one ``γ`` per channel; group norm views it as ``(N, G, C/G · L)``, standardises
over the last axis and has one ``γ`` per channel; layer norm views it as ``(R, D)``, standardises
over ``D`` and has one ``γ`` per feature of ``D``. Each layout is an einsum subscript (``'ncl'``,
``'ngk'``, ``'rd'``) with the axes the statistics keep (``'c'``, ``'ng'``, ``'r'``).

Each is one primitive rather than a composition of mean, var, sub, div, mul and add (a node and a
temporary each): forward + backward against that composition, float32, is 0.76 ms against 1.7 ms
for layer norm on (32, 50, 128) and 2.0 ms against 21 ms for batch norm on (64, 16, 24, 24) (where
the composed reductions over axes (0, 2, 3) are slow). The forward computes the statistics once and
keeps ``x̂``; the backward is the closed form, with ``ĝ = g · γ`` and means over the normalised axes,

    dx = rstd · (ĝ - mean(ĝ) - x̂ · mean(ĝ · x̂))   (μ and σ depend on all of x: dμ/dx = 1/n, dσ/dx = x̂/n)
    dγ = Σ g · x̂,   dβ = Σ g                     (sums over the axes γ is broadcast along)

The sums are einsums (``np.einsum('ncl,ncl->c', g, x̂)`` reads both arrays once, 2–3× faster than
``(g * x̂).sum(axis=(0, 2))``) and the rest are operators, so the same rule, handed tensors when a
backward pass is recorded (``create_graph=True``), builds a differentiable graph through
chainrule's einsum. ``x̂`` and ``rstd`` are then recomputed from the input tensor (saved
intermediates are constants in a recorded backward), so second derivatives through the statistics
are exact; on arrays the rule works in place on the arrays it makes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.autograd.function import Primitive
from chainrule.tensor import Tensor

__all__ = ["BatchNorm", "LayerNorm", "GroupNorm", "standardize", "centered_vjp"]


# ---------------------------------------------------------------------------- shared calculus
def _sum_keep(spec: str, *operands: Any) -> Any:
    """``np.einsum(spec, *operands)`` with a trailing axis of length 1, to broadcast against the
    operands (every layout here reduces its last axis)."""
    s = np.einsum(spec, *operands)
    return s.reshape(tuple(s.shape) + (1,))


def standardize(x: Any, sub: str, kept: str, eps: float, scaled: bool = True) -> tuple[Any, Any, Any, Any]:
    """``(x̂, rstd, μ, σ²)`` of ``x`` (einsum subscripts ``sub``) over every axis not in ``kept``;
    the statistics keep a trailing axis of length 1, all in ``x``'s dtype. With ``scaled=False``
    the first is ``x - μ``, not yet multiplied by ``rstd``.

    On arrays that is a fresh array (scaled in place); on tensors the result is differentiable. The
    variance is taken of the centred values (as accurate as ``np.var``), in one einsum pass."""
    mean = _sum_keep(f"{sub}->{kept}", x)
    count = math.prod(x.shape) // max(math.prod(mean.shape), 1)
    mean = mean / count
    xc = x - mean
    var = _sum_keep(f"{sub},{sub}->{kept}", xc, xc) / count
    rstd = (var + eps) ** -0.5
    if not scaled:
        return xc, rstd, mean, var
    if isinstance(xc, Tensor):
        return xc * rstd, rstd, mean, var
    xc *= rstd
    return xc, rstd, mean, var


def centered_vjp(gh: Any, xhat: Any, scale: Any, mean_g: Any, mean_gx: Any) -> Any:
    """The VJP of ``x ↦ x̂``, ``scale · (ĝ - mean(ĝ) - x̂ · mean(ĝ · x̂))``, from the two means
    (``scale`` is ``rstd``, times ``γ`` where the caller folded it in; a caller holding ``x - μ``
    instead of ``x̂`` passes it with ``rstd · mean(ĝ · x̂)``)."""
    if isinstance(gh, Tensor) or isinstance(xhat, Tensor):
        return (gh - xhat * mean_gx - mean_g) * scale
    t = xhat * mean_gx
    t += mean_g
    np.subtract(gh, t, out=t)
    t *= scale
    return t


def affine(xhat: np.ndarray, w: np.ndarray | None, b: np.ndarray | None, param_shape: tuple[int, ...],
           keep: bool) -> np.ndarray:
    """``γ · x̂ + β``, with ``γ``, ``β`` (either may be ``None``) reshaped to ``param_shape`` to
    broadcast over ``x̂``; ``x̂`` itself is written over unless ``keep`` (the backward needs it).
    (Batch norm passes ``x - μ`` with ``γ · rstd`` as ``γ``.)"""
    if w is not None:
        y = np.multiply(xhat, w.reshape(param_shape), out=None if keep else xhat)
    else:
        y = xhat.copy() if keep else xhat
    if b is not None:
        y += b.reshape(param_shape)
    return y


def _channels(x: Any) -> tuple[int, int, int]:
    """``(N, C, L)`` of an input ``(N, C, *)``: ``L`` the product of the trailing sizes (spelled out,
    since ``reshape(n, c, -1)`` cannot infer it for an empty batch)."""
    shape = tuple(x.shape)
    return shape[0], shape[1], math.prod(shape[2:])


def _recording(*values: Any) -> bool:
    """Whether a backward rule was handed tensors (a recorded backward, ``create_graph=True``)."""
    return any(isinstance(v, Tensor) for v in values)


def _saves(ctx: Any) -> bool:
    """Whether this forward is recorded (some input needs a gradient), so ``x̂`` must be kept."""
    return any(ctx.needs_input_grad)


# ---------------------------------------------------------------------------- batch norm
class BatchNorm(Primitive):
    """Batch normalisation of ``(N, C, *)`` over every axis but the channel axis 1.

    In training mode the batch statistics normalise, and ``running_mean``/``running_var`` (arrays,
    when given) are updated in place: ``r ← (1 - momentum)·r + momentum·s`` with the unbiased
    variance, as in PyTorch. In evaluation mode the running statistics normalise.

    ``rstd`` and ``γ`` are both per channel here, so the forward folds them into one factor,
    ``y = (x - μ) · (γ·rstd) + β``, and keeps ``x - μ`` rather than ``x̂`` (a pass fewer); the
    backward scales its sums by ``rstd`` instead: ``Σ g·x̂ = rstd · Σ g·(x - μ)``."""

    @staticmethod
    def forward(ctx, x, running_mean, running_var, w, b, training, momentum, eps):
        n, c, length = _channels(x)
        x3 = x.reshape(n, c, length)
        keep = _saves(ctx)
        if training:
            xc, rstd, mean, var = standardize(x3, "ncl", "c", eps, scaled=False)
            if running_mean is not None:
                count = n * length
                running_mean *= 1 - momentum
                running_mean += momentum * mean.reshape(c)
                running_var *= 1 - momentum
                running_var += (momentum * count / (count - 1)) * var.reshape(c)
        else:
            rstd = ((running_var + eps) ** -0.5).reshape(c, 1)
        scale = rstd if w is None else rstd * w.reshape(c, 1)
        if not training:
            if not keep:  # inference: y = x · γ·rstd + (β - μ·γ·rstd), two passes
                shift = -running_mean.reshape(c, 1) * scale
                if b is not None:
                    shift += b.reshape(c, 1)
                y = x3 * scale
                y += shift
                return y.reshape(x.shape)
            xc = x3 - running_mean.reshape(c, 1)
        ctx.save_for_backward(x, w, xc, rstd)
        return affine(xc, scale, b, (c, 1), keep).reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        # dγ = Σ g·x̂ and dβ = Σ g over (N, L); the means of ĝ = g·γ in dx are γ·dβ/n and γ·dγ/n
        x, w, xc, rstd = ctx.saved_tensors
        needs = ctx.needs_input_grad
        _, running_mean, _, _, _, training, _, eps = ctx.inputs
        n, c, length = _channels(x)
        g3 = g.reshape(n, c, length)
        if _recording(g, x):  # recompute x - μ from the input tensor, so that it is differentiable
            x3 = x.reshape(n, c, length)
            if training:
                xc, rstd, _, _ = standardize(x3, "ncl", "c", eps, scaled=False)
            else:  # the running statistics are constants
                xc = x3 - running_mean.reshape(c, 1)
        gx = gw = gb = None
        if training and needs[0] or needs[3]:
            gw = np.einsum("ncl,ncl->c", g3, xc) * rstd.reshape(c)
        if training and needs[0] or needs[4]:
            gb = np.einsum("ncl->c", g3)
        if needs[0]:
            scale = rstd if w is None else rstd * w.reshape(c, 1)
            count = n * length
            # eval: x̂ is affine in x with fixed statistics, dx = g · γ · rstd
            gx = centered_vjp(g3, xc, scale, gb.reshape(c, 1) / count, gw.reshape(c, 1) * rstd / count) \
                if training else g3 * scale
            gx = gx.reshape(x.shape)
        return gx, None, None, gw if needs[3] else None, gb if needs[4] else None, None, None, None


# ---------------------------------------------------------------------------- layer norm
class LayerNorm(Primitive):
    """Layer normalisation of ``(*, D₁ … D_k)`` over the trailing ``normalized_shape`` dimensions,
    with an elementwise ``γ``/``β`` of that shape."""

    @staticmethod
    def forward(ctx, x, normalized_shape, w, b, eps):
        x2 = x.reshape(-1, math.prod(normalized_shape))
        xhat, rstd, _, _ = standardize(x2, "rd", "r", eps)
        ctx.save_for_backward(x, w, xhat, rstd)
        return affine(xhat, w, b, (-1,), _saves(ctx)).reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        x, w, xhat, rstd = ctx.saved_tensors
        needs = ctx.needs_input_grad
        shape = ctx.inputs[1]
        features = xhat.shape[1]
        g2 = g.reshape(-1, features)
        if _recording(g, x):
            xhat, rstd, _, _ = standardize(x.reshape(-1, features), "rd", "r", ctx.inputs[4])
        gw = np.einsum("rd,rd->d", g2, xhat).reshape(shape) if needs[2] else None
        gb = np.einsum("rd->d", g2).reshape(shape) if needs[3] else None
        gx = None
        if needs[0]:
            gh = g2 if w is None else g2 * w.reshape(-1)
            gx = centered_vjp(gh, xhat, rstd, _sum_keep("rd->r", gh) / features,
                              _sum_keep("rd,rd->r", gh, xhat) / features).reshape(x.shape)
        return gx, None, gw, gb, None


# ---------------------------------------------------------------------------- group norm
class GroupNorm(Primitive):
    """Group normalisation of ``(N, C, *)``: the channels are split into ``num_groups`` groups of
    ``C / num_groups``, each standardised per sample over its channels and positions; ``γ``/``β``
    are per channel."""

    @staticmethod
    def forward(ctx, x, num_groups, w, b, eps):
        n, c, length = _channels(x)
        xhat, rstd, _, _ = standardize(x.reshape(n, num_groups, c // num_groups * length), "ngk", "ng", eps)
        ctx.save_for_backward(x, w, xhat, rstd)
        return affine(xhat.reshape(n, c, length), w, b, (c, 1), _saves(ctx)).reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        x, w, xhat, rstd = ctx.saved_tensors
        needs = ctx.needs_input_grad
        n, c, length = _channels(x)
        if _recording(g, x):
            xhat, rstd, _, _ = standardize(x.reshape(xhat.shape), "ngk", "ng", ctx.inputs[4])
        g3 = g.reshape(n, c, length)
        gw = np.einsum("ncl,ncl->c", g3, xhat.reshape(n, c, length)) if needs[2] else None
        gb = np.einsum("ncl->c", g3) if needs[3] else None
        gx = None
        if needs[0]:
            gh = (g3 if w is None else g3 * w.reshape(c, 1)).reshape(xhat.shape)
            size = gh.shape[2]
            gx = centered_vjp(gh, xhat, rstd, _sum_keep("ngk->ng", gh) / size,
                              _sum_keep("ngk,ngk->ng", gh, xhat) / size).reshape(x.shape)
        return gx, None, gw, gb, None
