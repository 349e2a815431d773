"""``embedding``: look up rows of a table by integer index (part of ``chainrule.nn.functional``)."""

from __future__ import annotations

import numpy as np

from chainrule.errors import ChainruleError
from chainrule.ops.embedding import Embedding
from chainrule.tensor import Tensor

__all__ = ["embedding"]


def _padding_row(op: str, padding_idx: int | None, rows: int) -> int | None:
    """``padding_idx`` as a row number in ``[0, rows)`` (negative counts from the end), or an error."""
    if padding_idx is None:
        return None
    if not -rows <= padding_idx < rows:
        raise ChainruleError(f"{op}: padding_idx must be within num_embeddings: in [{-rows}, {rows - 1}], "
                             f"got {padding_idx}")
    return padding_idx % rows


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """``weight[input]``: for each integer index in ``input`` (int32 or int64, any shape), its row of
    ``weight`` ``(num_embeddings, embedding_dim)``; the result is ``input.shape + (embedding_dim,)``.

    ``d/dweight``: row ``r`` receives the sum of the gradients of every position whose index is ``r``
    (repeated indices accumulate), except the ``padding_idx`` row, which receives none.
    """
    op = "embedding"
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise ChainruleError(f"{op}: max_norm, scale_grad_by_freq and sparse are not supported; renormalise the "
                             "weight yourself (e.g. with torch-style clip in a no_grad block) or leave them unset")
    indices = input._data if isinstance(input, Tensor) else np.asarray(input)
    table = weight._data
    if indices.dtype.kind not in "iu" or table.ndim != 2:
        raise ChainruleError(f"{op}: expected integer indices (int32 or int64) and a 2-d weight (num_embeddings, "
                             f"embedding_dim), got indices of dtype {indices.dtype} and a weight of shape "
                             f"{tuple(table.shape)}; convert the indices with .long()")
    rows = table.shape[0]
    pad = _padding_row(op, padding_idx, rows)
    try:
        if indices.size and indices.min() < 0:  # NumPy would count negative indices from the end
            raise IndexError
        # the index tensor itself when there is one: a compiled step then replays with each batch's indices
        return Embedding.apply(weight, input if isinstance(input, Tensor) else indices, pad)
    except IndexError:
        raise ChainruleError(f"{op}: index out of range: the indices must be in [0, {rows - 1}] for a table of "
                             f"{rows} rows (num_embeddings), got values in [{indices.min()}, {indices.max()}]"
                             ) from None
