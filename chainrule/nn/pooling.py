"""Pooling and upsampling layers: ``MaxPool1d``, ``MaxPool2d``, ``AvgPool2d``, ``AdaptiveAvgPool2d``,
``Upsample`` (channels first, as PyTorch's; no parameters)."""

from __future__ import annotations

from typing import Any

from chainrule.nn import functional as F
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Upsample"]

Size = int | tuple[int, ...]


def _default_stride(stride: Size | None, kernel_size: Size) -> Size:
    """PyTorch's layers store ``stride=None`` as the kernel size (which their repr shows)."""
    return stride if stride is not None and stride != [] else kernel_size


class _PoolNd(Module):
    """The settings shared by the max- and average-pooling layers (``stride`` defaults to ``kernel_size``)."""

    def __init__(self, kernel_size: Size, stride: Size | None, padding: Size, ceil_mode: bool) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = _default_stride(stride, kernel_size)
        self.padding = padding
        self.ceil_mode = ceil_mode


class _MaxPoolNd(_PoolNd):
    """The settings shared by the max-pooling layers: those of :class:`_PoolNd`, ``dilation`` and
    ``return_indices``."""

    def __init__(self, kernel_size: Size, stride: Size | None = None, padding: Size = 0, dilation: Size = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.dilation = dilation
        self.return_indices = return_indices

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """The maximum over each ``kernel_size`` window of ``(N, C, L)`` or ``(C, L)``
    (see :func:`chainrule.nn.functional.max_pool1d`)."""

    def forward(self, input: Tensor) -> Any:
        """``F.max_pool1d`` with this layer's settings."""
        return F.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class MaxPool2d(_MaxPoolNd):
    """The maximum over each ``kernel_size`` window of ``(N, C, H, W)`` or ``(C, H, W)``
    (see :func:`chainrule.nn.functional.max_pool2d`)."""

    def forward(self, input: Tensor) -> Any:
        """``F.max_pool2d`` with this layer's settings."""
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class AvgPool2d(_PoolNd):
    """The mean over each ``kernel_size`` window of ``(N, C, H, W)`` or ``(C, H, W)``
    (see :func:`chainrule.nn.functional.avg_pool2d`)."""

    def __init__(self, kernel_size: Size, stride: Size | None = None, padding: Size = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        """``F.avg_pool2d`` with this layer's settings."""
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling of ``(N, C, H, W)`` or ``(C, H, W)`` to a fixed ``output_size`` whatever the input
    size (``None`` keeps that dimension; see :func:`chainrule.nn.functional.adaptive_avg_pool2d`)."""

    def __init__(self, output_size: int | None | tuple[int | None, int | None]) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        """``F.adaptive_avg_pool2d(input, output_size)``."""
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class Upsample(Module):
    """Resize ``(N, C, L)`` or ``(N, C, H, W)`` to ``size`` or by ``scale_factor`` with nearest-neighbour
    sampling (see :func:`chainrule.nn.functional.interpolate`)."""

    def __init__(self, size: Size | None = None, scale_factor: float | tuple[float, ...] | None = None,
                 mode: str = "nearest", align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor: float | tuple[float, ...] | None = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        """``F.interpolate`` with this layer's settings."""
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return f"{info}, mode={self.mode!r}"
