"""Adam and AdamW: adaptive moment estimation, with L2 or decoupled weight decay and AMSGrad."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.errors import ChainruleError
from chainrule.optim.optimizer import Optimizer, ParamsT, check_flags, check_number, state_array
from chainrule.tensor import Tensor


class Adam(Optimizer):
    r"""Adam (PyTorch's ``Adam``), for each parameter :math:`θ` with gradient :math:`∇`, at step :math:`t`:

    .. math::
        g = ±∇ + λθ \text{ (L2; −∇ when maximize)} \quad\text{or}\quad θ ← (1 − ηλ)θ,\ g = ±∇ \text{ (decoupled)}

        m ← β_1 m + (1 − β_1) g, \quad v ← β_2 v + (1 − β_2) g^2, \quad
        \hat v = \max(\hat v, v) \text{ (amsgrad) else } v

        θ ← θ − \frac{η}{1 − β_1^t} \, \frac{m}{\sqrt{\hat v / (1 − β_2^t)} + ε}

    with learning rate η, ``betas`` (β₁, β₂), ``eps`` ε and weight decay λ. State: ``step``,
    ``exp_avg`` (m), ``exp_avg_sq`` (v) and, with amsgrad, ``max_exp_avg_sq``.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False) -> None:
        check_flags(type(self).__name__, differentiable)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize, decoupled_weight_decay=decoupled_weight_decay))

    def _check_group(self, group: dict[str, Any]) -> None:
        owner = type(self).__name__
        for name in ("lr", "eps", "weight_decay"):
            check_number(owner, name, group[name])
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ChainruleError(f"{owner}: invalid betas {betas!r}: expected a pair (beta1, beta2)")
        for i, beta in enumerate(betas):
            check_number(owner, f"betas[{i}]", beta, 0.0, 1.0, high_open=True)

    def _update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        (beta1, beta2), decoupled = group["betas"], group["decoupled_weight_decay"]
        state["step"] = t = state.get("step", 0) + 1
        if decoupled and weight_decay != 0:
            p._data *= 1 - lr * weight_decay
        g = self._grad(p, grad, 0 if decoupled else weight_decay, group["maximize"])
        m, v = state_array(state, "exp_avg", p._data), state_array(state, "exp_avg_sq", p._data)
        work = self._buffer(p._data)
        m += np.multiply(np.subtract(g, m, out=work), 1 - beta1, out=work)  # m + (1 − β1)(g − m)
        v *= beta2
        v += np.multiply(np.square(g, out=work), 1 - beta2, out=work)
        if group["amsgrad"]:
            v_max = state_array(state, "max_exp_avg_sq", p._data)
            v = np.maximum(v_max, v, out=v_max)
        # √(v̂/(1−β2ᵗ)) + ε = (√v̂ + ε√(1−β2ᵗ)) / √(1−β2ᵗ): one pass fewer than dividing first
        root_correction2 = (1 - beta2 ** t) ** 0.5
        denominator = np.add(np.sqrt(v, out=work), eps * root_correction2, out=work)
        p._data -= np.multiply(np.divide(m, denominator, out=work), lr / (1 - beta1 ** t) * root_correction2,
                               out=work)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (PyTorch's ``AdamW``): :math:`θ ← (1 − ηλ)θ` before the Adam
    step instead of adding :math:`λθ` to the gradient; the default λ is 0.01."""

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         differentiable=differentiable, decoupled_weight_decay=True)
