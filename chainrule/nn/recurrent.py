"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and the single-step ``RNNCell``, ``LSTMCell``, ``GRUCell``.

Names, arguments, defaults, parameter names and shapes and gate orders are PyTorch's, so a
``torch.nn.LSTM``'s ``state_dict`` (converted with ``.numpy()``) loads and gives the same outputs.
Per layer ``k`` and direction (suffix ``_reverse`` for the backward one): ``weight_ih_l{k}``
``(G·hidden_size, input features)``, ``weight_hh_l{k}`` ``(G·hidden_size, hidden_size)``,
``bias_ih_l{k}`` and ``bias_hh_l{k}`` ``(G·hidden_size,)``, with ``G`` = 4 (LSTM: gates i, f, g, o),
3 (GRU: r, z, n) or 1 (RNN). Every parameter starts as ``U(-1/√hidden_size, 1/√hidden_size)``.
The computation is in :mod:`chainrule.nn.recurrent_functional`.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from chainrule import creation
from chainrule.errors import ChainruleError
from chainrule.nn import init
from chainrule.nn import recurrent_functional as RF
from chainrule.nn.module import Module, Parameter, _changed_options
from chainrule.tensor import Tensor

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
_FUNCTIONS = {"LSTM": RF.lstm, "GRU": RF.gru, "RNN_TANH": RF.rnn_tanh, "RNN_RELU": RF.rnn_relu}


def _nonlinearity_mode(layer: str, nonlinearity: str) -> str:
    if nonlinearity not in ("tanh", "relu"):
        raise ChainruleError(f"{layer}: unknown nonlinearity {nonlinearity!r}; choose 'tanh' or 'relu'")
    return "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"


def _reset_uniform(module: Module, hidden_size: int) -> None:
    """PyTorch's recurrent initialisation: every parameter ``U(-1/√hidden_size, 1/√hidden_size)``."""
    bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    for p in module.parameters():
        init.uniform_(p, -bound, bound)


# ---------------------------------------------------------------------------- multi-layer
class RNNBase(Module):
    """The stacked, optionally bidirectional recurrence shared by :class:`RNN`, :class:`LSTM` and :class:`GRU`.

    Input ``(L, N, input_size)`` (``(N, L, input_size)`` with ``batch_first=True``) or ``(L,
    input_size)`` unbatched; output ``(L, N, D·hidden_size)`` (``D = 2`` if bidirectional) holding the
    last layer's hidden state at every step, and the final states ``(num_layers·D, N, hidden_size)``.
    ``dropout`` is applied to the outputs of every layer but the last, in training mode only.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        if proj_size != 0:
            raise ChainruleError(f"{name}: proj_size={proj_size} is not supported; use proj_size=0 and, if "
                                 "needed, an nn.Linear on the output")
        if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ChainruleError(f"{name}: dropout should be a number in [0, 1] representing the probability "
                                 f"of an element being zeroed, got {dropout!r}")
        for what, value, low in (("input_size", input_size, 0), ("hidden_size", hidden_size, 1),
                                 ("num_layers", num_layers, 1)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ChainruleError(f"{name}: {what} must be an integer ≥ {low}, got {value!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                          stacklevel=3)
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        gates = _GATES[mode] * hidden_size
        directions = 2 if bidirectional else 1
        self._flat_weights_names: list[str] = []
        for layer in range(num_layers):
            features = input_size if layer == 0 else hidden_size * directions
            for suffix in ("", "_reverse")[:directions]:
                shapes = {f"weight_ih_l{layer}{suffix}": (gates, features),
                          f"weight_hh_l{layer}{suffix}": (gates, hidden_size)}
                if bias:
                    shapes.update({f"bias_ih_l{layer}{suffix}": (gates,), f"bias_hh_l{layer}{suffix}": (gates,)})
                for pname, shape in shapes.items():
                    setattr(self, pname, Parameter(creation.empty(shape, dtype=dtype, device=device)))
                    self._flat_weights_names.append(pname)
        self.reset_parameters()

    @property
    def _flat_weights(self) -> list[Tensor]:
        """The parameters in PyTorch's order (per layer and direction ``w_ih, w_hh[, b_ih, b_hh]``)."""
        return [getattr(self, pname) for pname in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters grouped per layer and direction, as PyTorch's ``all_weights``."""
        per = 4 if self.bias else 2
        flat = self._flat_weights
        return [flat[i:i + per] for i in range(0, len(flat), per)]

    def reset_parameters(self) -> None:
        """Draw new initial values: ``U(-1/√hidden_size, 1/√hidden_size)`` for every parameter."""
        _reset_uniform(self, self.hidden_size)

    def flatten_parameters(self) -> None:
        """PyTorch compacts its weights into one buffer for cuDNN here; nothing to do in chainrule."""

    def _run(self, input: Tensor, hx: Any) -> tuple[Tensor, ...]:
        return _FUNCTIONS[self.mode](input, hx, self._flat_weights, self.bias, self.num_layers, self.dropout,
                                     self.training, self.bidirectional, self.batch_first)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + _changed_options(
            self, {"num_layers": 1, "bias": True, "batch_first": False, "dropout": 0, "bidirectional": False})


class RNN(RNNBase):
    """Elman RNN: ``hₜ = act(xₜ W_ihᵀ + b_ih + hₜ₋₁ W_hhᵀ + b_hh)``, ``act`` = tanh or relu (``nonlinearity``).

    ``forward(input, hx=None)`` returns ``(output, h_n)``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        self.nonlinearity = nonlinearity
        super().__init__(_nonlinearity_mode("RNN", nonlinearity), input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional, 0, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(output, h_n)``; ``hx`` (h0) defaults to zeros."""
        return self._run(input, hx)  # type: ignore[return-value]


class LSTM(RNNBase):
    """Long short-term memory: per step ``i, f, o = σ(·)``, ``g = tanh(·)`` of ``xₜ W_ihᵀ + b_ih + hₜ₋₁ W_hhᵀ
    + b_hh`` (gates in the order i, f, g, o), ``cₜ = f ⊙ cₜ₋₁ + i ⊙ g``, ``hₜ = o ⊙ tanh(cₜ)``.

    ``forward(input, hx=None)`` with ``hx = (h0, c0)`` returns ``(output, (h_n, c_n))``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """``(output, (h_n, c_n))``; ``hx = (h0, c0)`` defaults to zeros."""
        output, h_n, c_n = self._run(input, hx)
        return output, (h_n, c_n)


class GRU(RNNBase):
    """Gated recurrent unit: ``r, z = σ(·)`` of ``xₜ W_ihᵀ + b_ih + hₜ₋₁ W_hhᵀ + b_hh`` (gates r, z, n),
    ``n = tanh(xₜ W_inᵀ + b_in + r ⊙ (hₜ₋₁ W_hnᵀ + b_hn))``, ``hₜ = (1 - z) ⊙ n + z ⊙ hₜ₋₁``.

    ``forward(input, hx=None)`` returns ``(output, h_n)``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, 0,
                         device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(output, h_n)``; ``hx`` (h0) defaults to zeros."""
        return self._run(input, hx)  # type: ignore[return-value]


# ---------------------------------------------------------------------------- cells
class RNNCellBase(Module):
    """One step of a recurrence: ``weight_ih`` ``(G·hidden_size, input_size)``, ``weight_hh``
    ``(G·hidden_size, hidden_size)``, ``bias_ih``, ``bias_hh`` ``(G·hidden_size,)``. Input ``(N,
    input_size)`` or ``(input_size,)``; state ``(N, hidden_size)`` or ``(hidden_size,)``, zeros by default."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gates = num_chunks * hidden_size
        self.weight_ih = Parameter(creation.empty((gates, input_size), dtype=dtype, device=device))
        self.weight_hh = Parameter(creation.empty((gates, hidden_size), dtype=dtype, device=device))
        if bias:
            self.bias_ih = Parameter(creation.empty(gates, dtype=dtype, device=device))
            self.bias_hh = Parameter(creation.empty(gates, dtype=dtype, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw new initial values: ``U(-1/√hidden_size, 1/√hidden_size)`` for every parameter."""
        _reset_uniform(self, self.hidden_size)

    def extra_repr(self) -> str:
        defaults = {"bias": True, "nonlinearity": "tanh"} if hasattr(self, "nonlinearity") else {"bias": True}
        return f"{self.input_size}, {self.hidden_size}" + _changed_options(self, defaults)


class RNNCell(RNNCellBase):
    """``h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)``, ``act`` = tanh or relu (``nonlinearity``)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device: Any = None, dtype: Any = None) -> None:
        _nonlinearity_mode("RNNCell", nonlinearity)  # checks it
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """The next hidden state ``h'``."""
        cell = RF.rnn_relu_cell if self.nonlinearity == "relu" else RF.rnn_tanh_cell
        return cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class LSTMCell(RNNCellBase):
    """``i, f, o = σ(·)``, ``g = tanh(·)`` of ``x W_ihᵀ + b_ih + h W_hhᵀ + b_hh`` (gates i, f, g, o);
    ``c' = f ⊙ c + i ⊙ g``, ``h' = o ⊙ tanh(c')``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """The next states ``(h', c')``; ``hx = (h, c)`` defaults to zeros."""
        return RF.lstm_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class GRUCell(RNNCellBase):
    """``r, z = σ(·)`` of ``x W_ihᵀ + b_ih + h W_hhᵀ + b_hh`` (gates r, z, n),
    ``n = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn))``, ``h' = (1 - z) ⊙ n + z ⊙ h``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """The next hidden state ``h'``."""
        return RF.gru_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
