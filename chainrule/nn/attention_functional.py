"""Attention functions of ``chainrule.nn.functional``, with PyTorch's signatures, defaults and layouts.

``scaled_dot_product_attention`` is the fused primitive
:class:`chainrule.ops.attention.ScaledDotProductAttention` behind PyTorch's mask conventions;
``multi_head_attention_forward`` is the computation of ``nn.MultiheadAttention`` (projections,
heads, masks, attention, output projection) on top of it.

Mask conventions follow PyTorch, which uses opposite meanings for boolean masks in the two:
in ``scaled_dot_product_attention`` True means *takes part*; in ``multi_head_attention_forward``
(``attn_mask``, ``key_padding_mask``) True means *masked out*. Float masks are added to the scores
in both (``-inf`` removes a key) and are differentiable.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.errors import ChainruleError
from chainrule.nn import functional as F
from chainrule.ops.attention import ScaledDotProductAttention
from chainrule.tensor import Tensor

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


# ---------------------------------------------------------------------------- masks and dropout
def _additive_mask(op: str, name: str, mask: Any, dtype: np.dtype, masked_when: bool) -> Any:
    """A mask as something to add to the scores: a float tensor as it is (differentiable), a bool
    tensor as an array of 0 and ``-inf`` (``-inf`` where the mask equals ``masked_when``)."""
    if not isinstance(mask, Tensor):
        raise ChainruleError(f"{op}: {name} must be a Tensor (bool or of the query's dtype), got "
                             f"{type(mask).__name__}")
    m = mask._data
    if m.dtype == np.bool_:
        return np.where(m == masked_when, -np.inf, 0).astype(dtype)
    if m.dtype != dtype:
        raise ChainruleError(
            f"{op}: {name} must be bool or have the query's dtype {dtype}, got {m.dtype} of shape {m.shape}; "
            f"convert it with .to(query.dtype) (float masks are added to the scores) or .bool()")
    return mask


def _causal_mask(length: int, source_length: int, dtype: np.dtype) -> np.ndarray:
    """``(L, S)``: 0 on and below the diagonal that starts at the top-left corner, ``-inf`` above
    (query ``i`` sees keys ``0 … i``, as PyTorch's ``is_causal`` also for L ≠ S)."""
    return np.where(np.tri(length, source_length, dtype=bool), 0, -np.inf).astype(dtype)


# ---------------------------------------------------------------------------- scaled dot-product attention
def _check_qkv(op: str, query: Any, key: Any, value: Any) -> tuple[int, ...]:
    """Check ``query (…, L, E)``, ``key (…, S, E)``, ``value (…, S, Ev)``; return the scores' shape."""
    if not all(isinstance(t, Tensor) for t in (query, key, value)):
        raise ChainruleError(f"{op}: query, key and value must be Tensors, got "
                             + ", ".join(type(t).__name__ for t in (query, key, value)))
    q, k, v = query._data, key._data, value._data
    what = f"query {q.shape} ({q.dtype}), key {k.shape} ({k.dtype}), value {v.shape} ({v.dtype})"
    if q.dtype.kind != "f" or not q.dtype == k.dtype == v.dtype:
        raise ChainruleError(f"{op}: query, key and value must have the same floating dtype, got {what}; "
                             "convert them with .float() or .double()")
    if min(q.ndim, k.ndim, v.ndim) < 2 or q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ChainruleError(f"{op}: expected query (…, L, E), key (…, S, E) and value (…, S, Ev), got {what}")
    try:
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ChainruleError(f"{op}: the batch dimensions of {what} do not broadcast") from None
    return tuple(batch) + (q.shape[-2], k.shape[-2])


def _attend(op: str, query: Tensor, key: Tensor, value: Tensor, shape: tuple[int, ...], mask: Any,
            dropout_p: float, scale: float | None, need_weights: bool) -> Any:
    """Run the fused primitive on checked inputs whose scores have ``shape``, with an additive
    ``mask`` (array, tensor or None) that broadcasts to that shape; ``dropout_p`` drops weights
    with inverted dropout's multiplier from chainrule's generator (as ``F.dropout`` draws it)."""
    if scale is None:
        scale = 1.0 / math.sqrt(query._data.shape[-1])
    F._check_probability(op, dropout_p)
    keep = None if dropout_p == 0 else F._dropout_mask(shape, dropout_p, query._data.dtype)
    return ScaledDotProductAttention.apply(query, key, value, mask, float(scale), keep, need_weights)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """``dropout(softmax(query keyᵀ · scale + mask)) value`` for ``query (…, L, E)``,
    ``key (…, S, E)``, ``value (…, S, Ev)``; the result is ``(…, L, Ev)``.

    ``scale`` defaults to ``1/√E``. ``attn_mask`` broadcasts to ``(…, L, S)``: a bool mask keeps
    the scores where it is True (the others become ``-inf``), a float mask (the query's dtype) is
    added to the scores. ``is_causal=True`` lets query ``i`` see keys ``0 … i`` only (the top-left
    lower triangle, also when L ≠ S) and excludes ``attn_mask``. A query that sees no key gets a zero
    output, as in PyTorch. ``dropout_p`` drops attention weights with chainrule's generator (pass
    ``dropout_p=0.0`` when evaluating: this function has no training flag).
    """
    op = "scaled_dot_product_attention"
    if enable_gqa:
        raise ChainruleError(f"{op}: enable_gqa=True (grouped-query attention) is not supported; repeat the "
                             "key and value heads to the query's number of heads instead")
    shape = _check_qkv(op, query, key, value)
    dtype = query._data.dtype
    mask = None
    if is_causal:
        if attn_mask is not None:
            raise ChainruleError(f"{op}: attn_mask must be None when is_causal=True (the causal mask is built "
                                 "in); pass either the mask or is_causal")
        mask = _causal_mask(query._data.shape[-2], key._data.shape[-2], dtype)
    elif attn_mask is not None:
        mask = _additive_mask(op, "attn_mask", attn_mask, dtype, masked_when=False)
        try:  # (the causal mask, and multi-head attention's masks, fit by construction)
            fits = np.broadcast_shapes(mask.shape, shape) == shape
        except ValueError:
            fits = False
        if not fits:
            raise ChainruleError(f"{op}: the attention mask of shape {tuple(mask.shape)} does not broadcast to the "
                                 f"scores' shape (…, L, S) = {shape}")
    return _attend(op, query, key, value, shape, mask, dropout_p, scale, need_weights=False)


# ---------------------------------------------------------------------------- multi-head attention
def _check_mha_inputs(query: Tensor, key: Tensor, value: Tensor, embed_dim: int, batch_first: bool) -> bool:
    """Check the layouts ``(L, N, E)`` (``(N, L, E)`` batch first) or unbatched ``(L, E)``; return
    whether the inputs are batched."""
    op = "MultiheadAttention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise ChainruleError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    q, k, v = query._data, key._data, value._data
    if q.ndim not in (2, 3) or q.shape[-1] != embed_dim:
        raise ChainruleError(
            f"{op}: expected query of shape (L, N, embed_dim={embed_dim}) ((N, L, {embed_dim}) with "
            f"batch_first=True) or unbatched (L, {embed_dim}), got {q.shape}")
    batch = 0 if batch_first else 1
    if k.ndim != q.ndim or v.ndim != q.ndim or k.shape[:-1] != v.shape[:-1] or (
            q.ndim == 3 and k.shape[batch] != q.shape[batch]):
        layout = "(N, L, E), (N, S, kdim), (N, S, vdim)" if batch_first else "(L, N, E), (S, N, kdim), (S, N, vdim)"
        raise ChainruleError(
            f"{op}: key and value must have the query's number of dimensions, the same source length S and "
            f"the same batch size: got query {q.shape}, key {k.shape}, value {v.shape} (expected {layout})")
    return q.ndim == 3


def _mha_mask(attn_mask: Any, key_padding_mask: Any, n: int, heads: int, length: int, source_length: int,
              dtype: np.dtype) -> Any:
    """``attn_mask`` (``(L, S)`` or ``(N·heads, L, S)``) and ``key_padding_mask`` (``(N, S)``) as
    one additive mask broadcastable to the scores ``(N, heads, L, S)``; None without either."""
    op = "MultiheadAttention"
    mask = None
    if attn_mask is not None:
        mask = _additive_mask(op, "attn_mask", attn_mask, dtype, masked_when=True)
        if tuple(mask.shape) == (n * heads, length, source_length):
            mask = mask.reshape(n, heads, length, source_length)
        elif tuple(mask.shape) != (length, source_length):
            raise ChainruleError(
                f"{op}: attn_mask must have shape (L, S) = {(length, source_length)} or (N·num_heads, L, S) = "
                f"{(n * heads, length, source_length)}, got {tuple(attn_mask.shape)}")
    if key_padding_mask is not None:
        pad = _additive_mask(op, "key_padding_mask", key_padding_mask, dtype, masked_when=True)
        if tuple(pad.shape) != (n, source_length):
            raise ChainruleError(f"{op}: key_padding_mask must have shape (N, S) = {(n, source_length)} "
                                 f"((S,) = ({source_length},) unbatched), got {tuple(key_padding_mask.shape)}")
        pad = pad.reshape(n, 1, 1, source_length)
        mask = pad if mask is None else mask + pad
    return mask


def _split_heads(x: Tensor, heads: int, batch_first: bool) -> Tensor:
    """``(L, N, heads·D)`` (or ``(N, L, heads·D)``) to ``(N, heads, L, D)``, as a view."""
    return x.reshape(*x.shape[:2], heads, -1).permute((0, 2, 1, 3) if batch_first else (1, 2, 0, 3))


def multi_head_attention_forward(
        query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
        in_proj_weight: Tensor | None, in_proj_bias: Tensor | None, bias_k: Tensor | None, bias_v: Tensor | None,
        add_zero_attn: bool, dropout_p: float, out_proj_weight: Tensor, out_proj_bias: Tensor | None,
        training: bool = True, key_padding_mask: Tensor | None = None, need_weights: bool = True,
        attn_mask: Tensor | None = None, use_separate_proj_weight: bool = False, q_proj_weight: Tensor | None = None,
        k_proj_weight: Tensor | None = None, v_proj_weight: Tensor | None = None, static_k: Tensor | None = None,
        static_v: Tensor | None = None, average_attn_weights: bool = True, is_causal: bool = False, *,
        batch_first: bool = False) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention, sequence first: ``query (L, N, E)``, ``key (S, N, kdim)``,
    ``value (S, N, vdim)`` (or unbatched ``(L, E)``, ``(S, kdim)``, ``(S, vdim)``).

    Per head ``h``: ``softmax(q_h k_hᵀ / √D + mask) v_h`` with ``q = query W_qᵀ + b_q`` (likewise
    ``k``, ``v``) cut into ``num_heads`` heads of ``D = E / num_heads`` features; the heads side by
    side go through the output projection. Returns ``(output (L, N, E), weights)``, the weights
    ``(N, L, S)`` averaged over heads (``(N, num_heads, L, S)`` with ``average_attn_weights=False``)
    or None when ``need_weights=False``. Boolean masks are True where attention is *not* allowed.
    ``is_causal`` is a hint that ``attn_mask`` is the causal mask (it is required with it). A query
    that sees no key gets zero weights and output (PyTorch gives NaN weights there).

    ``batch_first=True`` (keyword only, a chainrule extension) takes and returns batched tensors
    as ``(N, L, E)``, projecting them in their own layout rather than through transposed copies.
    """
    op = "MultiheadAttention"
    if bias_k is not None or bias_v is not None or add_zero_attn or static_k is not None or static_v is not None:
        raise ChainruleError(f"{op}: add_bias_kv, add_zero_attn, static_k and static_v are not supported")
    batched = _check_mha_inputs(query, key, value, embed_dim_to_check, batch_first)
    batch_first = batch_first and batched
    batch_axis, seq_axis = (0, 1) if batch_first else (1, 0)
    if not batched:  # a batch of one, dropped again at the end
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    n, length, source_length, e = query.shape[batch_axis], query.shape[seq_axis], key.shape[seq_axis], query.shape[2]
    if is_causal and attn_mask is None:
        raise ChainruleError(f"{op}: is_causal=True is a hint that attn_mask is the causal mask, so attn_mask is "
                             "required too: pass the (L, S) bool mask that is True above the diagonal")
    dtype = query._data.dtype
    if is_causal and key_padding_mask is None and not need_weights:
        mask = _causal_mask(length, source_length, dtype)
    else:
        mask = _mha_mask(attn_mask, key_padding_mask, n, num_heads, length, source_length, dtype)

    if not use_separate_proj_weight and query is key and key is value:  # one product for q, k and v
        qkv = F.linear(query, in_proj_weight, in_proj_bias).reshape(*query.shape[:2], 3, num_heads, -1)
        q, k, v = qkv.permute((2, 0, 3, 1, 4) if batch_first else (2, 1, 3, 0, 4)).unbind(0)
    else:
        if use_separate_proj_weight:
            w_q, w_k, w_v = q_proj_weight, k_proj_weight, v_proj_weight
        else:
            w_q, w_k, w_v = in_proj_weight.chunk(3)
        b_q, b_k, b_v = (None,) * 3 if in_proj_bias is None else in_proj_bias.chunk(3)
        q, k, v = (_split_heads(F.linear(x, w, b), num_heads, batch_first)
                   for x, w, b in ((query, w_q, b_q), (key, w_k, b_k), (value, w_v, b_v)))

    shape = (n, num_heads, length, source_length)
    result = _attend(op, q, k, v, shape, mask, dropout_p if training else 0.0, None, need_weights)
    heads, weights = result if need_weights else (result, None)
    # (N, heads, L, D) back to the input's layout with the heads side by side
    merged = heads.permute((0, 2, 1, 3) if batch_first else (2, 0, 1, 3)).reshape(*query.shape[:2], e)
    out = F.linear(merged, out_proj_weight, out_proj_bias)
    if weights is not None and average_attn_weights:
        weights = weights.mean(1)
    if not batched:
        out = out.squeeze(1)
        weights = None if weights is None else weights.squeeze(0)
    return out, weights
