"""``MultiheadAttention``: attention over ``num_heads`` learned projections, as ``torch.nn.MultiheadAttention``."""

from __future__ import annotations

from typing import Any

from chainrule import creation
from chainrule.errors import ChainruleError
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.linear import Linear
from chainrule.nn.module import Module, Parameter
from chainrule.tensor import Tensor

__all__ = ["MultiheadAttention"]


class NonDynamicallyQuantizableLinear(Linear):
    """A :class:`Linear` under the name PyTorch gives the output projection of
    ``MultiheadAttention`` (so that the two reprs read the same)."""


class MultiheadAttention(Module):
    """``concat(head_1, …, head_h) W_oᵀ + b_o`` with ``head_i = softmax(q_i k_iᵀ / √D + mask) v_i``,
    ``q = query W_qᵀ + b_q`` (likewise ``k``, ``v``) cut into ``num_heads`` heads of
    ``D = embed_dim / num_heads`` features.

    Inputs are sequence first, ``(L, N, E)``, or ``(N, L, E)`` with ``batch_first=True``, or
    unbatched ``(L, E)``. When ``kdim`` and ``vdim`` equal ``embed_dim`` the three input projections
    are one parameter ``in_proj_weight (3E, E)``, else ``q_proj_weight``, ``k_proj_weight (E, kdim)``
    and ``v_proj_weight (E, vdim)``; ``in_proj_bias (3E,)`` and ``out_proj`` (a Linear) as in PyTorch,
    so that PyTorch state dicts load. Initialised as PyTorch: Xavier-uniform input projections, zero
    biases. ``dropout`` drops attention weights in training.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ChainruleError(
                f"MultiheadAttention: embed_dim must be a positive multiple of num_heads (each head gets "
                f"embed_dim / num_heads features), got embed_dim={embed_dim}, num_heads={num_heads}")
        if add_bias_kv or add_zero_attn:
            raise ChainruleError("MultiheadAttention: add_bias_kv=True and add_zero_attn=True are not supported")
        F._check_probability("MultiheadAttention", dropout)
        self.embed_dim = embed_dim
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads

        def weight(*shape: int) -> Parameter:
            return Parameter(creation.empty(shape, dtype=dtype, device=device))

        if self._qkv_same_embed_dim:
            self.in_proj_weight = weight(3 * embed_dim, embed_dim)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = weight(embed_dim, embed_dim)
            self.k_proj_weight = weight(embed_dim, self.kdim)
            self.v_proj_weight = weight(embed_dim, self.vdim)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = weight(3 * embed_dim)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-uniform input projections, zero biases (PyTorch's ``_reset_parameters``)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None,
                need_weights: bool = True, attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        """``(output, weights)``: the output has the query's layout; the weights are ``(N, L, S)``
        (``(N, num_heads, L, S)`` with ``average_attn_weights=False``) or None when
        ``need_weights=False``. Bool masks are True where attention is not allowed."""
        return F.multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias,
            self.bias_k, self.bias_v, self.add_zero_attn, self.dropout, self.out_proj.weight, self.out_proj.bias,
            training=self.training, key_padding_mask=key_padding_mask, need_weights=need_weights,
            attn_mask=attn_mask, use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight, v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights, is_causal=is_causal, batch_first=self.batch_first)
