"""Normalisation functions of ``chainrule.nn.functional``: ``batch_norm``, ``layer_norm`` and
``group_norm``, with PyTorch's signatures, defaults and semantics.

Each checks its arguments (shapes, dtypes, group counts) with a few comparisons and calls one fused
primitive of :mod:`chainrule.ops.normalization`; the errors name the function, the expected and
received shapes, and the fix.
"""

from __future__ import annotations

import operator
from typing import Any, Sequence

from chainrule.errors import ChainruleError
from chainrule.ops.normalization import BatchNorm, GroupNorm, LayerNorm
from chainrule.tensor import Tensor

__all__ = ["batch_norm", "layer_norm", "group_norm"]


def _check_input(op: str, input: Any, min_ndim: int, layout: str) -> None:
    if not isinstance(input, Tensor):
        raise ChainruleError(f"{op}: expected a Tensor input, got {type(input).__name__}")
    if input._data.dtype.kind != "f":
        raise ChainruleError(f"{op}: expected a floating input, got dtype {input.dtype} of shape "
                             f"{tuple(input.shape)}; convert with .float()")
    if input._data.ndim < min_ndim:
        raise ChainruleError(f"{op}: expected an input of shape {layout}, got {tuple(input.shape)}")


def _check_param(op: str, name: str, value: Any, shape: tuple[int, ...], input: Tensor, what: str) -> None:
    """``value`` (``None`` allowed) must be a tensor of ``shape`` and of the input's dtype."""
    if value is None:
        return
    if not isinstance(value, Tensor):
        raise ChainruleError(f"{op}: {name} must be a Tensor or None, got {type(value).__name__}")
    if value._data.shape != shape:
        raise ChainruleError(f"{op}: {name} must have shape {shape} ({what}) for an input of shape "
                             f"{tuple(input.shape)}, got {tuple(value.shape)}")
    if value._data.dtype != input._data.dtype:
        raise ChainruleError(f"{op}: {name} has dtype {value.dtype} but the input has {input.dtype}; convert "
                             "the input (x.float() / x.double()) or the model (model.to(dtype))")


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """Batch normalisation of ``input`` ``(N, C, *)`` per channel: ``γ · (x - μ) / √(σ² + eps) + β``.

    With ``training=True``, ``μ`` and ``σ²`` (biased) are the batch statistics over every axis but
    the channel axis, and ``running_mean``/``running_var`` (if given) are updated in place,
    ``r ← (1 - momentum) · r + momentum · s``, with the unbiased batch variance; with
    ``training=False`` the running statistics are used. The running statistics never enter the
    autograd graph."""
    op = "batch_norm"
    _check_input(op, input, 2, "(N, C) or (N, C, *)")
    shape = input._data.shape
    c = (shape[1],)
    what = "one value per channel"
    _check_param(op, "running_mean", running_mean, c, input, what)
    _check_param(op, "running_var", running_var, c, input, what)
    _check_param(op, "weight", weight, c, input, what)
    _check_param(op, "bias", bias, c, input, what)
    if training:
        if input._data.size // shape[1] == 1:
            raise ChainruleError(f"{op}: Expected more than 1 value per channel when training, got input of shape "
                                 f"{tuple(shape)}; use a batch of more than one sample, or call model.eval()")
        if (running_mean is None) != (running_var is None):
            raise ChainruleError(f"{op}: pass both running_mean and running_var, or neither")
    elif running_mean is None or running_var is None:
        raise ChainruleError(f"{op}: running_mean and running_var must be given in evaluation mode "
                             "(training=False); pass them, or training=True to use the batch statistics")
    return BatchNorm.apply(input, running_mean, running_var, weight, bias, bool(training), float(momentum),
                           float(eps))


def as_normalized_shape(normalized_shape: int | Sequence[int]) -> tuple[int, ...]:
    """``normalized_shape`` (an integer or a sequence of integers) as a tuple of ints."""
    if hasattr(normalized_shape, "__index__"):
        return (operator.index(normalized_shape),)
    return tuple(operator.index(d) for d in normalized_shape)


def layer_norm(input: Tensor, normalized_shape: int | Sequence[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Layer normalisation over the trailing ``normalized_shape`` dimensions of ``input``:
    ``γ · (x - μ) / √(σ² + eps) + β``, with ``μ``, ``σ²`` (biased) per leading index and
    ``γ``, ``β`` of shape ``normalized_shape``."""
    op = "layer_norm"
    shape = as_normalized_shape(normalized_shape)
    layout = "(*, " + ", ".join(map(str, shape)) + ")"
    _check_input(op, input, len(shape), layout)
    if not shape or input._data.shape[input._data.ndim - len(shape):] != shape:
        raise ChainruleError(f"{op}: normalized_shape={shape} expects an input of shape {layout} (the trailing "
                             f"dimensions), got {tuple(input.shape)}; pass the input's last dimension(s) as "
                             "normalized_shape")
    _check_param(op, "weight", weight, shape, input, "normalized_shape")
    _check_param(op, "bias", bias, shape, input, "normalized_shape")
    return LayerNorm.apply(input, shape, weight, bias, float(eps))


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Group normalisation of ``input`` ``(N, C, *)``: the ``C`` channels are split into
    ``num_groups`` groups, each standardised per sample over its channels and positions, then
    ``γ · x̂ + β`` per channel."""
    op = "group_norm"
    _check_input(op, input, 2, "(N, C, *)")
    channels = input._data.shape[1]
    if not isinstance(num_groups, int) or num_groups <= 0 or channels % num_groups:
        raise ChainruleError(f"{op}: the number of channels must be divisible by num_groups, got input of shape "
                             f"{tuple(input.shape)} ({channels} channels) and num_groups={num_groups!r}; "
                             f"use a divisor of {channels}")
    _check_param(op, "weight", weight, (channels,), input, "one value per channel")
    _check_param(op, "bias", bias, (channels,), input, "one value per channel")
    if input._data.size // num_groups == 1:  # PyTorch's check: a single value in the whole batch per group
        raise ChainruleError(f"{op}: Expected more than 1 value per group, got input of shape {tuple(input.shape)} "
                             f"and num_groups={num_groups} (a single value normalises to 0); use fewer groups")
    return GroupNorm.apply(input, num_groups, weight, bias, float(eps))
