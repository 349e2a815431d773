"""Embedding lookup: ``y = weight[indices]`` and its adjoint, a row scatter-add that skips the padding row.

* ``Embedding``        y = weight[indices]                       dweight = ``EmbeddingScatter``(g)
* ``EmbeddingScatter`` dw[indices[p]] += g[p] (not the padding row)  dg = ``Embedding``(gg), 0 at padding
"""

from __future__ import annotations

import numpy as np

from chainrule.autograd.function import Primitive, run_primitive
from chainrule.tensor import Tensor

__all__ = ["Embedding", "EmbeddingScatter"]


class Embedding(Primitive):
    """``weight[indices]``: one row of ``weight`` per index, ``indices.shape + (embedding_dim,)``."""

    @staticmethod
    def forward(ctx, weight, indices, padding_idx):
        ctx.rows = weight.shape[0]
        return np.take(weight, indices, axis=0)

    @staticmethod
    def backward(ctx, g):  # y[p] = w[i_p]: dw[r] = Σ_{p: i_p = r} g[p], and 0 for the padding row
        _, indices, padding_idx = ctx.inputs
        if isinstance(indices, Tensor):  # (the functional passes the index tensor itself)
            indices = indices._data
        return run_primitive(EmbeddingScatter, g, indices, padding_idx, ctx.rows), None, None


class EmbeddingScatter(Primitive):
    """A ``(rows, D)`` gradient with each row of ``g`` added at its index (repeats add up), and zeros
    in the ``padding_idx`` row."""

    @staticmethod
    def forward(ctx, g, indices, padding_idx, rows):
        dim = g.shape[-1]
        out = np.zeros(rows * dim, g.dtype)
        # out[i_p, :] += g[p, :] with repeats adding up: NumPy's unbuffered add on the flat positions
        # i_p·D + j (its 1-d fast path is several times faster than on rows or than sort-and-reduceat)
        positions = (indices.reshape(-1, 1).astype(np.intp, copy=False) * dim + np.arange(dim)).ravel()
        np.add.at(out, positions, g.reshape(-1))
        out = out.reshape(rows, dim)
        if padding_idx is not None:
            out[padding_idx] = 0
        return out

    @staticmethod
    def backward(ctx, gg):  # linear in g: the adjoint of the scatter is the lookup, 0 at padding positions
        _, indices, padding_idx, _ = ctx.inputs
        gathered = run_primitive(Embedding, gg, indices, None)
        if padding_idx is not None:
            gathered = gathered * (indices != padding_idx)[..., None].astype(gathered.dtype)
        return gathered, None, None, None
