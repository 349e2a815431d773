"""Linear algebra primitives: matrix products, each forward beside its vector-Jacobian product."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd.function import Primitive
from chainrule.errors import ChainruleError
from chainrule.ops.elementwise import promote
from chainrule.tensor import Tensor


class Matmul(Primitive):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, g):
        # C = A B: dA = G Bᵀ, dB = Aᵀ G; 1-D operands are lifted to matrices and dropped again
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:
            return (g @ b.T if need_a else None), (a.T @ g if need_b else None)
        a2 = a if a.ndim > 1 else a.reshape(1, -1)
        b2 = b if b.ndim > 1 else b.reshape(-1, 1)
        g2 = g.reshape(_product_shape(a2.shape, b2.shape))
        ga = g2 @ np.swapaxes(b2, -1, -2) if need_a else None
        gb = np.swapaxes(a2, -1, -2) @ g2 if need_b else None
        if ga is not None and a.ndim == 1:
            ga = ga.reshape(ga.shape[:-2] + (a.shape[0],)) if ga.ndim > 2 else ga.reshape(a.shape)
        if gb is not None and b.ndim == 1:
            gb = gb.reshape(gb.shape[:-2] + (b.shape[0],)) if gb.ndim > 2 else gb.reshape(b.shape)
        return ga, gb


def _product_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    batch = np.broadcast_shapes(a[:-2], b[:-2])
    return tuple(batch) + (a[-2], b[-1])


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Matrix product with ``torch.matmul``'s rules (1-D, 2-D, batched with broadcasting)."""
    a, b = promote(input, other)
    sa, sb = np.shape(a._data if isinstance(a, Tensor) else a), np.shape(b._data if isinstance(b, Tensor) else b)
    if not sa or not sb:
        raise ChainruleError(f"matmul: both arguments need at least one dimension, got shapes {sa} and {sb}")
    ka = sa[-1]
    kb = sb[0] if len(sb) == 1 else sb[-2]
    if ka != kb:
        raise ChainruleError(
            f"matmul: cannot multiply {sa} by {sb}: inner dimensions {ka} and {kb} differ")
    if len(sa) > 2 or len(sb) > 2:
        try:
            np.broadcast_shapes(sa[:-2] if len(sa) > 1 else (), sb[:-2] if len(sb) > 1 else ())
        except ValueError:
            raise ChainruleError(
                f"matmul: batch dimensions of {sa} and {sb} do not broadcast") from None
    return Matmul.apply(a, b)


def _rmatmul(self: Tensor, other: Any) -> Tensor:
    return matmul(other, self)


TENSOR_METHODS = {"matmul": matmul, "__matmul__": matmul, "__rmatmul__": _rmatmul}
NUMPY_UFUNCS = {np.matmul: matmul}
