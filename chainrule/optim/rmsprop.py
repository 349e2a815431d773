"""RMSprop: gradients divided by a running root mean square, optionally centered and with momentum."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.optim.optimizer import Optimizer, ParamsT, check_flags, check_number, state_array
from chainrule.tensor import Tensor


class RMSprop(Optimizer):
    r"""RMSprop (PyTorch's ``RMSprop``), for each parameter :math:`θ` with gradient :math:`∇`:

    .. math::
        g = ±∇ + λθ \ (−∇ \text{ when maximize}), \quad v ← α v + (1 − α) g^2, \quad
        \bar g ← α \bar g + (1 − α) g \text{ (centered)}

        d = \sqrt{v − \bar g^2} + ε \text{ (centered) else } \sqrt{v} + ε, \qquad
        b ← μ b + g / d,\ θ ← θ − η b \ (μ > 0) \quad\text{else}\quad θ ← θ − η\, g / d

    with learning rate η, smoothing ``alpha`` α, ``eps`` ε, weight decay λ and momentum μ. State:
    ``step``, ``square_avg`` (v), ``momentum_buffer`` (b, when μ > 0), ``grad_avg`` (ḡ, when centered).
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False, differentiable: bool = False) -> None:
        check_flags("RMSprop", differentiable)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def _check_group(self, group: dict[str, Any]) -> None:
        for name in ("lr", "eps", "weight_decay", "momentum"):
            check_number("RMSprop", name, group[name])
        check_number("RMSprop", "alpha", group["alpha"], 0.0, 1.0)

    def _update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        alpha, momentum = group["alpha"], group["momentum"]
        state["step"] = state.get("step", 0) + 1
        g = self._grad(p, grad, group["weight_decay"], group["maximize"])
        v, work = state_array(state, "square_avg", p._data), self._buffer(p._data)
        v *= alpha
        v += np.multiply(np.square(g, out=work), 1 - alpha, out=work)
        if group["centered"]:
            mean = state_array(state, "grad_avg", p._data)
            mean += np.multiply(np.subtract(g, mean, out=work), 1 - alpha, out=work)  # lerp towards g
            d = np.sqrt(np.subtract(v, np.square(mean, out=work), out=work), out=work)
        else:
            d = np.sqrt(v, out=work)
        d += group["eps"]
        step = np.divide(g, d, out=work)
        if momentum > 0:
            b = state_array(state, "momentum_buffer", p._data)
            b *= momentum
            step = np.add(b, step, out=b)
        p._data -= np.multiply(step, group["lr"], out=work)
