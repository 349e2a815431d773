"""Normalisation layers: ``BatchNorm1d``, ``BatchNorm2d``, ``LayerNorm`` and ``GroupNorm``.

Names, arguments, defaults, parameters and buffers as in PyTorch, so that a PyTorch state dict
(converted with ``.numpy()``) loads with ``load_state_dict``.
"""

from __future__ import annotations

from typing import Any, Sequence

from chainrule import creation, recording
from chainrule.dtype import int64
from chainrule.errors import ChainruleError
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.module import Module, Parameter
from chainrule.nn.normalization_functional import as_normalized_shape
from chainrule.recording import replayed_call
from chainrule.tensor import Tensor

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm"]


def _affine_parameters(module: Module, shape: tuple[int, ...], affine: bool, bias: bool, dtype: Any,
                       device: Any) -> None:
    """Register ``weight`` and ``bias`` of ``shape`` (or ``None`` where switched off), as PyTorch does."""
    module.register_parameter("weight", Parameter(creation.empty(shape, dtype=dtype, device=device))
                              if affine else None)
    module.register_parameter("bias", Parameter(creation.empty(shape, dtype=dtype, device=device))
                              if affine and bias else None)


def _reset_affine(module: Module) -> None:
    """PyTorch's initialisation of a normalisation layer's affine map: ``γ = 1``, ``β = 0``."""
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class _BatchNorm(Module):
    """Batch normalisation per channel, ``y = γ · (x - μ) / √(σ² + eps) + β``, over inputs
    ``(N, C, *)``; subclasses say which input ranks they take.

    In training mode ``μ`` and ``σ²`` (biased) are the batch statistics over every axis but the
    channel axis, and the buffers ``running_mean``/``running_var`` follow them
    (``r ← (1 - momentum) · r + momentum · s`` with the unbiased variance, or a cumulative average
    with ``momentum=None``); ``num_batches_tracked`` counts the batches. In evaluation mode the
    running statistics normalise. ``track_running_stats=False`` keeps no buffers and always uses the
    batch statistics; ``affine=False`` has no ``weight``/``bias``.
    """

    _ranks: tuple[int, ...] = ()
    _layout = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None, *,
                 bias: bool = True) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        _affine_parameters(self, (num_features,), affine, bias, dtype, device)
        if track_running_stats:
            self.register_buffer("running_mean", creation.zeros(num_features, dtype=dtype, device=device))
            self.register_buffer("running_var", creation.ones(num_features, dtype=dtype, device=device))
            self.register_buffer("num_batches_tracked", creation.tensor(0, dtype=int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batch tracked."""
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """Reset the running statistics and set ``γ = 1``, ``β = 0`` (PyTorch's defaults)."""
        self.reset_running_stats()
        _reset_affine(self)

    def _check_input(self, input: Tensor) -> None:
        """The input's rank and channel count (cheap: a few comparisons on the shape)."""
        if not isinstance(input, Tensor):
            raise ChainruleError(f"{type(self).__name__}: expected a Tensor input, got {type(input).__name__}")
        shape = input._data.shape
        if len(shape) not in self._ranks or shape[1] != self.num_features:
            hint = ""
            if len(shape) in self._ranks and shape[-1] == self.num_features:
                hint = "; if the channels are last, move them to axis 1 with x.permute(...) / x.transpose(1, -1)"
            raise ChainruleError(f"{type(self).__name__}: expected input of shape "
                                 f"{self._layout.format(C=self.num_features)}, got {shape}{hint}")
        if self.training and input._data.size == shape[1]:
            raise ChainruleError(f"{type(self).__name__}: Expected more than 1 value per channel when training, got "
                                 f"input of shape {tuple(shape)}; use a batch of more than one sample, or call "
                                 ".eval() to normalise with the running statistics")

    @replayed_call
    def _count_batch(self) -> None:
        """One more batch in ``num_batches_tracked`` (a compiled step replays the count)."""
        self.num_batches_tracked.add_(1)

    def forward(self, input: Tensor) -> Tensor:
        """Normalise with the batch statistics (training, updating the running ones) or the running
        statistics (evaluation)."""
        self._check_input(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self._count_batch()
            if self.momentum is None:  # cumulative moving average
                recording.refuse("batch normalisation with momentum=None (its factor changes at every batch)",
                                 "give the layer a momentum, or run this step eagerly")
                factor = 1.0 / int(self.num_batches_tracked.item())
        use_batch_stats = self.training or self.running_mean is None
        # the buffers go in where they are used (evaluation) or updated (training, when tracked)
        buffers = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if buffers else None, self.running_var if buffers else None,
                            self.weight, self.bias, use_batch_stats, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of ``(N, C)`` or ``(N, C, L)`` inputs (see :class:`_BatchNorm`)."""

    _ranks = (2, 3)
    _layout = "(N, {C}) or (N, {C}, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of images ``(N, C, H, W)`` (see :class:`_BatchNorm`)."""

    _ranks = (4,)
    _layout = "(N, {C}, H, W) (channels first, NCHW)"


class LayerNorm(Module):
    """Layer normalisation over the trailing ``normalized_shape`` dimensions:
    ``y = γ · (x - μ) / √(σ² + eps) + β`` with ``μ``, ``σ²`` (biased) per leading index.

    ``weight`` and ``bias`` have shape ``normalized_shape`` (``None`` with
    ``elementwise_affine=False``; no ``bias`` with ``bias=False``) and start at 1 and 0.
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.normalized_shape = as_normalized_shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _affine_parameters(self, self.normalized_shape, elementwise_affine, bias, dtype, device)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``γ = 1``, ``β = 0`` (PyTorch's defaults)."""
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        """Normalise over the last ``len(normalized_shape)`` dimensions."""
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(Module):
    """Group normalisation of ``(N, C, *)``: the ``num_channels`` channels are split into
    ``num_groups`` groups, each standardised per sample over its channels and positions, then
    ``y = γ · x̂ + β`` per channel (``weight``, ``bias`` of shape ``(num_channels,)``, starting at
    1 and 0; ``None`` with ``affine=False``)."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device: Any = None, dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ChainruleError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                                 f"({num_groups}); use a divisor of {num_channels}")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        _affine_parameters(self, (num_channels,), affine, bias, dtype, device)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``γ = 1``, ``β = 0`` (PyTorch's defaults)."""
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        """Normalise each group of channels per sample."""
        shape = getattr(input, "shape", ())
        if len(shape) < 2 or shape[1] != self.num_channels:
            raise ChainruleError(f"GroupNorm: expected input of shape (N, {self.num_channels}, *), got "
                                 f"{tuple(shape) if isinstance(input, Tensor) else type(input).__name__}")
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")
