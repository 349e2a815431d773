"""``Linear`` (a fully connected layer) and ``Identity``."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from chainrule import creation
from chainrule.autograd.function import NO_RECORD
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.activation import ReLU
from chainrule.nn.array_forward import plain_attributes, register_array_forward
from chainrule.nn.fused_runs import register_fused_run
from chainrule.nn.module import Module, Parameter
from chainrule.tensor import Tensor

__all__ = ["Identity", "Linear"]


class Identity(Module):
    """Returns its input unchanged (a placeholder layer); any constructor arguments are ignored."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        """The input itself."""
        return input


class _WeightAndBias(Module):
    """The parameters of ``Linear`` and the convolutions: a ``weight`` and an optional ``bias``, both
    drawn as PyTorch draws them, the weight through ``kaiming_uniform_(a=√5)`` and the bias from
    ``U(-1/√fan_in, 1/√fan_in)``, with ``fan_in = weight.shape[1]·∏weight.shape[2:]`` (so the weight
    too is ``U(-1/√fan_in, 1/√fan_in)``)."""

    def _create_parameters(self, weight_shape: tuple[int, ...], bias_size: int, bias: bool, dtype: Any,
                           device: Any) -> None:
        """Add ``weight`` of ``weight_shape`` and ``bias`` of ``(bias_size,)`` (``None`` unless ``bias``),
        then draw their initial values."""
        self.weight = Parameter(creation.empty(weight_shape, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(creation.empty(bias_size, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw new initial values (PyTorch's defaults)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)


class Linear(_WeightAndBias):
    """``y = x Wᵀ + b``: input ``(*, in_features)``, output ``(*, out_features)``.

    ``weight`` has shape ``(out_features, in_features)``, ``bias`` ``(out_features,)`` (``None`` with
    ``bias=False``). Both start as in PyTorch: ``U(-1/√in_features, 1/√in_features)`` (the weight
    through ``kaiming_uniform_(a=√5)``), drawn from chainrule's seeded generator.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self._create_parameters((out_features, in_features), out_features, bias, dtype, device)

    def forward(self, input: Tensor) -> Tensor:
        """``input @ weight.T + bias``."""
        # read from the registry directly: ``self.weight`` would first miss the instance and class
        # dictionaries and then go through Module.__getattr__ (0.75 µs per parameter, measured; a
        # batch-1 forward of a Linear takes a few µs in all)
        parameters = self._parameters
        return F.linear(input, parameters["weight"], parameters["bias"])

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def _linear_on_arrays(layer: dict[str, Any], x: np.ndarray) -> np.ndarray | None:
    """``Linear``'s forward on an array, for ``Sequential`` under ``no_grad`` (``None`` where ``F.linear``
    would refuse the dtypes, so that it raises its own error)."""
    parameters = layer["_parameters"]
    weight, bias = parameters["weight"]._data, parameters["bias"]
    if x.dtype != weight.dtype:
        return None
    return F.Linear.forward(NO_RECORD, x, weight, None if bias is None else bias._data)


register_array_forward(Linear, _linear_on_arrays)


_PLAIN_FORWARDS = (Linear.forward, ReLU.forward)  # the forwards a fused run stands for (see fused_runs)


def _linear_run(modules: Sequence[Any], start: int, input: Tensor) -> tuple[Tensor, int] | None:
    """``Linear`` layers from ``modules[start]`` on, each optionally followed by a ``ReLU``, as the one
    primitive ``F.LinearChain``, for ``Sequential`` recording a graph (an in-place ``ReLU`` too: it changes
    only its ``Linear``'s new output, which nothing else sees). The run ends before the first layer that
    is not plain (see :mod:`chainrule.nn.fused_runs`) or whose weight's dtype is not the input's (which
    then raises its own error). ``None`` where the run would be a lone ``Linear``, already one primitive."""
    linear_forward, relu_forward = _PLAIN_FORWARDS
    dtype = input._data.dtype
    relus: list[bool] = []
    params: list[Any] = []
    i, count = start, len(modules)
    while i < count and modules[i].__class__ is Linear:
        layer = plain_attributes(modules[i], linear_forward)
        if layer is None:
            break
        parameters = layer["_parameters"]
        weight = parameters["weight"]
        if weight._data.dtype != dtype:
            break
        params += (weight, parameters["bias"])
        following = modules[i + 1] if i + 1 < count else None
        relu = following.__class__ is ReLU and plain_attributes(following, relu_forward) is not None
        relus.append(relu)
        i += 2 if relu else 1
    if not relus or relus == [False]:
        return None
    return F.LinearChain.apply(input, tuple(relus), *params), i


register_fused_run(Linear, _linear_run)
