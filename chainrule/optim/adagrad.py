"""Adagrad: per-coordinate step sizes from the running sum of squared gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.optim.optimizer import Optimizer, ParamsT, check_flags, check_number, state_array
from chainrule.tensor import Tensor


class Adagrad(Optimizer):
    r"""Adagrad (PyTorch's ``Adagrad``), for each parameter :math:`θ` with gradient :math:`∇`, at step :math:`t`:

    .. math::
        g = ±∇ + λθ \ (−∇ \text{ when maximize}), \qquad s ← s + g^2 \quad (s_0 = \text{initial\_accumulator\_value})

        θ ← θ − \frac{η}{1 + (t − 1)\,δ} \, \frac{g}{\sqrt{s} + ε}

    with learning rate η, ``lr_decay`` δ, weight decay λ and ``eps`` ε. State: ``step``, ``sum`` (s).
    (The state is created at a parameter's first step, from its group's ``initial_accumulator_value``.)
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, fused: bool | None = None) -> None:
        check_flags("Adagrad", differentiable)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, maximize=maximize))

    def _check_group(self, group: dict[str, Any]) -> None:
        for name in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            check_number("Adagrad", name, group[name])

    def _update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        state["step"] = t = state.get("step", 0) + 1
        s = state_array(state, "sum", p._data, group["initial_accumulator_value"])
        g = self._grad(p, grad, group["weight_decay"], group["maximize"])
        work = self._buffer(p._data)
        s += np.square(g, out=work)
        d = np.add(np.sqrt(s, out=work), group["eps"], out=work)
        p._data -= np.multiply(np.divide(g, d, out=work), group["lr"] / (1 + (t - 1) * group["lr_decay"]), out=work)
