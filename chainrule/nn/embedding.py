"""``Embedding``: a lookup table of learned vectors, one per integer index (e.g. a token id)."""

from __future__ import annotations

from typing import Any

from chainrule import creation
from chainrule.autograd import no_grad
from chainrule.errors import ChainruleError
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.embedding_functional import _padding_row
from chainrule.nn.module import Module, Parameter, _changed_options
from chainrule.tensor import Tensor

__all__ = ["Embedding"]


class Embedding(Module):
    """``weight[input]``: input indices of any shape, output ``input.shape + (embedding_dim,)``.

    ``weight`` has shape ``(num_embeddings, embedding_dim)`` and starts as in PyTorch, ``N(0, 1)``
    from chainrule's seeded generator, with the ``padding_idx`` row (negative counts from the end)
    zeroed; that row gets no gradient, so it stays as it is during training.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight: Tensor | None = None, _freeze: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = _padding_row("Embedding", padding_idx, num_embeddings)
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        if _weight is None:
            self.weight = Parameter(creation.empty((num_embeddings, embedding_dim), dtype=dtype, device=device),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ChainruleError(f"Embedding: _weight must have shape (num_embeddings, embedding_dim) = "
                                       f"{(num_embeddings, embedding_dim)}, got {tuple(_weight.shape)}")
            self.weight = Parameter(_weight.detach(), requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """Draw new initial values: ``N(0, 1)``, with the padding row zeroed (PyTorch's defaults)."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx].fill_(0)

    def forward(self, input: Tensor) -> Tensor:
        """``F.embedding(input, weight, padding_idx, …)``."""
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> Embedding:
        """An ``Embedding`` whose weight is the 2-d ``embeddings`` (sharing its memory); frozen
        (no gradient) unless ``freeze=False``."""
        if embeddings.ndim != 2:
            raise ChainruleError(f"Embedding.from_pretrained: embeddings must be 2-d (num_embeddings, "
                                   f"embedding_dim), got shape {tuple(embeddings.shape)}")
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse, _weight=embeddings,
                   _freeze=freeze)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}" + _changed_options(
            self, {"padding_idx": None, "max_norm": None, "norm_type": 2})
        if self.scale_grad_by_freq:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        if self.sparse:
            s += ", sparse=True"
        return s
