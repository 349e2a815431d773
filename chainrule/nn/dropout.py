"""``Dropout`` and ``Dropout2d``: randomly zero activations (or whole channels) during training."""

from __future__ import annotations

from chainrule.nn import functional as F
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = ["Dropout", "Dropout2d"]


class Dropout(Module):
    """In training mode, zero each element with probability ``p`` and scale the rest by
    ``1 / (1 - p)`` (inverted dropout, so evaluation needs no rescaling); the identity after
    ``eval()``. Masks come from chainrule's seeded generator."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        F._check_probability(type(self).__name__, p)
        self.p = p
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        """``F.dropout(input, p, training, inplace)``."""
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    """Channel dropout for ``(N, C, H, W)``: in training mode, zero each whole channel with probability
    ``p`` and scale the kept ones by ``1 / (1 - p)``; the identity after ``eval()``. Neighbouring
    pixels of a feature map are correlated, so dropping whole maps regularises convolutions better
    than dropping pixels."""

    def forward(self, input: Tensor) -> Tensor:
        """``F.dropout2d(input, p, training, inplace)``."""
        return F.dropout2d(input, self.p, self.training, self.inplace)
