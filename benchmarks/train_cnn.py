"""The "train_cnn" benchmark: one training pass of a LeNet-like CNN over Fashion-MNIST, chainrule vs PyTorch.

The model: ``Conv2d(1, 16, 5)``, ReLU, ``MaxPool2d(2)``, ``Conv2d(16, 32, 5)``, ReLU, ``MaxPool2d(2)``,
``Flatten``, ``Linear(512, 10)``; cross-entropy, plain SGD (lr 0.05), batch 64, float32 images
(pixels / 255) of shape (1, 28, 28). One call trains one pass over the first 10,000 training images
(157 steps) from the same starting weights (one NumPy draw of PyTorch's default initialisation, copied
into both models before every call), in the same NumPy-drawn order, with the ordinary
``zero_grad / loss / backward / step`` loop of :func:`benchmarks.train_mlp.train_epoch`. The mean
training loss and the final weights must agree within the float32 drift of a pass of training
(the tolerances of train_mlp, measured there).

``--quick`` uses the first 1,024 images: a correctness check in seconds.
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any, Sequence

import numpy as np

from benchmarks import harness
from benchmarks.harness import Prepared, Workload, by_framework
from benchmarks.train_mlp import LOSS_RTOL, WEIGHT_RTOL, epoch_orders, fashion_mnist, fixed_batches, training_run

TITLE = "train_cnn: one pass of a LeNet-like CNN over 10,000 Fashion-MNIST images"
IMAGES, QUICK_IMAGES = 10_000, 1_024
BATCH, LR, SEED = 64, 0.05, 0
# (name, shape) of each parameter in model.parameters() order
PARAMETERS = (("conv1.weight", (16, 1, 5, 5)), ("conv1.bias", (16,)), ("conv2.weight", (32, 16, 5, 5)),
              ("conv2.bias", (32,)), ("fc.weight", (10, 512)), ("fc.bias", (10,)))


def build_model(lib: ModuleType) -> Any:
    """The CNN as ``lib.nn.Sequential``."""
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(1, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(512, 10))


def initial_weights() -> dict[str, np.ndarray]:
    """PyTorch's default initialisation, ``U(±1/√fan_in)`` for weights and biases, drawn with NumPy."""
    rng = np.random.default_rng(SEED)
    weights = {}
    for name, shape in PARAMETERS:
        if name.endswith(".weight"):  # fan-in: in_channels·kh·kw or in_features; a bias shares its layer's
            bound = 1 / np.sqrt(np.prod(shape[1:]))
        weights[name] = rng.uniform(-bound, bound, shape).astype(np.float32)
    return weights


def make_data(quick: bool) -> dict[str, np.ndarray]:
    """Images ``x`` (N, 1, 28, 28), labels ``y``, the pass's order ``perm`` and the starting weights."""
    x, y = fashion_mnist(True, QUICK_IMAGES if quick else IMAGES)
    return {"x": x.reshape(-1, 1, 28, 28), "y": y, "perm": epoch_orders(len(x), 1)[0], **initial_weights()}


def _pass(lib: ModuleType, data: dict[str, np.ndarray], compile: bool = False) -> Prepared:
    weights = [data[name] for name, _ in PARAMETERS]
    x, y, order = data["x"], data["y"], data["perm"]
    return training_run(lib, build_model(lib), weights, lambda: fixed_batches(lib, x, y, order, BATCH),
                        "`nn.Sequential` of `Conv2d`/`ReLU`/`MaxPool2d`/`Flatten`/`Linear`, "
                        "`nn.CrossEntropyLoss()`, `optim.SGD(lr=0.05)`; batches `from_numpy(x[indices])`", lr=LR,
                        compile=compile)


def workloads(quick: bool) -> list[Workload]:
    n = QUICK_IMAGES if quick else IMAGES
    return [Workload("cnn", f"one call is one pass: {-(-n // BATCH)} SGD steps over {n:,} training images, "
                            f"batch {BATCH}, same order and starting weights for every framework; checks: "
                            "mean training loss and final weights",
                     functools.partial(make_data, quick), by_framework(_pass, compiled=True), targets={"torch": 1.0},
                     summary=True, loss_rtol=LOSS_RTOL, grad_rtol=WEIGHT_RTOL)]


def run(frameworks: Sequence[str], settings: harness.Settings, machine: list[str], command: str,
        log: Any = print) -> harness.Section:
    """Time the pass with the harness; the Markdown section and summary row."""
    return harness.run_benchmark(TITLE, workloads(settings.quick_run), frameworks, settings, machine, command, log)
