"""The fused recurrent primitives: same values as the composition of ops, gradcheck, second derivatives."""

from __future__ import annotations

import itertools
import warnings
from typing import Any, Callable

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.dtype import from_numpy_dtype
from chainrule.ops.recurrent import GRULayer, LSTMLayer, RNNLayer, gru_steps, lstm_steps, rnn_steps
from tests.helpers import assert_close, rand, require_torch

STEPS, BATCH, INPUT, HIDDEN = 3, 2, 3, 4


def _leaf(shape: tuple[int, ...], seed: int, dtype: Any = np.float64, scale: float = 1.0) -> cr.Tensor:
    return rand(shape, from_numpy_dtype(np.dtype(dtype)), -scale, scale, seed=seed)


def _case(kind: str, bias: bool, dtype: Any = np.float64) -> tuple[Callable[..., Any], Callable[..., Any], list]:
    """(primitive, composition, arguments before ``reverse``) for one kind of layer."""
    gates = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}[kind]
    states = [_leaf((BATCH, HIDDEN), 1 + i, dtype) for i in range(2 if kind == "lstm" else 1)]
    w_hh = _leaf((gates * HIDDEN, HIDDEN), 5, dtype, 0.7)
    b_hh = _leaf((gates * HIDDEN,), 6, dtype) if bias else None
    if kind == "lstm":  # the LSTM primitive includes the input projection
        x = _leaf((STEPS, BATCH, INPUT), 0, dtype, 2.0)
        w_ih = _leaf((gates * HIDDEN, INPUT), 7, dtype, 0.7)
        b_ih = _leaf((gates * HIDDEN,), 8, dtype) if bias else None
        return LSTMLayer.apply, lstm_steps, [x, *states, w_ih, w_hh, b_ih, b_hh]
    xproj = _leaf((STEPS, BATCH, gates * HIDDEN), 0, dtype, 2.0)
    args = [xproj, *states, w_hh, b_hh]
    if kind == "gru":
        return GRULayer.apply, gru_steps, args
    relu = kind == "rnn_relu"
    return (lambda *a: RNNLayer.apply(*a, relu)), (lambda *a: rnn_steps(*a, relu)), args


CASES = list(itertools.product(("lstm", "gru", "rnn_tanh", "rnn_relu"), (True, False), (False, True)))


@pytest.mark.parametrize("kind, bias, reverse", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_layer_matches_the_composition(kind: str, bias: bool, reverse: bool, dtype: Any) -> None:
    fused, composed, args = _case(kind, bias, dtype)
    outs = fused(*args, reverse)
    expected = composed(*args, reverse)
    assert all(o.dtype == cr.float32 if dtype == np.float32 else cr.float64 for o in outs)
    rng = np.random.default_rng(7)
    weights = [cr.from_numpy(rng.standard_normal(o.shape).astype(dtype)) for o in outs]
    leaves = [a for a in args if a is not None]
    grads = cr.autograd.grad(sum((o * w).sum() for o, w in zip(outs, weights)), leaves)
    expected_grads = cr.autograd.grad(sum((o * w).sum() for o, w in zip(expected, weights)), leaves)
    for got, want in zip([*outs, *grads], [*expected, *expected_grads], strict=True):
        assert_close(got, want.detach().numpy())


@pytest.mark.parametrize("kind, bias, reverse", CASES)
def test_fused_layer_gradcheck(kind: str, bias: bool, reverse: bool) -> None:
    fused, _, args = _case(kind, bias)
    leaves = [a for a in args if a is not None]

    def run(*tensors: cr.Tensor) -> Any:
        given = iter(tensors)
        return fused(*(None if a is None else next(given) for a in args), reverse)

    assert gradcheck(run, leaves)


@pytest.mark.parametrize("kind, reverse", [("lstm", True), ("rnn_relu", False)])  # the others: tests/nn
def test_fused_layer_second_derivatives(kind: str, reverse: bool) -> None:
    """create_graph=True differentiates the composition: gradgradcheck holds."""
    fused, _, args = _case(kind, True)
    assert gradgradcheck(lambda *a: fused(*a, reverse), args)


def test_lstm_saturated_gates_stay_finite() -> None:
    """σ(x) = 1 / (1 + e⁻ˣ) overflows e⁻ˣ to inf for very negative x: the gate is then exactly 0, not NaN."""
    x = cr.from_numpy(np.full((2, 1, 1), -1e4, np.float32)).requires_grad_()
    h0 = c0 = cr.zeros(1, HIDDEN)
    w_ih, w_hh = cr.ones(4 * HIDDEN, 1), cr.zeros(4 * HIDDEN, HIDDEN)
    out, h, c = LSTMLayer.apply(x, h0, c0, w_ih, w_hh, None, None, False)
    out.sum().backward()
    assert np.all(np.isfinite(out.numpy(force=True))) and np.all(np.isfinite(x.grad.numpy()))


def test_lstm_saturated_gates_match_torch_without_warnings() -> None:
    """Pre-activations of ±100 in float32 saturate every gate (σ to 0 or 1, tanh to ±1, through one
    shared sigmoid with e⁻ˣ overflowing to inf): values and gradients match torch, with no warnings."""
    torch = require_torch()
    rng = np.random.default_rng(3)
    x = rng.choice(np.float32([-100, 100]), (STEPS, BATCH, 1))
    w_ih = rng.choice(np.float32([-1, 1]), (4 * HIDDEN, 1))
    w_hh = (0.1 * rng.standard_normal((4 * HIDDEN, HIDDEN))).astype(np.float32)
    ours = [cr.from_numpy(a.copy()).requires_grad_() for a in (x, w_ih, w_hh)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        states = cr.zeros(BATCH, HIDDEN), cr.zeros(BATCH, HIDDEN)
        out, _, c = LSTMLayer.apply(ours[0], *states, ours[1], ours[2], None, None, False)
        (out.sum() + c.sum()).backward()
    lstm = torch.nn.LSTM(1, HIDDEN, bias=False)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(w_ih))
        lstm.weight_hh_l0.copy_(torch.from_numpy(w_hh))
    tx = torch.from_numpy(x.copy()).requires_grad_()
    t_out, (_, t_c) = lstm(tx)
    (t_out.sum() + t_c.sum()).backward()
    assert_close(out, t_out.detach().numpy())
    assert_close(c, t_c[0].detach().numpy())
    for got, want in zip([t.grad for t in ours], [tx.grad, lstm.weight_ih_l0.grad, lstm.weight_hh_l0.grad]):
        assert_close(got, want.numpy())


def test_backward_twice_with_retain_graph_gives_the_same_gradients() -> None:
    """The backward rule leaves the saved activations untouched."""
    _, _, args = _case("lstm", True)
    out, _, _ = LSTMLayer.apply(*args, False)
    loss = (out * out).sum()
    first = [g.numpy().copy() for g in cr.autograd.grad(loss, args, retain_graph=True)]
    second = [g.numpy() for g in cr.autograd.grad(loss, args)]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("given", ["b_ih", "b_hh"])
def test_lstm_with_one_bias_matches_the_composition_in_float32(given: str) -> None:
    """The LSTM primitive stacks [W_ih | W_hh | b] into one product: a single bias (either one) works,
    and nothing leaves float32."""
    _, _, (x, h0, c0, w_ih, w_hh, b_ih, b_hh) = _case("lstm", True, np.float32)
    args = [x, h0, c0, w_ih, w_hh, b_ih if given == "b_ih" else None, b_hh if given == "b_hh" else None]
    outs = LSTMLayer.apply(*args, True)
    expected = lstm_steps(*args, True)
    leaves = [a for a in args if a is not None]
    grads = cr.autograd.grad(sum((o * o).sum() for o in outs), leaves)
    expected_grads = cr.autograd.grad(sum((o * o).sum() for o in expected), leaves)
    for got, want in zip([*outs, *grads], [*expected, *expected_grads], strict=True):
        assert got.dtype == cr.float32
        assert_close(got, want.detach().numpy())


def test_lstm_bias_gradients_are_separate_arrays() -> None:
    """Both biases get the same gradient (∂b of the stacked product), each in its own array."""
    _, _, args = _case("lstm", True, np.float32)
    out, _, _ = LSTMLayer.apply(*args, False)
    out.sum().backward()
    b_ih, b_hh = args[5], args[6]
    np.testing.assert_array_equal(b_ih.grad.numpy(), b_hh.grad.numpy())
    b_ih.grad.numpy()[...] = 0
    assert np.any(b_hh.grad.numpy() != 0)
