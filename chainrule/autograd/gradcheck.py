"""Gradient checks: analytic gradients against float64 central finite differences.

``gradcheck`` builds the whole Jacobian both ways: the analytic one row by row with backward passes
(one per output element, weighted by a one-hot vector) and the numerical one column by column with
central differences (two forward passes per input element), then compares them elementwise with
``|analytic - numerical| <= atol + rtol * |numerical|``. ``gradgradcheck`` does the same for the
gradient function itself, recorded with ``create_graph=True``, which checks second derivatives.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from chainrule.autograd.engine import grad
from chainrule.errors import ChainruleError
from chainrule.tensor import Tensor, wrap

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(ChainruleError):
    """Analytic and numerical gradients disagree (the message says where and by how much)."""


def _as_tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _outputs(fn: Callable[..., Any], inputs: Sequence[Any]) -> tuple[Tensor, ...]:
    outs = _as_tuple(fn(*inputs))
    return tuple(o for o in outs if isinstance(o, Tensor) and o._data.dtype.kind == "f")


def _differentiable_inputs(inputs: Sequence[Any]) -> list[int]:
    positions = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not positions:
        raise ChainruleError("gradcheck: no input requires grad; pass tensors with requires_grad=True")
    for i in positions:
        if inputs[i]._data.dtype != np.float64:
            raise ChainruleError(
                f"gradcheck: input {i} has dtype {inputs[i].dtype}; finite differences need float64 "
                "inputs to be meaningful: convert with .double()")
    return positions


def numerical_jacobian(fn: Callable[..., Any], inputs: Sequence[Any], eps: float = 1e-6) -> list[list[np.ndarray]]:
    """``J[k][i]``: the Jacobian of output ``k`` with respect to differentiable input ``i``
    (shape ``(output.numel(), input.numel())``) by central differences."""
    positions = _differentiable_inputs(inputs)
    outputs = _outputs(fn, inputs)
    jac = [[np.zeros((o._data.size, inputs[i]._data.size)) for i in positions] for o in outputs]
    for col, i in enumerate(positions):
        data = inputs[i]._data  # perturbed in place, element by element, whatever its strides
        for j in range(data.size):
            index = np.unravel_index(j, data.shape)
            original = data[index]
            data[index] = original + eps
            plus = [o._data.astype(np.float64).reshape(-1) for o in _outputs(fn, inputs)]
            data[index] = original - eps
            minus = [o._data.astype(np.float64).reshape(-1) for o in _outputs(fn, inputs)]
            data[index] = original
            for k in range(len(outputs)):
                jac[k][col][:, j] = (plus[k] - minus[k]) / (2 * eps)
    return jac


def analytical_jacobian(fn: Callable[..., Any], inputs: Sequence[Any]) -> list[list[np.ndarray]]:
    """The same Jacobians as :func:`numerical_jacobian`, from backward passes."""
    positions = _differentiable_inputs(inputs)
    outputs = _outputs(fn, inputs)
    targets = [inputs[i] for i in positions]
    jac = [[np.zeros((o._data.size, inputs[i]._data.size)) for i in positions] for o in outputs]
    for k, out in enumerate(outputs):
        if not out.requires_grad:
            continue
        for row in range(out._data.size):
            seed = np.zeros(out._data.size, dtype=out._data.dtype)
            seed[row] = 1
            grads = grad(out, targets, wrap(seed.reshape(out._data.shape)), retain_graph=True,
                          allow_unused=True)
            for col, g in enumerate(grads):
                if g is not None:
                    jac[k][col][row] = g._data.reshape(-1)
    return jac


def gradcheck(fn: Callable[..., Any], inputs: Any, *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True, **_torch_options: Any) -> bool:
    """Check ``fn``'s gradients with respect to every input that requires grad (float64).

    Returns True when analytic and numerical Jacobians agree; otherwise raises
    :class:`GradcheckError` naming the input, the output and the worst element (or returns False
    with ``raise_exception=False``). PyTorch's other options (``fast_mode`` …) are accepted and
    ignored: the full Jacobian is always compared.
    """
    inputs = _as_tuple(inputs)
    positions = _differentiable_inputs(inputs)
    numerical = numerical_jacobian(fn, inputs, eps)
    analytical = analytical_jacobian(fn, inputs)
    for k, (num_rows, ana_rows) in enumerate(zip(numerical, analytical)):
        for col, (num, ana) in enumerate(zip(num_rows, ana_rows)):
            bad = ~(np.abs(ana - num) <= atol + rtol * np.abs(num))
            if bad.any():
                r, c = np.unravel_index(np.argmax(np.where(bad, np.abs(ana - num), -1)), bad.shape)
                message = (
                    f"gradcheck: the gradient of output {k} with respect to input {positions[col]} "
                    f"(shape {tuple(inputs[positions[col]]._data.shape)}) is wrong: "
                    f"{int(bad.sum())} of {bad.size} Jacobian entries differ; worst at output element "
                    f"{r}, input element {c}: analytical {ana[r, c]:.8g}, numerical {num[r, c]:.8g}.\n"
                    f"analytical:\n{ana}\nnumerical:\n{num}")
                if raise_exception:
                    raise GradcheckError(message)
                return False
    return True


def gradgradcheck(fn: Callable[..., Any], inputs: Any, grad_outputs: Any = None, *, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True,
                  seed: int = 0, **_torch_options: Any) -> bool:
    """Check second derivatives: ``gradcheck`` of the function ``(inputs, v) -> vᵀ J(inputs)``.

    ``grad_outputs`` (the vectors ``v``) are drawn at random (float64) when not given.
    """
    inputs = _as_tuple(inputs)
    positions = _differentiable_inputs(inputs)
    outputs = _outputs(fn, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = tuple(wrap(rng.standard_normal(o._data.shape), True) for o in outputs)
    else:
        grad_outputs = _as_tuple(grad_outputs)
    n = len(inputs)

    def first_derivatives(*args: Any) -> tuple[Tensor, ...]:
        xs, vs = args[:n], args[n:]
        outs = _outputs(fn, xs)
        targets = [xs[i] for i in positions]
        grads = grad(outs, targets, vs, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivatives, inputs + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
