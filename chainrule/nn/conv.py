"""Convolution layers: ``Conv1d``, ``Conv2d`` and ``ConvTranspose2d`` (channels first, as PyTorch)."""

from __future__ import annotations

from typing import Any

from chainrule.errors import ChainruleError
from chainrule.nn import conv_functional as CF
from chainrule.nn.linear import _WeightAndBias
from chainrule.tensor import Tensor

__all__ = ["Conv1d", "Conv2d", "ConvTranspose2d"]


class _ConvNd(_WeightAndBias):
    """The shared template: sizes, ``weight`` and ``bias``, PyTorch's initialisation and repr.

    ``weight`` is ``(out_channels, in_channels/groups, *kernel_size)`` for a convolution and
    ``(in_channels, out_channels/groups, *kernel_size)`` for a transposed one; ``bias`` is
    ``(out_channels,)``. Both start as in PyTorch: the weight ``kaiming_uniform_(a=√5)``, i.e.
    ``U(-1/√fan_in, 1/√fan_in)`` with ``fan_in = weight.shape[1]·∏kernel_size``, the bias the same.
    """

    transposed = False
    _spatial = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any, padding: Any,
                 dilation: Any, groups: int, bias: bool, padding_mode: str, output_padding: Any = 0,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        name, n = type(self).__name__, self._spatial
        if not isinstance(groups, int) or groups < 1 or in_channels % groups or out_channels % groups:
            raise ChainruleError(f"{name}: groups={groups!r} must be a positive int that divides in_channels "
                                 f"({in_channels}) and out_channels ({out_channels})")
        if padding_mode != "zeros":
            raise ChainruleError(
                f"{name}: padding_mode={padding_mode!r} is not supported, only 'zeros'; pad the input "
                f"yourself (chainrule.pad(x, pads, mode=...)) and use padding=0")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = CF.as_tuple(name, "kernel_size", kernel_size, n)
        self.stride = CF.as_tuple(name, "stride", stride, n)
        self.dilation = CF.as_tuple(name, "dilation", dilation, n)
        if isinstance(padding, str):
            CF.resolve_padding(name, padding, self.kernel_size, self.stride, self.dilation)  # refuses bad strings
            self.padding: Any = padding
        else:
            self.padding = CF.as_tuple(name, "padding", padding, n)
        self.output_padding = CF.as_tuple(name, "output_padding", output_padding, n)
        self.groups = groups
        self.padding_mode = padding_mode
        shape = ((in_channels, out_channels // groups) if self.transposed
                 else (out_channels, in_channels // groups)) + self.kernel_size
        self._create_parameters(shape, out_channels, bias, dtype, device)

    def extra_repr(self) -> str:
        n = self._spatial
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class _Conv(_ConvNd):
    """``Conv1d`` and ``Conv2d``: PyTorch's constructor and the forward convolution."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device=device, dtype=dtype)

    def forward(self, input: Tensor) -> Tensor:
        """The convolution of ``input`` with ``weight``, plus ``bias``."""
        parameters = self._parameters  # not self.weight: see Linear.forward
        return CF.convolution(type(self).__name__, self._spatial, input, parameters["weight"], parameters["bias"],
                              self.stride, self.padding, self.dilation, self.groups)


class Conv1d(_Conv):
    """1-d convolution over ``(N, C_in, L)`` (or ``(C_in, L)``) giving ``(N, C_out, L_out)``; see
    :func:`chainrule.nn.functional.conv1d` for the formula."""

    _spatial = 1


class Conv2d(_Conv):
    """2-d convolution over ``(N, C_in, H, W)`` (or ``(C_in, H, W)``) giving ``(N, C_out, H_out, W_out)``
    with ``H_out = ⌊(H + 2·padding - dilation·(kernel - 1) - 1) / stride⌋ + 1``; see
    :func:`chainrule.nn.functional.conv2d` for the formula."""


class ConvTranspose2d(_ConvNd):
    """2-d transposed convolution (the gradient of ``Conv2d`` in its input; upsamples by ``stride``):
    ``(N, C_in, H, W)`` to ``(N, C_out, H_out, W_out)`` with
    ``H_out = (H - 1)·stride - 2·padding + dilation·(kernel - 1) + output_padding + 1``; see
    :func:`chainrule.nn.functional.conv_transpose2d`."""

    transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 output_padding: Any = 0, groups: int = 1, bias: bool = True, dilation: Any = 1,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        if isinstance(padding, str):
            raise ChainruleError(f"ConvTranspose2d: padding must be an int or a tuple of 2 ints, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, device=device, dtype=dtype)

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:
        """The transposed convolution of ``input`` with ``weight``, plus ``bias``; ``output_size``
        (the wanted ``(H_out, W_out)``, or with batch and channels) picks the ``output_padding``."""
        extra = self.output_padding if output_size is None else self._output_padding(input, output_size)
        return CF.transposed_convolution("ConvTranspose2d", input, self.weight, self.bias, self.stride,
                                         self.padding, extra, self.groups, self.dilation)

    def _output_padding(self, input: Tensor, output_size: Any) -> tuple[int, ...]:
        """The ``output_padding`` that makes the output ``output_size`` (as PyTorch)."""
        wanted = tuple(output_size)[-2:]
        smallest = CF.transposed_output_size(tuple(input.shape)[-2:], self.stride, self.padding, self.dilation,
                                             self.kernel_size)
        extra = tuple(w - m for w, m in zip(wanted, smallest))
        if len(wanted) != 2 or any(not 0 <= e < max(st, d) for e, st, d in zip(extra, self.stride, self.dilation)):
            raise ChainruleError(
                f"ConvTranspose2d: output_size {tuple(output_size)} is not reachable from input {tuple(input.shape)}: "
                f"the output can be from {smallest} to "
                f"{tuple(m + max(st, d) - 1 for m, st, d in zip(smallest, self.stride, self.dilation))}")
        return extra
