"""nn.RNN / nn.LSTM / nn.GRU and their cells against PyTorch: outputs, final states and every gradient."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.autograd import gradcheck, gradgradcheck
from tests.helpers import assert_close, rand, require_torch, to_torch

# (chainrule class, torch class name, extra constructor arguments)
KINDS = {"rnn_tanh": ("RNN", {}), "rnn_relu": ("RNN", {"nonlinearity": "relu"}), "lstm": ("LSTM", {}),
         "gru": ("GRU", {})}
INPUT, HIDDEN, SEQ, BATCH = 3, 4, 5, 2


def _pair(kind: str, dtype: Any, cell: bool = False, **options: Any) -> tuple[Any, Any]:
    """The same layer in torch and chainrule: torch's initial weights loaded into chainrule's."""
    torch = require_torch()
    name, extra = KINDS[kind]
    name += "Cell" if cell else ""
    torch.manual_seed(0)
    t_layer = getattr(torch.nn, name)(INPUT, HIDDEN, **extra, **options).to(getattr(torch, dtype))
    layer = getattr(nn, name)(INPUT, HIDDEN, **extra, **options, dtype=getattr(cr, dtype))
    layer.load_state_dict({k: v.detach().numpy() for k, v in t_layer.state_dict().items()})
    return layer, t_layer


def _leaf(shape: tuple[int, ...], dtype: str, seed: int) -> cr.Tensor:
    return rand(shape, getattr(cr, dtype), -1, 1, seed=seed)


def _compare(outs: list[cr.Tensor], t_outs: list[Any], leaves: list[cr.Tensor], t_leaves: list[Any],
             dtype: str) -> None:
    """Outputs equal, and gradients of ``Σ wᵢ · outᵢ`` (fixed random weights) w.r.t. every leaf equal."""
    torch = require_torch()
    rng = np.random.default_rng(1)
    loss, t_loss = 0, 0
    for o, t in zip(outs, t_outs, strict=True):
        assert_close(o, t)
        w = rng.standard_normal(o.shape).astype(dtype)
        loss = loss + (o * cr.from_numpy(w)).sum()
        t_loss = t_loss + (t * torch.from_numpy(w)).sum()
    grads = cr.autograd.grad(loss, leaves)
    t_grads = torch.autograd.grad(t_loss, t_leaves)
    for g, tg in zip(grads, t_grads, strict=True):
        assert_close(g, tg)


def _run_both(layer: Any, t_layer: Any, kind: str, x: cr.Tensor, states: list[cr.Tensor]) -> None:
    torch = require_torch()
    t_x, t_states = to_torch(x, torch), to_torch(states, torch)
    hx: Any = None
    t_hx: Any = None
    if states:
        hx, t_hx = (tuple(states), tuple(t_states)) if kind == "lstm" else (states[0], t_states[0])
    out, last = layer(x, hx)
    t_out, t_last = t_layer(t_x, t_hx)
    if kind != "lstm":
        last, t_last = (last,), (t_last,)
    params = list(layer.parameters())
    t_params = list(t_layer.parameters())
    assert [tuple(p.shape) for p in params] == [tuple(p.shape) for p in t_params]
    _compare([out, *last], [t_out, *t_last], [x, *states, *params], [t_x, *t_states, *t_params], str(x.dtype.numpy))


LAYER_CASES = list(itertools.product(KINDS, (1, 2), (False, True), (False, True), (True, False), (False, True)))


@pytest.mark.parametrize("kind, num_layers, batch_first, bidirectional, bias, with_state", LAYER_CASES)
def test_layer_matches_torch_float64(kind: str, num_layers: int, batch_first: bool, bidirectional: bool,
                                     bias: bool, with_state: bool) -> None:
    layer, t_layer = _pair(kind, "float64", num_layers=num_layers, batch_first=batch_first,
                           bidirectional=bidirectional, bias=bias)
    x = _leaf((BATCH, SEQ, INPUT) if batch_first else (SEQ, BATCH, INPUT), "float64", 2)
    layers = num_layers * (2 if bidirectional else 1)
    states = [_leaf((layers, BATCH, HIDDEN), "float64", 3 + i) for i in range(2 if kind == "lstm" else 1)]
    _run_both(layer, t_layer, kind, x, states if with_state else [])


@pytest.mark.parametrize("kind, bidirectional", itertools.product(KINDS, (False, True)))
def test_layer_matches_torch_float32(kind: str, bidirectional: bool) -> None:
    layer, t_layer = _pair(kind, "float32", num_layers=2, bidirectional=bidirectional)
    x = _leaf((SEQ, BATCH, INPUT), "float32", 2)
    layers = 2 * (2 if bidirectional else 1)
    states = [_leaf((layers, BATCH, HIDDEN), "float32", 3 + i) for i in range(2 if kind == "lstm" else 1)]
    out, _ = layer(x, tuple(states) if kind == "lstm" else states[0])
    assert out.dtype == cr.float32
    _run_both(layer, t_layer, kind, x, states)


@pytest.mark.parametrize("kind, shape, with_state", [
    *[(k, (SEQ, INPUT), s) for k in KINDS for s in (False, True)],  # unbatched
    *[(k, (1, BATCH, INPUT), True) for k in KINDS],  # sequence length 1
    *[(k, (SEQ, 1, INPUT), True) for k in KINDS],  # batch 1
])
def test_unbatched_single_step_and_single_sample(kind: str, shape: tuple[int, ...], with_state: bool) -> None:
    layer, t_layer = _pair(kind, "float64", num_layers=2, bidirectional=True)
    x = _leaf(shape, "float64", 2)
    state_shape = (4, HIDDEN) if len(shape) == 2 else (4, shape[1], HIDDEN)
    states = [_leaf(state_shape, "float64", 3 + i) for i in range(2 if kind == "lstm" else 1)]
    _run_both(layer, t_layer, kind, x, states if with_state else [])


@pytest.mark.parametrize("kind, bias, batched, with_state",
                         itertools.product(KINDS, (True, False), (True, False), (True, False)))
def test_cells_match_torch(kind: str, bias: bool, batched: bool, with_state: bool) -> None:
    torch = require_torch()
    cell, t_cell = _pair(kind, "float64", cell=True, bias=bias)
    x = _leaf((BATCH, INPUT) if batched else (INPUT,), "float64", 2)
    states = [_leaf((BATCH, HIDDEN) if batched else (HIDDEN,), "float64", 3 + i)
              for i in range(2 if kind == "lstm" else 1)] if with_state else []
    t_x, t_states = to_torch(x, torch), to_torch(states, torch)
    hx = (tuple(states) if kind == "lstm" else states[0]) if states else None
    t_hx = (tuple(t_states) if kind == "lstm" else t_states[0]) if states else None
    out, t_out = cell(x, hx), t_cell(t_x, t_hx)
    outs, t_outs = (list(out), list(t_out)) if kind == "lstm" else ([out], [t_out])
    _compare(outs, t_outs, [x, *states, *cell.parameters()], [t_x, *t_states, *t_cell.parameters()], "float64")


@pytest.mark.parametrize("kind", KINDS)
def test_torch_state_dict_loads_and_gives_the_same_outputs(kind: str) -> None:
    torch = require_torch()
    name, extra = KINDS[kind]
    torch.manual_seed(1)
    t_layer = getattr(torch.nn, name)(INPUT, HIDDEN, num_layers=2, bidirectional=True, batch_first=True, **extra)
    layer = getattr(nn, name)(INPUT, HIDDEN, num_layers=2, bidirectional=True, batch_first=True, **extra)
    assert list(layer.state_dict()) == list(t_layer.state_dict())
    layer.load_state_dict({k: v.numpy() for k, v in t_layer.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((BATCH, SEQ, INPUT)).astype(np.float32)
    out, _ = layer(cr.from_numpy(x))
    with torch.no_grad():
        t_out, _ = t_layer(torch.from_numpy(x))
    assert out.shape == (BATCH, SEQ, 2 * HIDDEN)
    assert_close(out, t_out)


@pytest.mark.parametrize("kind", KINDS)
def test_initialisation_range_and_reprs_match_torch(kind: str) -> None:
    torch = require_torch()
    name, extra = KINDS[kind]
    for options in ({}, {"num_layers": 2, "bias": False, "batch_first": True, "dropout": 0.5,
                         "bidirectional": True}):
        layer = getattr(nn, name)(INPUT, 16, **extra, **options)
        assert repr(layer) == repr(getattr(torch.nn, name)(INPUT, 16, **extra, **options))
        values = np.concatenate([p.detach().numpy().ravel() for p in layer.parameters()])
        assert np.abs(values).max() <= 0.25 and values.std() > 0.1  # U(-1/√16, 1/√16): std 0.144
    for bias in (True, False):
        cell = getattr(nn, name + "Cell")(INPUT, 16, bias=bias, **extra)
        assert repr(cell) == repr(getattr(torch.nn, name + "Cell")(INPUT, 16, bias=bias, **extra))


@pytest.mark.parametrize("kind", KINDS)
def test_dropout_between_layers(kind: str) -> None:
    name, extra = KINDS[kind]
    cr.manual_seed(0)
    layer = getattr(nn, name)(INPUT, HIDDEN, num_layers=2, dropout=0.5, **extra)
    plain = getattr(nn, name)(INPUT, HIDDEN, num_layers=2, **extra)
    plain.load_state_dict(layer.state_dict())
    x = cr.from_numpy(np.random.default_rng(0).standard_normal((SEQ, BATCH, INPUT)).astype(np.float32))
    with cr.no_grad():
        reference = plain(x)[0].numpy()
        layer.eval()
        assert_close(layer(x)[0], reference)  # eval: the identity
        layer.train()
        first, second = layer(x)[0].numpy(), layer(x)[0].numpy()
    assert not np.allclose(first, reference) and not np.allclose(first, second)


def test_dropout_on_one_layer_warns_as_torch() -> None:
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.LSTM(INPUT, HIDDEN, dropout=0.2)


# ---------------------------------------------------------------------------- gradcheck
@pytest.mark.parametrize("kind", KINDS)
def test_cells_gradcheck(kind: str) -> None:
    cell = getattr(nn, KINDS[kind][0] + "Cell")(INPUT, HIDDEN, **KINDS[kind][1], dtype=cr.float64)
    x = _leaf((BATCH, INPUT), "float64", 0)
    states = [_leaf((BATCH, HIDDEN), "float64", 1 + i) for i in range(2 if kind == "lstm" else 1)]

    def run(x: cr.Tensor, *rest: cr.Tensor) -> Any:
        if kind == "lstm":
            return F.lstm_cell(x, rest[:2], *rest[2:])
        return getattr(F, f"{kind}_cell")(x, rest[0], *rest[1:])

    assert gradcheck(run, (x, *states, *cell.parameters()))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_two_layer_bidirectional_gradcheck(kind: str) -> None:
    layer = getattr(nn, kind.upper())(2, 3, num_layers=2, bidirectional=True, dtype=cr.float64)
    params = list(layer.parameters())
    x = _leaf((3, 2, 2), "float64", 0)
    states = [_leaf((4, 2, 3), "float64", 1 + i) for i in range(2 if kind == "lstm" else 1)]

    def run(x: cr.Tensor, *rest: cr.Tensor) -> Any:
        n = len(states)
        hx = tuple(rest[:n]) if kind == "lstm" else rest[0]
        fn = F.lstm if kind == "lstm" else F.gru
        return fn(x, hx, list(rest[n:]), True, 2, 0.0, False, True, False)

    assert gradcheck(run, (x, *states, *params))


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
def test_second_derivatives_through_a_layer(kind: str) -> None:
    """A recorded backward (create_graph=True) differentiates the same recurrence composed of ops."""
    layer = getattr(nn, KINDS[kind][0])(2, 3, **KINDS[kind][1], dtype=cr.float64)
    x = _leaf((3, 2, 2), "float64", 0)

    def run(x: cr.Tensor, *weights: cr.Tensor) -> cr.Tensor:
        return getattr(F, kind)(x, None, list(weights), True, 1, 0.0, False, False, False)[0]

    assert gradgradcheck(run, (x, *layer.parameters()))


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize("kind", KINDS)
def test_wrong_input_size_names_the_layer_and_the_sizes(kind: str) -> None:
    name, extra = KINDS[kind]
    layer = getattr(nn, name)(INPUT, HIDDEN, **extra)
    with pytest.raises(cr.ChainruleError, match=rf"{name}: expected input of shape \(L, N, input_size\).*"
                                                rf"input_size={INPUT}, got \(5, 2, 7\)"):
        layer(cr.zeros(SEQ, BATCH, 7))
    with pytest.raises(cr.ChainruleError, match=r"got \(2, 5, 2, 3\)"):
        layer(cr.zeros(2, SEQ, BATCH, INPUT))
    with pytest.raises(cr.ChainruleError, match=rf"{name}Cell: expected input of shape \(N, {INPUT}\)"):
        getattr(nn, name + "Cell")(INPUT, HIDDEN, **extra)(cr.zeros(BATCH, 7))


def test_wrong_state_shapes_say_what_is_expected() -> None:
    layer = nn.LSTM(INPUT, HIDDEN, num_layers=2)
    x = cr.zeros(SEQ, BATCH, INPUT)
    good = cr.zeros(2, BATCH, HIDDEN)
    with pytest.raises(cr.ChainruleError, match=r"LSTM: expected h0 of shape .* = \(2, 2, 4\), got \(1, 2, 4\)"):
        layer(x, (cr.zeros(1, BATCH, HIDDEN), good))
    with pytest.raises(cr.ChainruleError, match=r"expected c0 .* got \(2, 2, 5\)"):
        layer(x, (good, cr.zeros(2, BATCH, 5)))
    with pytest.raises(cr.ChainruleError, match=r"GRUCell: expected the h state of shape \(2, 4\)"):
        nn.GRUCell(INPUT, HIDDEN)(cr.zeros(BATCH, INPUT), cr.zeros(3, HIDDEN))


def test_state_of_the_wrong_kind_is_refused() -> None:
    x = cr.zeros(SEQ, BATCH, INPUT)
    with pytest.raises(cr.ChainruleError, match=r"LSTM: expected the state as a tuple \(h0, c0\) of two tensors, "
                                                r"got Tensor"):
        nn.LSTM(INPUT, HIDDEN)(x, cr.zeros(1, BATCH, HIDDEN))
    with pytest.raises(cr.ChainruleError, match=r"GRU: expected the state as one tensor, got tuple; only LSTM"):
        nn.GRU(INPUT, HIDDEN)(x, (cr.zeros(1, BATCH, HIDDEN), cr.zeros(1, BATCH, HIDDEN)))
    with pytest.raises(cr.ChainruleError, match=r"LSTMCell: expected the state as a tuple \(h, c\)"):
        nn.LSTMCell(INPUT, HIDDEN)(cr.zeros(BATCH, INPUT), cr.zeros(BATCH, HIDDEN))


def test_batch_first_confusion_is_pointed_out() -> None:
    gru = nn.GRU(INPUT, HIDDEN)
    x = cr.zeros(BATCH, SEQ, INPUT)  # batch first, but the layer expects (L, N, H_in)
    with pytest.raises(cr.ChainruleError, match="should batch_first be True"):
        gru(x, cr.zeros(1, BATCH, HIDDEN))
    with pytest.raises(cr.ChainruleError, match="2-D input is one unbatched sequence"):
        gru(cr.zeros(SEQ, INPUT), cr.zeros(1, BATCH, HIDDEN))


def test_unsupported_options_are_refused() -> None:
    with pytest.raises(cr.ChainruleError, match="proj_size=2 is not supported"):
        nn.LSTM(INPUT, HIDDEN, proj_size=2)
    with pytest.raises(cr.ChainruleError, match="unknown nonlinearity 'sigmoid'"):
        nn.RNN(INPUT, HIDDEN, nonlinearity="sigmoid")
    with pytest.raises(cr.ChainruleError, match="dropout should be a number in"):
        nn.GRU(INPUT, HIDDEN, num_layers=2, dropout=1.5)
    with pytest.raises(cr.ChainruleError, match="input dtype float64 does not match the weights' float32"):
        nn.LSTM(INPUT, HIDDEN)(cr.zeros(SEQ, BATCH, INPUT, dtype=cr.float64))
