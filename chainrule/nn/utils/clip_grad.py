"""Gradient clipping: rescale gradients to a maximum total norm, or clamp them elementwise.

Both work in place on the gradients' arrays (as ``torch.nn.utils``), after ``backward`` and before
``optimizer.step()``::

    loss.backward()
    chainrule.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    optimizer.step()
"""

from __future__ import annotations

import math
import types
import warnings
from typing import Iterable

import numpy as np

from chainrule.dtype import get_default_dtype
from chainrule.errors import ChainruleError
from chainrule.recording import replayed_call
from chainrule.tensor import Tensor, wrap

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm"]

TensorOrTensors = Tensor | Iterable[Tensor]


def _grads(parameters: TensorOrTensors) -> list[np.ndarray]:
    """The gradient arrays of ``parameters`` (a tensor or an iterable of tensors) that have one."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad._data for p in parameters if p.grad is not None]


def _vector_norm(x: np.ndarray, norm_type: float) -> np.floating:
    """The ``norm_type``-norm of all elements of ``x``, in ``x``'s dtype: ``(Σ|x|^p)^(1/p)``; ``inf``
    is the largest magnitude, ``-inf`` the smallest, ``0`` the number of nonzeros."""
    x = x.ravel()
    if norm_type == 2:
        return np.sqrt(np.dot(x, x))
    if x.size == 0:
        return x.dtype.type(0)
    if norm_type == math.inf:
        return np.max(np.abs(x))
    if norm_type == -math.inf:
        return np.min(np.abs(x))
    if norm_type == 0:
        return x.dtype.type(np.count_nonzero(x))
    if norm_type == 1:
        return np.sum(np.abs(x))
    return np.sum(np.abs(x) ** norm_type) ** (1 / norm_type)


def _total_norm(arrays: list[np.ndarray], norm_type: float, error_if_nonfinite: bool) -> np.ndarray:
    norm_type = float(norm_type)
    if not arrays:
        return np.array(0.0, dtype=get_default_dtype().numpy)
    dtype = np.result_type(*arrays)
    total = _vector_norm(np.array([_vector_norm(a, norm_type) for a in arrays], dtype=dtype), norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise ChainruleError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}, so they "
            "cannot be clipped; find where the loss or the gradients become NaN or infinite, or pass "
            "error_if_nonfinite=False to scale them by the non-finite norm anyway")
    return np.asarray(total, dtype=dtype)


def get_total_norm(tensors: TensorOrTensors, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:
    """The ``norm_type``-norm of all ``tensors`` together (the norm of their norms), as a 0-d tensor.

    Raises if it is NaN or infinite and ``error_if_nonfinite``. ``foreach`` is accepted (PyTorch's
    implementation choice) and means nothing here.
    """
    tensors = [tensors] if isinstance(tensors, Tensor) else tensors
    return wrap(_total_norm([t._data for t in tensors], norm_type, error_if_nonfinite))


@replayed_call
def clip_grads_with_norm_(parameters: TensorOrTensors, max_norm: float, total_norm: Tensor,
                          foreach: bool | None = None) -> None:
    """Scale the gradients of ``parameters`` in place by ``min(1, max_norm / (total_norm + 1e-6))``."""
    grads = _grads(parameters)
    if not grads:
        return
    norm = total_norm._data if isinstance(total_norm, Tensor) else np.asarray(total_norm)
    coefficient = np.minimum(float(max_norm) / (norm + norm.dtype.type(1e-6)), norm.dtype.type(1.0))
    with np.errstate(invalid="ignore"):  # a non-finite norm spreads NaNs, as in PyTorch, silently
        for g in grads:
            np.multiply(g, coefficient, out=g)


@replayed_call
def clip_grad_norm_(parameters: TensorOrTensors, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Rescale the gradients of ``parameters`` in place so that their total ``norm_type``-norm is at
    most ``max_norm`` (exactly: scale by ``min(1, max_norm / (norm + 1e-6))``).

    Returns the total norm before clipping, as a 0-d tensor. ``norm_type`` may be ``inf``. With
    ``error_if_nonfinite=True`` a NaN or infinite norm raises instead of spreading NaNs.
    """
    if isinstance(parameters, types.GeneratorType):
        parameters = list(parameters)
        if not parameters:
            warnings.warn("clip_grad_norm_: `parameters` is an empty generator, no gradient clipping will "
                          "occur", stacklevel=2)
    elif not isinstance(parameters, Tensor):
        parameters = list(parameters)
    total_norm = wrap(_total_norm(_grads(parameters), norm_type, error_if_nonfinite))
    clip_grads_with_norm_(parameters, max_norm, total_norm)
    return total_norm


def clip_grad_norm(parameters: TensorOrTensors, max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Deprecated name of :func:`clip_grad_norm_` (as in PyTorch)."""
    warnings.warn("chainrule.nn.utils.clip_grad_norm is deprecated in favor of clip_grad_norm_",
                  FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite)


@replayed_call
def clip_grad_value_(parameters: TensorOrTensors, clip_value: float, foreach: bool | None = None) -> None:
    """Clamp the gradients of ``parameters`` in place to ``[-clip_value, clip_value]``."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        np.clip(g, -clip_value, clip_value, out=g)
