"""Recurrent functions behind ``nn.RNN``, ``nn.LSTM``, ``nn.GRU`` and their cells.

``lstm``, ``gru``, ``rnn_tanh`` and ``rnn_relu`` run a stack of recurrent layers with PyTorch's
``torch.lstm(input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
batch_first)`` signature: ``params`` is the flat list of weights in PyTorch's order (per layer and
direction ``w_ih, w_hh[, b_ih, b_hh]``). Per layer and direction the recurrence is one fused
primitive of :mod:`chainrule.ops.recurrent`; for GRU and RNN the input projection of the whole
sequence is one ``linear`` (one matrix product) before it, LSTM's primitive includes it. The cells
(``lstm_cell``, ``gru_cell``, ``rnn_tanh_cell``, ``rnn_relu_cell``) are the same primitives run for one
step.

Shapes, as in PyTorch: input ``(L, N, H_in)``, ``(N, L, H_in)`` with ``batch_first=True``, or
``(L, H_in)`` unbatched; states ``(num_layers · D, N, H)`` (``(num_layers · D, H)`` unbatched),
``D = 2`` when bidirectional; output ``(L, N, D · H)``. Missing states start at zero.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from chainrule.errors import ChainruleError
from chainrule.nn.functional import dropout as _dropout
from chainrule.nn.functional import linear
from chainrule.ops.recurrent import GRULayer, LSTMLayer, RNNLayer
from chainrule.ops.shape import cat, stack
from chainrule.tensor import Tensor, wrap

__all__ = ["lstm", "gru", "rnn_tanh", "rnn_relu", "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell"]

# mode -> the layer's name in messages
_NAMES = {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "RNN", "RNN_RELU": "RNN"}


def _run_layer(mode: str, x: Tensor, h0: Tensor, c0: Tensor | None, w_ih: Tensor, w_hh: Tensor,
               b_ih: Tensor | None, b_hh: Tensor | None, reverse: bool) -> tuple[Tensor, ...]:
    """One direction of one layer over the sequence ``x`` ``(L, N, H_in)``: ``(out, h_n)`` or, for LSTM,
    ``(out, h_n, c_n)``."""
    if mode == "LSTM":  # the input projection is part of the primitive's per-step product
        return LSTMLayer.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse)
    # the whole sequence's input projection at once, as one 2-D product (faster than 3-D)
    xproj = linear(x.reshape(-1, x.shape[2]), w_ih, b_ih).reshape(x.shape[0], x.shape[1], -1)
    if mode == "GRU":
        return GRULayer.apply(xproj, h0, w_hh, b_hh, reverse)
    return RNNLayer.apply(xproj, h0, w_hh, b_hh, reverse, mode == "RNN_RELU")


def _shape(t: Any) -> str:
    return str(tuple(t.shape)) if isinstance(t, Tensor) else type(t).__name__


def _check_input(name: str, input: Any, weight: Tensor, batch_first: bool) -> None:
    """``input`` is a sequence of ``weight``'s dtype, its features (``weight``'s columns) last."""
    input_size = weight.shape[1]
    if not isinstance(input, Tensor) or input.ndim not in (2, 3) or input.shape[-1] != input_size:
        layout = "(N, L, input_size)" if batch_first else "(L, N, input_size)"
        raise ChainruleError(
            f"{name}: expected input of shape {layout} (batch_first={batch_first}) or (L, input_size) "
            f"unbatched, with input_size={input_size}, got {_shape(input)}; check the layer's input_size "
            "and that the features are the last dimension")
    _check_dtype(name, input, weight)


def _check_dtype(name: str, input: Tensor, weight: Tensor) -> None:
    if input.dtype is not weight.dtype:  # dtypes are singletons (their == is identity)
        raise ChainruleError(
            f"{name}: input dtype {np.dtype(input.dtype.numpy).name} does not match the weights' "
            f"{np.dtype(weight.dtype.numpy).name}; convert the input (x.float() / x.double()) or the model "
            "(model.to(dtype))")


def _check_state(name: str, what: str, state: Any, expected: tuple[int, ...], input: Tensor,
                 batch_first: bool) -> None:
    if isinstance(state, Tensor) and tuple(state.shape) == expected:
        return
    hint = ""
    if input.ndim == 2:
        hint = ("; a 2-D input is one unbatched sequence (L, input_size), so the state must be 2-D as well "
                "(for a batch of sequences pass a 3-D input)")
    elif isinstance(state, Tensor) and state.ndim == 3 and state.shape[1] == input.shape[0 if not batch_first else 1]:
        hint = (f"; the state's batch size matches input dimension {0 if not batch_first else 1}: should "
                f"batch_first be {not batch_first}?")
    raise ChainruleError(
        f"{name}: expected {what} of shape (num_layers * num_directions, N, hidden_size) = {expected}"
        f"{' (unbatched)' if input.ndim == 2 else ''}, got {_shape(state)}{hint}")


def _check_pair(name: str, hx: Any, mode: str, what: str) -> None:
    """An LSTM's state is a pair of tensors; the other layers' a single tensor."""
    sequence = isinstance(hx, (tuple, list))
    if mode == "LSTM" and not (sequence and len(hx) == 2):
        raise ChainruleError(f"{name}: expected the state as a tuple {what} of two tensors, got "
                             f"{type(hx).__name__}{' of length ' + str(len(hx)) if sequence else ''}")
    if mode != "LSTM" and not isinstance(hx, Tensor):
        raise ChainruleError(f"{name}: expected the state as one tensor, got {type(hx).__name__}"
                             f"{'; only LSTM takes a pair (h, c)' if sequence else ''}")


def _recurrent(mode: str, input: Tensor, hx: Any, params: Sequence[Tensor], has_biases: bool, num_layers: int,
               dropout: float, train: bool, bidirectional: bool, batch_first: bool) -> tuple[Tensor, ...]:
    """The stacked (bi)directional recurrence shared by ``lstm``, ``gru``, ``rnn_tanh`` and ``rnn_relu``."""
    name = _NAMES[mode]
    directions = 2 if bidirectional else 1
    per = 4 if has_biases else 2
    hidden = params[1].shape[1]
    _check_input(name, input, params[0], batch_first)
    batched = input.ndim == 3
    x = (input.transpose(0, 1) if batch_first else input) if batched else input.unsqueeze(1)
    batch = x.shape[1]
    expected = (num_layers * directions, batch, hidden) if batched else (num_layers * directions, hidden)
    states: list[Any]
    if hx is None:
        zero = wrap(np.zeros((batch, hidden), params[0].dtype.numpy))
        states = [[zero] * (num_layers * directions)] * (2 if mode == "LSTM" else 1)
    else:
        _check_pair(name, hx, mode, "(h0, c0)")
        pairs = tuple(zip(("h0", "c0"), hx)) if mode == "LSTM" else (("h0", hx),)
        states = []
        for what, s in pairs:
            _check_state(name, what, s, expected, input, batch_first)
            states.append((s if batched else s.unsqueeze(1)).unbind(0))
    finals: list[list[Tensor]] = [[] for _ in states]
    for layer in range(num_layers):
        outs = []
        for d in range(directions):
            k = layer * directions + d
            w_ih, w_hh, b_ih, b_hh = (*params[k * per:k * per + per], None, None)[:4]
            c0 = states[1][k] if mode == "LSTM" else None
            out, *last = _run_layer(mode, x, states[0][k], c0, w_ih, w_hh, b_ih, b_hh, d == 1)
            outs.append(out)
            for final, s in zip(finals, last):
                final.append(s)
        x = outs[0] if directions == 1 else cat(outs, dim=2)
        if train and dropout and layer < num_layers - 1:
            x = _dropout(x, dropout, True)
    output = (x.transpose(0, 1) if batch_first else x) if batched else x.squeeze(1)
    return (output, *(stack(f) if batched else stack(f).squeeze(1) for f in finals))


def lstm(input: Tensor, hx: Sequence[Tensor] | None, params: Sequence[Tensor], has_biases: bool, num_layers: int,
         dropout: float, train: bool, bidirectional: bool, batch_first: bool) -> tuple[Tensor, Tensor, Tensor]:
    """A stack of LSTM layers: ``(output, h_n, c_n)``. Per step ``i, f, o = σ(W_i·x + b_i + U_i·h + c_i)``,
    ``g = tanh(…)``, ``c' = f ⊙ c + i ⊙ g``, ``h' = o ⊙ tanh(c')``; ``hx = (h0, c0)`` or None."""
    return _recurrent("LSTM", input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
                      batch_first)  # type: ignore[return-value]


def gru(input: Tensor, hx: Tensor | None, params: Sequence[Tensor], has_biases: bool, num_layers: int,
        dropout: float, train: bool, bidirectional: bool, batch_first: bool) -> tuple[Tensor, Tensor]:
    """A stack of GRU layers: ``(output, h_n)``. Per step ``r, z = σ(W·x + b + U·h + c)``,
    ``n = tanh(W_n·x + b_n + r ⊙ (U_n·h + c_n))``, ``h' = (1 - z) ⊙ n + z ⊙ h``."""
    return _recurrent("GRU", input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
                      batch_first)  # type: ignore[return-value]


def rnn_tanh(input: Tensor, hx: Tensor | None, params: Sequence[Tensor], has_biases: bool, num_layers: int,
             dropout: float, train: bool, bidirectional: bool, batch_first: bool) -> tuple[Tensor, Tensor]:
    """A stack of Elman RNN layers ``h' = tanh(W·x + b + U·h + c)``: ``(output, h_n)``."""
    return _recurrent("RNN_TANH", input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
                      batch_first)  # type: ignore[return-value]


def rnn_relu(input: Tensor, hx: Tensor | None, params: Sequence[Tensor], has_biases: bool, num_layers: int,
             dropout: float, train: bool, bidirectional: bool, batch_first: bool) -> tuple[Tensor, Tensor]:
    """A stack of Elman RNN layers ``h' = relu(W·x + b + U·h + c)``: ``(output, h_n)``."""
    return _recurrent("RNN_RELU", input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
                      batch_first)  # type: ignore[return-value]


# ---------------------------------------------------------------------------- cells
def _cell(mode: str, input: Tensor, hx: Any, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None,
          b_hh: Tensor | None) -> tuple[Tensor, ...]:
    """One step of a recurrent cell on ``(N, H_in)`` or unbatched ``(H_in,)`` input."""
    name = _NAMES[mode] + "Cell"
    input_size, hidden = w_ih.shape[1], w_hh.shape[1]
    if not isinstance(input, Tensor) or input.ndim not in (1, 2) or input.shape[-1] != input_size:
        raise ChainruleError(f"{name}: expected input of shape (N, {input_size}) or ({input_size},) unbatched "
                             f"(input_size={input_size}), got {_shape(input)}")
    _check_dtype(name, input, w_ih)
    batched = input.ndim == 2
    x = input if batched else input.unsqueeze(0)
    expected = (x.shape[0], hidden) if batched else (hidden,)
    if hx is None:
        zero = wrap(np.zeros((x.shape[0], hidden), w_ih.dtype.numpy))
        states = [zero, zero] if mode == "LSTM" else [zero]
    else:
        _check_pair(name, hx, mode, "(h, c)")
        given = list(hx) if mode == "LSTM" else [hx]
        for what, s in zip(("h", "c"), given):
            if not isinstance(s, Tensor) or tuple(s.shape) != expected:
                raise ChainruleError(f"{name}: expected the {what} state of shape {expected} (N, hidden_size="
                                     f"{hidden}) for input {_shape(input)}, got {_shape(s)}")
        states = given if batched else [s.unsqueeze(0) for s in given]
    c = states[1] if mode == "LSTM" else None
    _, *new = _run_layer(mode, x.unsqueeze(0), states[0], c, w_ih, w_hh, b_ih, b_hh, False)  # one time step
    return tuple(new if batched else [s.squeeze(0) for s in new])


def lstm_cell(input: Tensor, hx: Sequence[Tensor] | None, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
              b_hh: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """One LSTM step: ``(h', c')`` from ``input`` and ``hx = (h, c)`` (zeros when None)."""
    return _cell("LSTM", input, hx, w_ih, w_hh, b_ih, b_hh)  # type: ignore[return-value]


def gru_cell(input: Tensor, hx: Tensor | None, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
             b_hh: Tensor | None = None) -> Tensor:
    """One GRU step: ``h'`` from ``input`` and ``hx`` (zeros when None)."""
    return _cell("GRU", input, hx, w_ih, w_hh, b_ih, b_hh)[0]


def rnn_tanh_cell(input: Tensor, hx: Tensor | None, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
                  b_hh: Tensor | None = None) -> Tensor:
    """One Elman step ``h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)`` (``hx`` zeros when None)."""
    return _cell("RNN_TANH", input, hx, w_ih, w_hh, b_ih, b_hh)[0]


def rnn_relu_cell(input: Tensor, hx: Tensor | None, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
                  b_hh: Tensor | None = None) -> Tensor:
    """One Elman step ``h' = relu(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)`` (``hx`` zeros when None)."""
    return _cell("RNN_RELU", input, hx, w_ih, w_hh, b_ih, b_hh)[0]
