"""The "engine" benchmark: what the autograd engine costs per operation and on a small MLP.

(a) **overhead**: a 51-op elementwise chain on shape (8,),
    ``x = tanh(x * 1.01 + 0.1)`` 17 times, then ``.sum()``, forward and backward. The arrays are
    tiny, so this measures the per-operation overhead of recording a node and running its backward rule.
(b) **raw-ops MLP**: forward and backward of a 3-layer MLP written with raw tensor ops,
    ``relu(x @ W + b)`` twice and ``logits = h @ W3 + b3``, then the mean negative log-likelihood of
    ``log_softmax(logits)`` at integer labels, with gradients for every weight and bias: at batch 32
    (64-128-128-10, mlp-small's model), where the engine's overhead still shows, and at batch 128
    (784-256-128-10, mlp-epoch's model), where the matrix products dominate and chainrule should match
    a hand-written NumPy backward. Each row has the target of the training workload of its model.

chainrule and torch run the same code (:func:`_chain_loss`, :func:`_mlp_loss`) with ``lib`` set to
either module, so they perform exactly the same operations. The MLP's loss uses the best chainrule
op available today (see :func:`loss_plan`): ``log_softmax`` when chainrule has it, else ``logits -
logsumexp`` composed from exp/log/sum; label entries picked by indexing when chainrule supports it,
else by a product with a one-hot matrix. torch follows the same plan. The NumPy reference writes
the same forward and backward out by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from benchmarks.harness import Prepared, Workload, by_framework

TITLE = "engine: per-operation overhead and a raw-ops MLP"
CHAIN_LAYERS = 17  # 3 ops each (mul, add, tanh): 51 elementwise ops, then the sum
SEED = 0


# ---------------------------------------------------------------------------- (a) elementwise chain
def chain_data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED)
    return {"x": rng.standard_normal(8).astype(np.float32)}


def _chain_loss(lib: ModuleType, x: Any) -> Any:
    for _ in range(CHAIN_LAYERS):
        x = lib.tanh(x * 1.01 + 0.1)
    return x.sum()


def _chain_autograd(lib: ModuleType, data: dict[str, np.ndarray]) -> Prepared:
    x = lib.from_numpy(data["x"].copy()).requires_grad_()

    def step() -> Any:
        x.grad = None
        loss = _chain_loss(lib, x)
        loss.backward()
        return loss

    return Prepared(step, lambda: [x.grad.numpy()])


def chain_numpy(data: dict[str, np.ndarray]) -> Prepared:
    x = data["x"].copy()
    grads: list[np.ndarray] = []

    def step() -> Any:
        ys = []
        y = x
        for _ in range(CHAIN_LAYERS):
            y = np.tanh(y * 1.01 + 0.1)
            ys.append(y)
        g = np.ones_like(x)
        for t in reversed(ys):  # d/du tanh(1.01 u + 0.1) = 1.01 (1 - tanh²)
            g = g * (1 - t * t) * 1.01
        grads[:] = [g]
        return y.sum()

    return Prepared(step, lambda: grads)


def chain_jax(data: dict[str, np.ndarray]) -> Prepared:
    import jax.numpy as jnp

    return _jax_prepared(lambda params: _chain_loss(jnp, params[0]), (jnp.asarray(data["x"]),), ())


# ---------------------------------------------------------------------------- (b) MLP
@dataclass(frozen=True)
class LossPlan:
    """How the MLP's loss is written, chosen from what chainrule supports today."""

    fused_log_softmax: bool  # lib.log_softmax(logits, dim=1), else logits - logsumexp(logits)
    index_gather: bool  # logp[rows, labels], else (logp * one_hot).sum()

    def describe(self) -> str:
        softmax = ("`logp = log_softmax(logits, dim=1)`" if self.fused_log_softmax else
                   "`logp = logits - logsumexp(logits)` composed from exp/log/sum (shifted by the "
                   "detached row max)")
        gather = ("`loss = -logp[rows, labels].mean()`" if self.index_gather else
                  "`loss = -(logp * one_hot).sum() / batch`")
        return f"{softmax}; {gather}"


def _probe(op: Any, z: Any, expected: np.ndarray, expected_grad: np.ndarray) -> bool:
    """Whether ``op(z)`` runs, gives ``expected`` and back-propagates ``expected_grad`` into ``z``."""
    z.grad = None
    try:  # a missing or unfinished op may fail in any way; then the benchmark uses the fallback
        out = op(z)
        out.sum().backward()
        return (np.allclose(out.detach().numpy(), expected, atol=1e-5)
                and np.allclose(z.grad.numpy(), expected_grad, atol=1e-5))
    except Exception:
        return False


def loss_plan() -> LossPlan:
    """The best loss formulation chainrule computes correctly, forward and backward, today."""
    import chainrule as cr

    logits = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]], np.float32)
    labels = np.array([2, 0])
    z = cr.from_numpy(logits.copy()).requires_grad_()
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    fused = _probe(lambda t: cr.log_softmax(t, dim=1), z, logp, 1 - logits.shape[1] * np.exp(logp))
    picked = np.zeros_like(logits)
    picked[[0, 1], labels] = 1
    rows, cols = cr.arange(2), cr.from_numpy(labels)
    index = _probe(lambda t: t[rows, cols], z, logits[[0, 1], labels], picked)
    return LossPlan(fused, index)


def mlp_data(batch: int, sizes: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Inputs, integer labels and He-initialised weights (small random biases), all float32."""
    rng = np.random.default_rng(SEED)
    data = {"x": rng.standard_normal((batch, sizes[0])).astype(np.float32),
            "labels": rng.integers(0, sizes[-1], batch)}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        data[f"W{i}"] = (rng.standard_normal((fan_in, fan_out)) * np.sqrt(2 / fan_in)).astype(np.float32)
        data[f"b{i}"] = (0.1 * rng.standard_normal(fan_out)).astype(np.float32)
    return data


PARAMS = ("W1", "b1", "W2", "b2", "W3", "b3")


def _mlp_loss(lib: ModuleType, plan: LossPlan, params: list[Any], x: Any, target: Any) -> Any:
    """Mean NLL of a 3-layer ReLU MLP; ``target`` is (rows, labels) or a one-hot matrix per the plan."""
    W1, b1, W2, b2, W3, b3 = params
    h = lib.relu(x @ W1 + b1)
    h = lib.relu(h @ W2 + b2)
    logits = h @ W3 + b3
    if plan.fused_log_softmax:
        logp = lib.log_softmax(logits, dim=1)
    else:
        shifted = logits - lib.from_numpy(logits.detach().numpy().max(axis=1, keepdims=True))
        logp = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    if plan.index_gather:
        rows, labels = target
        return -logp[rows, labels].mean()
    return -(logp * target).sum() / x.shape[0]


def _one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    one_hot = np.zeros((labels.size, classes), np.float32)
    one_hot[np.arange(labels.size), labels] = 1
    return one_hot


def _mlp_autograd(lib: ModuleType, data: dict[str, np.ndarray]) -> Prepared:
    plan = loss_plan()
    params = [lib.from_numpy(data[name].copy()).requires_grad_() for name in PARAMS]
    x = lib.from_numpy(data["x"].copy())
    labels = data["labels"]
    if plan.index_gather:
        target: Any = (lib.arange(labels.size), lib.from_numpy(labels.copy()))
    else:
        target = lib.from_numpy(_one_hot(labels, data["W3"].shape[1]))

    def step() -> Any:
        for p in params:
            p.grad = None
        loss = _mlp_loss(lib, plan, params, x, target)
        loss.backward()
        return loss

    return Prepared(step, lambda: [p.grad.numpy() for p in params], note=plan.describe())


def mlp_numpy(data: dict[str, np.ndarray]) -> Prepared:
    W1, b1, W2, b2, W3, b3 = (data[name].copy() for name in PARAMS)
    x = data["x"].copy()
    batch = x.shape[0]
    one_hot = _one_hot(data["labels"], W3.shape[1])
    grads: list[np.ndarray] = []

    def step() -> Any:
        z1 = x @ W1 + b1
        h1 = np.maximum(z1, 0)
        z2 = h1 @ W2 + b2
        h2 = np.maximum(z2, 0)
        logits = h2 @ W3 + b3
        shifted = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        loss = -((shifted - np.log(total)) * one_hot).sum() / batch
        # L = -mean(logp[y]): dL/dlogits = (softmax - one_hot) / batch
        d_logits = (e / total - one_hot) / batch
        # Z = H W + b: dW = Hᵀ dZ, db = Σ_rows dZ, dH = dZ Wᵀ; relu passes dH where Z > 0
        d_z2 = (d_logits @ W3.T) * (z2 > 0)
        d_z1 = (d_z2 @ W2.T) * (z1 > 0)
        grads[:] = [x.T @ d_z1, d_z1.sum(axis=0), h1.T @ d_z2, d_z2.sum(axis=0),
                    h2.T @ d_logits, d_logits.sum(axis=0)]
        return loss

    return Prepared(step, lambda: grads, note="explicit forward and backward (softmax - one_hot)")


def mlp_jax(data: dict[str, np.ndarray]) -> Prepared:
    import jax
    import jax.numpy as jnp

    def loss(params: tuple[Any, ...], x: Any, labels: Any) -> Any:
        W1, b1, W2, b2, W3, b3 = params
        h = jax.nn.relu(x @ W1 + b1)
        h = jax.nn.relu(h @ W2 + b2)
        logp = jax.nn.log_softmax(h @ W3 + b3, axis=1)
        return -logp[jnp.arange(labels.size), labels].mean()

    params = tuple(jnp.asarray(data[name]) for name in PARAMS)
    return _jax_prepared(loss, params, (jnp.asarray(data["x"]), jnp.asarray(data["labels"])))


# ---------------------------------------------------------------------------- JAX (when installed)
def _jax_prepared(loss: Any, params: tuple[Any, ...], inputs: tuple[Any, ...]) -> Prepared:
    """A jit-compiled value-and-gradient step over ``params`` (a tuple) with fixed ``inputs``."""
    import jax

    value_and_grad = jax.jit(jax.value_and_grad(loss))
    grads: list[np.ndarray] = []

    def step() -> Any:
        value, g = value_and_grad(params, *inputs)
        grads[:] = jax.block_until_ready(g)
        return value

    return Prepared(step, lambda: [np.asarray(g) for g in grads],
                    note="`jax.jit(jax.value_and_grad(loss))`: compiled by XLA, not per-op dispatch")


def _mlp(name: str, batch: int, sizes: tuple[int, ...], targets: dict[str, float]) -> Workload:
    return Workload(
        name=name,
        description=f"3-layer ReLU MLP {'-'.join(map(str, sizes))} on a batch of {batch} with raw tensor "
                    "ops, mean NLL of log_softmax at integer labels; forward + backward, gradients "
                    "for all weights and biases",
        make_data=lambda: mlp_data(batch, sizes),
        setups={**by_framework(_mlp_autograd), "numpy": mlp_numpy, "jax": mlp_jax},
        targets=targets,
    )


WORKLOADS = [
    Workload(
        name="overhead",
        description=f"`x = tanh(x * 1.01 + 0.1)` {CHAIN_LAYERS} times from a leaf requiring grad, then "
                    "`.sum()` on shape (8,); forward + backward (per-operation overhead)",
        make_data=chain_data,
        setups={**by_framework(_chain_autograd), "numpy": chain_numpy, "jax": chain_jax},
        targets={"torch": 0.5},
        summary=True,
    ),
    # the models of mlp-small and mlp-epoch, without nn, loss module and optimizer: their targets
    _mlp("raw-ops MLP, batch 32", 32, (64, 128, 128, 10), {"torch": 0.5}),
    _mlp("raw-ops MLP, batch 128", 128, (784, 256, 128, 10), {"torch": 0.9, "numpy": 1.3}),
]
