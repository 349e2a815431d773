"""Fused neural-network primitives: ``softmax`` and ``log_softmax``, each forward beside its VJP.

Both could be composed from exp, sum and log; they are primitives because the fused forward
subtracts the maximum along ``dim`` first (so no logit overflows: ``log_softmax([1e4, 0, -1e4])``
is ``[0, -1e4, -2e4]`` exactly) and each backward is one line on the saved output, with far fewer
temporaries than the composed graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd.function import Primitive
from chainrule.errors import ChainruleError
from chainrule.ops.reduce import one_dim
from chainrule.tensor import Tensor


def _shifted(x: np.ndarray, axis: int | None) -> np.ndarray:
    """``x - max(x)`` along ``axis``, as a new array (0-d included); ``initial`` lets empty slices
    through. Slices with no finite maximum become NaN, as in PyTorch."""
    return np.subtract(x, x.max(axis=axis, keepdims=True, initial=-np.inf), out=np.empty_like(x))


class Softmax(Primitive):
    @staticmethod
    def forward(ctx, x, axis):
        with np.errstate(invalid="ignore"):
            y = _shifted(x, axis)
        np.exp(y, out=y)
        y /= y.sum(axis=axis, keepdims=True)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        # y = e^x / Σe^x: ∂y_i/∂x_j = y_i (δ_ij - y_j), so dx = g·y - y Σ(g·y)
        (y,) = ctx.saved_tensors
        gy = g * y
        return gy - y * gy.sum(axis=ctx.inputs[1], keepdims=True), None


class LogSoftmax(Primitive):
    @staticmethod
    def forward(ctx, x, axis):
        with np.errstate(invalid="ignore", divide="ignore"):  # log 0 for empty slices
            y = _shifted(x, axis)
            y -= np.log(np.exp(y).sum(axis=axis, keepdims=True))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        # y = x - log Σe^x: ∂y_i/∂x_j = δ_ij - softmax_j, so dx = g - e^y Σg
        (y,) = ctx.saved_tensors
        return g - np.exp(y) * g.sum(axis=ctx.inputs[1], keepdims=True), None


def _prepare(op: str, input: Tensor, dim: int, dtype: Any) -> tuple[Tensor, int | None]:
    """The input cast to ``dtype`` (if given) and ``dim`` as a NumPy axis (None for a 0-d tensor)."""
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        raise ChainruleError(
            f"{op}: expected a floating tensor, got dtype {input.dtype}; pass dtype=chainrule.float32 "
            "or convert with .float()")
    ndim = input._data.ndim
    axis = one_dim(op, dim, ndim)
    return input, (axis if ndim else None)


def softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim``: each slice becomes positive and sums to 1.

    Computed stably (the maximum is subtracted first); ``dtype`` casts the input before the
    operation, as in PyTorch.
    """
    x, axis = _prepare("softmax", input, dim, dtype)
    return Softmax.apply(x, axis)


def log_softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """``x - log(sum(exp(x)))`` along ``dim``: the logarithm of ``softmax``, without its underflow.

    Finite and exact for logits far apart (``[1e4, 0, -1e4]`` gives ``[0, -1e4, -2e4]``);
    ``dtype`` casts the input first.
    """
    x, axis = _prepare("log_softmax", input, dim, dtype)
    return LogSoftmax.apply(x, axis)


TENSOR_METHODS = {"softmax": softmax, "log_softmax": log_softmax}
