"""``TransformerEncoderLayer``: self-attention and a feed-forward block, each with a residual
connection and layer normalisation, as ``torch.nn.TransformerEncoderLayer``."""

from __future__ import annotations

from typing import Any, Callable

from chainrule.errors import ChainruleError
from chainrule.nn import functional as F
from chainrule.nn.attention import MultiheadAttention
from chainrule.nn.dropout import Dropout
from chainrule.nn.linear import Linear
from chainrule.nn.module import Module
from chainrule.nn.normalization import LayerNorm
from chainrule.tensor import Tensor

__all__ = ["TransformerEncoderLayer"]

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


class TransformerEncoderLayer(Module):
    """One encoder layer of "Attention Is All You Need": with ``norm_first=False`` (post-norm)

        x = norm1(x + dropout1(self_attn(x, x, x)))
        x = norm2(x + dropout2(linear2(dropout(activation(linear1(x))))))

    and with ``norm_first=True`` (pre-norm) ``x = x + dropout1(self_attn(norm1(x), …))``, then
    ``x = x + dropout2(ff(norm2(x)))``. Inputs are ``(S, N, d_model)`` (``(N, S, d_model)`` with
    ``batch_first=True``) or unbatched ``(S, d_model)``. ``activation`` is ``'relu'``, ``'gelu'``
    or a callable. Submodules carry PyTorch's names, so that PyTorch state dicts load.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Tensor], Tensor] = "relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        if isinstance(activation, str):
            if activation not in _ACTIVATIONS:
                raise ChainruleError(f"TransformerEncoderLayer: activation should be 'relu' or 'gelu' (or a "
                                     f"callable), got {activation!r}")
            activation = _ACTIVATIONS[activation]
        factory = dict(device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            **factory)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = activation

    def forward(self, src: Tensor, src_mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool = False) -> Tensor:
        """The encoded sequence, of ``src``'s shape. ``src_mask`` (``(S, S)`` or ``(N·nhead, S, S)``)
        and ``src_key_padding_mask`` (``(N, S)``) are True (or ``-inf``) where attention is not
        allowed; ``is_causal`` is a hint that ``src_mask`` is the causal mask."""
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x: Tensor, mask: Tensor | None, key_padding_mask: Tensor | None, is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))
