"""The "mlp_small" benchmark: the mlp-small workload, full training steps of a small MLP, chainrule vs PyTorch.

The model is ``nn.Sequential(Linear(64, 128), ReLU, Linear(128, 128), ReLU, Linear(128, 10))`` with
``nn.CrossEntropyLoss()`` and ``optim.SGD(lr=0.1)``, batch 32, float32: small enough that the
framework's per-call cost (modules, graph, optimizer) weighs as much as the arithmetic. Both
frameworks run the same code, :func:`benchmarks.train_mlp.train_epoch`'s ``zero_grad / forward /
loss / backward / step`` loop (accumulating ``loss.item()``), with ``lib`` set to either module.

One call reloads the starting weights (PyTorch's default ``Linear`` initialisation, drawn once with
NumPy) and trains :data:`STEPS` steps over the same :data:`STEPS` fixed batches, already converted to
each framework's tensors: every call of every framework computes the same thing, so the mean loss and
the final weights are checked between frameworks. The reload (six ``copy_`` under ``no_grad``) is
amortised over the steps: measured at 35 µs per call in chainrule and 38 µs in torch (CPU time, one
thread), about 1% of a call. The hand-written NumPy step of train_mlp is the reference, and the steps' matrix products
alone in NumPy (:func:`benchmarks.train_mlp.matmul_limit`) give the distance to the limit.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from benchmarks.harness import Prepared, Workload, by_framework
from benchmarks.train_mlp import (LR, PARAMS, SEED, build_model, initial_weights, matmul_limit, numpy_sgd_step,
                                  training_run)

TITLE = "mlp_small: training steps of an MLP 64-128-128-10, batch 32"
SIZES = (64, 128, 128, 10)
BATCH, STEPS = 32, 10  # steps per call


def make_data() -> dict[str, np.ndarray]:
    """``STEPS`` batches of standard normal inputs ``x`` (STEPS, BATCH, 64), labels ``y``, starting weights."""
    rng = np.random.default_rng(SEED)
    return {"x": rng.standard_normal((STEPS, BATCH, SIZES[0])).astype(np.float32),
            "y": rng.integers(0, SIZES[-1], (STEPS, BATCH)), **initial_weights(SIZES)}


def _steps_autograd(lib: ModuleType, data: dict[str, np.ndarray], compile: bool = False) -> Prepared:
    weights = [data[name] for name in PARAMS]
    batches = [(lib.from_numpy(x), lib.from_numpy(y)) for x, y in zip(data["x"], data["y"])]
    return training_run(lib, build_model(lib, weights, SIZES), weights, lambda: batches,
                        "`nn.Sequential` of `nn.Linear`/`nn.ReLU`, `nn.CrossEntropyLoss()`, `optim.SGD(lr=0.1)`",
                        compile=compile)


def _steps_numpy(data: dict[str, np.ndarray]) -> Prepared:
    params = [data[name].copy() for name in PARAMS]

    def step() -> float:
        for param, name in zip(params, PARAMS):
            param[...] = data[name]
        return sum(numpy_sgd_step(params, x, y) for x, y in zip(data["x"], data["y"])) / STEPS

    return Prepared(step, lambda: [p.copy() for p in params],
                    note="explicit forward, backward (softmax - one_hot) and update `p -= lr * g`")


WORKLOADS = [
    Workload(
        name="mlp-small",
        description=f"one call is {STEPS} SGD steps (lr {LR}) of MLP {'-'.join(map(str, SIZES))} on {STEPS} fixed "
                    f"batches of {BATCH}, from the same starting weights (reloaded at each call); checks: mean "
                    "training loss and final weights",
        make_data=make_data,
        setups={**by_framework(_steps_autograd, compiled=True), "numpy": _steps_numpy},
        targets={"torch": 0.5},
        summary=True,
        limit=lambda data: matmul_limit(SIZES, [BATCH] * STEPS),
    ),
]
