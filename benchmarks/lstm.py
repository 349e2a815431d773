"""The "lstm" benchmark: forward and backward of ``nn.LSTM(32, 128)`` on a sequence of 50 steps, batch 32.

Both frameworks run the same code (:func:`_lstm_autograd`) with ``lib`` set to chainrule or torch:
``lib.nn.LSTM(32, 128)`` (one layer, float32) loaded with the same starting weights (one NumPy draw
of PyTorch's default ``U(-1/√128, 1/√128)``), the same input ``x`` of shape (50, 32, 32) requiring
grad, and the loss ``mean(output²)``; one call is the forward pass and ``loss.backward()``, and the
gradients of ``x`` and of the four parameters must agree. The NumPy reference writes the same forward
and backward out by hand (input projection of all steps in one product, then per step ``h W_hhᵀ``
and the gates; backward through time, ``∂W`` from one product each after the loop).

chainrule runs the whole layer as one primitive, :class:`~chainrule.ops.recurrent.LSTMLayer`, whose
forward and backward are NumPy code on arrays. ``chainrule kernels`` (:func:`lstm_kernels`) calls those
two rules directly, with the loss in NumPy: the same step with no tensors, graph or engine, to tell
what the framework adds from what NumPy and BLAS need.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Callable

import numpy as np

from benchmarks.harness import KERNELS, Prepared, Workload, by_framework

TITLE = "lstm: forward + backward of LSTM(32, 128), sequence 50, batch 32"
INPUT, HIDDEN, STEPS, BATCH, SEED = 32, 128, 50, 32, 0
PARAMS = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")  # in parameters() order


def make_data() -> dict[str, np.ndarray]:
    """The input sequence and PyTorch's default LSTM initialisation, drawn once with NumPy (float32)."""
    rng = np.random.default_rng(SEED)
    bound = 1 / np.sqrt(HIDDEN)
    shapes = {"weight_ih_l0": (4 * HIDDEN, INPUT), "weight_hh_l0": (4 * HIDDEN, HIDDEN),
              "bias_ih_l0": (4 * HIDDEN,), "bias_hh_l0": (4 * HIDDEN,)}
    data = {name: rng.uniform(-bound, bound, shape).astype(np.float32) for name, shape in shapes.items()}
    data["x"] = rng.standard_normal((STEPS, BATCH, INPUT)).astype(np.float32)
    return data


def _lstm_autograd(lib: ModuleType, data: dict[str, np.ndarray], compile: bool = False) -> Prepared:
    model = lib.nn.LSTM(INPUT, HIDDEN)
    with lib.no_grad():
        for name, parameter in model.named_parameters():
            parameter.copy_(lib.from_numpy(data[name]))
    params = [getattr(model, name) for name in PARAMS]
    x = lib.from_numpy(data["x"].copy()).requires_grad_()

    def forward_backward() -> Any:
        output, _ = model(x)
        loss = (output * output).mean()
        loss.backward()
        return loss

    run = lib.compile(forward_backward) if compile else forward_backward

    def step() -> Any:
        x.grad = None
        for p in params:
            p.grad = None
        return run()

    return Prepared(step, lambda: [x.grad.numpy(), *(p.grad.numpy() for p in params)],
                    note="`nn.LSTM(32, 128)`, `loss = (output * output).mean()`, `loss.backward()`")


def lstm_kernels(data: dict[str, np.ndarray]) -> Prepared:
    """chainrule's LSTM primitive called on arrays: ``LSTMLayer.forward`` and ``LSTMLayer.backward`` as
    functions, the loss ``mean(output²)`` and its gradient ``2·output / size`` in NumPy."""
    from chainrule.autograd import FunctionCtx
    from chainrule.ops.recurrent import LSTMLayer

    x = data["x"]
    weights = [data[name] for name in PARAMS]
    zeros = np.zeros((BATCH, HIDDEN), np.float32)  # h0 and c0, and the gradients of h_n and c_n
    args = (x, zeros, zeros, *weights, False)
    needs = (True, False, False, True, True, True, True, False)
    scale = np.float32(2 / (STEPS * BATCH * HIDDEN))
    grads: list[np.ndarray] = []

    def step() -> Any:
        ctx = FunctionCtx()  # the node a primitive's rules receive: what they read of it, set by hand
        ctx.inputs, ctx.needs_input_grad = args, needs
        output, _, _ = LSTMLayer.forward(ctx, *args)
        loss = np.mean(output * output)
        # one gradient per forward argument: x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse
        backward = LSTMLayer.backward(ctx, output * scale, zeros, zeros)
        grads[:] = [backward[0], *backward[3:7]]
        return loss

    return Prepared(step, lambda: grads, note="`LSTMLayer.forward` and `LSTMLayer.backward` called on arrays, "
                    "the loss and its gradient in NumPy")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def lstm_numpy(data: dict[str, np.ndarray]) -> Prepared:
    w_ih, w_hh, b_ih, b_hh = (data[name] for name in PARAMS)
    x = data["x"]
    H = HIDDEN
    grads: list[np.ndarray] = []

    def step() -> Any:
        # forward: gates = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh; i, f, o = σ, g = tanh (order i, f, g, o)
        xproj = (x.reshape(-1, INPUT) @ w_ih.T + (b_ih + b_hh)).reshape(STEPS, BATCH, 4 * H)
        h = np.zeros((BATCH, H), np.float32)
        c = np.zeros((BATCH, H), np.float32)
        hs, cs, acts = [h], [c], []
        for t in range(STEPS):
            z = xproj[t] + h @ w_hh.T
            a = np.concatenate([_sigmoid(z[:, :2 * H]), np.tanh(z[:, 2 * H:3 * H]), _sigmoid(z[:, 3 * H:])], axis=1)
            c = a[:, H:2 * H] * c + a[:, :H] * a[:, 2 * H:3 * H]
            h = a[:, 3 * H:] * np.tanh(c)
            acts.append(a)
            hs.append(h)
            cs.append(c)
        out = np.stack(hs[1:])
        loss = (out * out).mean()
        # backward through time: dL/dout = 2 out / size
        d_out = out * np.float32(2 / out.size)
        d_pre = np.empty((STEPS, BATCH, 4 * H), np.float32)
        dh = np.zeros((BATCH, H), np.float32)
        dc = np.zeros((BATCH, H), np.float32)
        for t in reversed(range(STEPS)):
            a, tc = acts[t], np.tanh(cs[t + 1])
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            dh = dh + d_out[t]
            dc = dc + dh * o * (1 - tc * tc)  # h = o tanh c
            d_pre[t] = np.concatenate([dc * g * i * (1 - i), dc * cs[t] * f * (1 - f), dc * i * (1 - g * g),
                                       dh * tc * o * (1 - o)], axis=1)
            dc = dc * f  # c = f c_prev + i g
            dh = d_pre[t] @ w_hh
        d2 = d_pre.reshape(-1, 4 * H)
        db = d2.sum(axis=0)
        grads[:] = [(d2 @ w_ih).reshape(x.shape), d2.T @ x.reshape(-1, INPUT),
                    d2.T @ np.stack(hs[:-1]).reshape(-1, H), db, db]
        return loss

    return Prepared(step, lambda: grads, note="explicit forward and backward through time")


def matmul_limit(data: dict[str, np.ndarray]) -> Callable[[], None]:
    """A call doing only the matrix products of an LSTM forward and backward through time, as PyTorch's
    LSTM and the NumPy reference do them: the input projection ``X W_ihᵀ`` of all steps, per step
    ``h W_hhᵀ`` and (backward) ``∂gates W_hh``, then ``∂gatesᵀ H``, ``∂gatesᵀ X`` and ``∂gates W_ih``
    over all steps. Operands are random, scaled like the data; results go to preallocated arrays
    through ``out=``: what is timed is BLAS, plus one Python call per product."""
    rng = np.random.default_rng(SEED)
    w_ih, w_hh = data["weight_ih_l0"], data["weight_hh_l0"]
    x = data["x"].reshape(-1, INPUT)
    hs = rng.uniform(-1, 1, (STEPS * BATCH, HIDDEN)).astype(np.float32)  # every step's h (the previous one)
    d_gates = (rng.standard_normal((STEPS * BATCH, 4 * HIDDEN)) / STEPS).astype(np.float32)
    xproj, gates = np.empty((STEPS * BATCH, 4 * HIDDEN), np.float32), np.empty((BATCH, 4 * HIDDEN), np.float32)
    dh = np.empty((BATCH, HIDDEN), np.float32)
    dw_ih, dw_hh, dx = np.empty_like(w_ih), np.empty_like(w_hh), np.empty_like(x)
    rows = [slice(t * BATCH, (t + 1) * BATCH) for t in range(STEPS)]

    def step() -> None:
        np.matmul(x, w_ih.T, out=xproj)
        for r in rows:
            np.matmul(hs[r], w_hh.T, out=gates)
        for r in reversed(rows):
            np.matmul(d_gates[r], w_hh, out=dh)
        np.matmul(d_gates.T, hs, out=dw_hh)
        np.matmul(d_gates.T, x, out=dw_ih)
        np.matmul(d_gates, w_ih, out=dx)

    return step


WORKLOADS = [
    Workload(
        name="lstm",
        description="`nn.LSTM(32, 128)` (one layer, float32) on an input (50, 32, 32) requiring grad, "
                    "`loss = mean(output²)`; forward + backward, gradients of the input and all four parameters",
        make_data=make_data,
        setups={**by_framework(_lstm_autograd, compiled=True), "numpy": lstm_numpy, KERNELS: lstm_kernels},
        targets={"torch": 1.0},
        summary=True,
        limit=matmul_limit,
    ),
]
