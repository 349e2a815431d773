"""The "inference" benchmark: the inference workload: one image through a model under ``no_grad``.

Two rows, each a batch-1 forward pass inside ``with lib.no_grad():``, chainrule vs PyTorch, the same
code with ``lib`` set to either module:

- **inference-mlp**: the MLP 784-256-128-10 of mlp-epoch (:func:`benchmarks.train_mlp.build_model`)
  on one flattened image of shape (1, 784);
- **inference-cnn**: the LeNet-like CNN of cnn (:func:`benchmarks.train_cnn.build_model`) on one
  image of shape (1, 1, 28, 28).

Both start from their benchmark's starting weights (one NumPy draw of PyTorch's default
initialisation). The image is NumPy-drawn pixels in [0, 1): a dense forward pass takes the same time
on any pixels, and no dataset is needed. At batch 1 the arithmetic is tiny (the MLP's largest product
is (1, 784) by (784, 256)), so what is timed is each framework's cost per module and per op. One call
returns the logits; the frameworks' logits must agree (their sum is the checked "loss", and each
framework's logits are compared array-wise like gradients). The MLP has a NumPy reference forward too.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Callable

import numpy as np

from benchmarks import train_cnn, train_mlp
from benchmarks.harness import Prepared, Workload, by_framework
from benchmarks.train_mlp import load_weights

TITLE = "inference: batch-1 forward passes under no_grad"
SEED = 0


def _image(shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(SEED).random(shape, dtype=np.float32)


def mlp_data() -> dict[str, np.ndarray]:
    return {"x": _image((1, train_mlp.SIZES[0])), **train_mlp.initial_weights()}


def cnn_data() -> dict[str, np.ndarray]:
    return {"x": _image((1, 1, 28, 28)), **train_cnn.initial_weights()}


def mlp_model(lib: ModuleType, data: dict[str, np.ndarray]) -> Any:
    """mlp-epoch's model with the weights in ``data``."""
    return train_mlp.build_model(lib, [data[name] for name in train_mlp.PARAMS])


def cnn_model(lib: ModuleType, data: dict[str, np.ndarray]) -> Any:
    """cnn's model with the weights in ``data``."""
    model = train_cnn.build_model(lib)
    load_weights(lib, model, [data[name] for name, _ in train_cnn.PARAMETERS])
    return model


def _forward(build: Callable[[ModuleType, dict[str, np.ndarray]], Any]) -> Callable[[ModuleType, dict], Prepared]:
    """The setup of a batch-1 forward of the model ``build(lib, data)`` on the image ``data["x"]``."""

    def setup(lib: ModuleType, data: dict[str, np.ndarray], compile: bool = False) -> Prepared:
        model = build(lib, data)
        x = lib.from_numpy(data["x"])
        outputs: list[Any] = []

        def forward(image: Any) -> Any:
            with lib.no_grad():
                return model(image)

        run = lib.compile(forward) if compile else forward

        def step() -> Any:
            outputs[:] = [run(x)]
            return outputs[0]

        return Prepared(step, lambda: [outputs[0].numpy()], note="`with no_grad(): model(x)`")

    return setup


def mlp_numpy(data: dict[str, np.ndarray]) -> Prepared:
    W1, b1, W2, b2, W3, b3 = (data[name] for name in train_mlp.PARAMS)
    x = data["x"]
    outputs: list[np.ndarray] = []

    def step() -> np.ndarray:
        h = np.maximum(x @ W1.T + b1, 0)
        h = np.maximum(h @ W2.T + b2, 0)
        outputs[:] = [h @ W3.T + b3]
        return outputs[0]

    return Prepared(step, lambda: outputs, note="`relu(x Wᵀ + b)` twice, then `h Wᵀ + b`")


def _inference(name: str, shape: tuple[int, ...], model: str, make_data: Callable[[], dict[str, np.ndarray]],
               setups: dict[str, Callable[[dict[str, np.ndarray]], Prepared]]) -> Workload:
    """A headline row: one image of ``shape`` through ``model``, chainrule at most half torch's time."""
    return Workload(name, f"one image {shape} through the {model} under `no_grad`; checks: the logits (the loss "
                          "column is their sum)", make_data, setups, targets={"torch": 0.5}, summary=True)


WORKLOADS = [
    _inference("inference-mlp", (1, 784), "MLP 784-256-128-10 of mlp-epoch", mlp_data,
               {**by_framework(_forward(mlp_model), compiled=True), "numpy": mlp_numpy}),
    _inference("inference-cnn", (1, 1, 28, 28), "LeNet-like CNN of cnn", cnn_data,
               by_framework(_forward(cnn_model), compiled=True)),
]
