"""The "train_mlp" benchmark: one epoch of a real training loop on Fashion-MNIST, chainrule vs PyTorch.

The model is the MLP 784-256-128-10 (ReLU), trained with cross-entropy and plain SGD (lr 0.1) on
batches of 128 float32 images (pixels / 255, flattened). Both frameworks run the same idiomatic code
(:func:`build_model`, :func:`train_epoch`) with ``lib`` set to either module: ``nn.Sequential`` of
``nn.Linear`` and ``nn.ReLU``, ``nn.CrossEntropyLoss()``, ``optim.SGD(lr=0.1)``, and the ordinary
``zero_grad / loss / backward / step`` loop, accumulating ``loss.item()``.

1. **mlp-epoch** (timed): one call trains one epoch from the same starting weights (one NumPy draw
   of PyTorch's default ``Linear`` initialisation, copied into both models before every call) over
   the same batches: the epoch's permutation is drawn once with NumPy and each framework gets every
   batch as ``from_numpy(x[indices])`` from the full arrays. The mean training loss of the epoch
   must agree, and the final weights too, within the float32 drift measured below. A hand-written
   NumPy forward, backward and update is the floor the engine is measured against, and the epoch's
   matrix products alone in NumPy (:func:`matmul_limit`) the limit no framework can pass.
2. **mlp-epoch-dataloader** (timed): the same, but each framework draws its batches with its own
   ``DataLoader(TensorDataset(x, y), batch_size=128, shuffle=True, generator=g)``, ``g`` reseeded
   before each epoch. The orders differ between frameworks, so only the mean loss is compared, with a
   tolerance that covers the spread between batch orders.
3. **Test accuracy** (not timed): each framework trains three epochs over the same NumPy batch orders
   and is scored on the 10,000 test images; the accuracies must agree within 0.5 points.
4. **Memory**: each framework trains one epoch in its own fresh process (``python -m
   benchmarks.train_mlp --memory-child FRAMEWORK …``), alternating frameworks, several times. The
   child loads the data (NumPy arrays), imports its framework, pins its threads, then records its
   resident memory (VmRSS) and resets the kernel's peak (VmHWM, through ``/proc/self/clear_refs``);
   after the epoch, peak minus that baseline is the framework's training memory: model, gradients,
   graph, per-batch temporaries, allocator caches and lazily loaded code. The data itself is in the
   baseline, the same for both. The ratio of the medians is the summary's "memory" workload.

Why the tolerances: over a full epoch, float32 rounding differences (another summation order in a
matrix product or a reduction) are amplified by training, more or less depending on the starting
weights and the order. Measured here over eight seeds (60,000 images, one thread): the frameworks'
mean losses differ by 6e-9 to 1.4e-4 (relative) and their final weights by 4e-7 to 1.1e-2 (relative
Euclidean norm, worst array), but each framework's float32 run is just as far from the float64 run
(loss up to 1.1e-4, weights up to 1.3e-2), while in float64 the two frameworks agree to 1e-15. The
disagreement is float32 noise, not a different computation, so the checks allow 5e-4 on the loss and
5% on the weights. Different batch orders move the first epoch's mean loss by up to 0.6% (six orders
measured), so the DataLoader workload allows 2%.

``--quick`` uses the first 2,048 training and 1,000 test images, one accuracy epoch (reported, not
asserted) and one memory run per framework: a correctness check in seconds.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from benchmarks import harness
from benchmarks.harness import CheckFailed, Prepared, Workload, by_framework

TITLE = "train_mlp: one epoch of an MLP 784-256-128-10 on Fashion-MNIST"
SIZES = (784, 256, 128, 10)
BATCH, LR, SEED = 128, 0.1, 0
PARAMS = ("W1", "b1", "W2", "b2", "W3", "b3")  # in model.parameters() order; weights (out, in)
QUICK_TRAIN, QUICK_TEST = 2048, 1000  # images used by --quick
ACCURACY_EPOCHS, ACCURACY_POINTS = 3, 0.5
MEMORY_RUNS = 5  # fresh processes per framework (1 with --quick)
MEMORY_TARGET = 1.0  # chainrule's training memory at most torch's
LOSS_RTOL, WEIGHT_RTOL = 5e-4, 5e-2  # float32 drift over an epoch, see the module docstring
LOADER_LOSS_RTOL = 2e-2  # different batch orders
MIB = 1024 * 1024


# ---------------------------------------------------------------------------- data
@functools.lru_cache(maxsize=None)
def fashion_mnist(train: bool, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The first ``limit`` images (all with None) as float32 rows in [0, 1], and int64 labels."""
    from chainrule.datasets import FashionMNIST

    dataset = FashionMNIST(train=train)
    images = dataset.data.numpy()[:limit]
    x = images.reshape(len(images), -1).astype(np.float32) / np.float32(255)
    return x, dataset.targets.numpy()[:limit].copy()


def epoch_orders(n: int, epochs: int) -> list[np.ndarray]:
    """The permutation of ``n`` samples for each epoch, the same for every framework."""
    rng = np.random.default_rng(SEED + 1)
    return [rng.permutation(n) for _ in range(epochs)]


def initial_weights(sizes: Sequence[int] = SIZES) -> dict[str, np.ndarray]:
    """PyTorch's default ``Linear`` initialisation, ``U(±1/√fan_in)`` for weight and bias, drawn with NumPy."""
    rng = np.random.default_rng(SEED)
    weights = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        bound = 1 / np.sqrt(fan_in)
        weights[f"W{i}"] = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32)
        weights[f"b{i}"] = rng.uniform(-bound, bound, fan_out).astype(np.float32)
    return weights


def make_data(quick: bool) -> dict[str, np.ndarray]:
    """Training images ``x``, labels ``y``, the epoch's order ``perm`` and the starting weights."""
    x, y = fashion_mnist(True, QUICK_TRAIN if quick else None)
    return {"x": x, "y": y, "perm": epoch_orders(len(x), 1)[0], **initial_weights()}


# ---------------------------------------------------------------------------- one training loop, two frameworks
def build_model(lib: ModuleType, weights: Sequence[np.ndarray], sizes: Sequence[int] = SIZES) -> Any:
    """The MLP ``sizes`` (``Linear``, ``ReLU`` between them) as ``lib.nn.Sequential``, starting from ``weights``."""
    nn = lib.nn
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    load_weights(lib, model, weights)
    return model


def load_weights(lib: ModuleType, model: Any, weights: Sequence[np.ndarray]) -> None:
    with lib.no_grad():
        for parameter, array in zip(model.parameters(), weights, strict=True):
            parameter.copy_(lib.from_numpy(array))


def train_step(model: Any, loss_fn: Any, optimizer: Any, xb: Any, yb: Any) -> Any:
    """One ordinary training step, ``zero_grad / forward / loss / backward / step``; returns the loss."""
    optimizer.zero_grad()
    loss = loss_fn(model(xb), yb)
    loss.backward()
    optimizer.step()
    return loss


def train_epoch(model: Any, loss_fn: Any, optimizer: Any, batches: Iterable[tuple[Any, Any]],
                step: Callable[[Any, Any], Any] | None = None) -> float:
    """The ordinary loop of :func:`train_step` over ``batches`` (or of ``step(xb, yb)``, a compiled
    one); returns the mean training loss."""
    total, steps = 0.0, 0
    for xb, yb in batches:
        loss = train_step(model, loss_fn, optimizer, xb, yb) if step is None else step(xb, yb)
        total += loss.item()
        steps += 1
    return total / steps


def fixed_batches(lib: ModuleType, x: np.ndarray, y: np.ndarray, order: np.ndarray,
                  batch: int = BATCH) -> Iterator[tuple[Any, Any]]:
    """The batches of ``order``, each indexed from the full arrays and handed over without a copy."""
    for start in range(0, len(order), batch):
        indices = order[start:start + batch]
        yield lib.from_numpy(x[indices]), lib.from_numpy(y[indices])


def _trainer(lib: ModuleType, weights: Sequence[np.ndarray]) -> tuple[Any, Any, Any]:
    """The MLP, ``CrossEntropyLoss`` and ``SGD(lr=LR)`` of ``lib``."""
    model = build_model(lib, weights)
    return model, lib.nn.CrossEntropyLoss(), lib.optim.SGD(model.parameters(), lr=LR)


def training_run(lib: ModuleType, model: Any, weights: Sequence[np.ndarray],
                 batches: Callable[[], Iterable[tuple[Any, Any]]], note: str, lr: float = LR,
                 compile: bool = False) -> Prepared:
    """A training workload's setup: each call reloads ``weights`` into ``model``, then trains it over
    ``batches()`` (:func:`train_epoch`, ``CrossEntropyLoss``, ``SGD(lr)``; with ``compile``, its step
    through ``lib.compile``); checks: the mean loss and the final weights."""
    loss_fn, optimizer = lib.nn.CrossEntropyLoss(), lib.optim.SGD(model.parameters(), lr=lr)
    compiled = lib.compile(functools.partial(train_step, model, loss_fn, optimizer)) if compile else None

    def step() -> float:
        load_weights(lib, model, weights)  # every call trains the same batches from the same start
        return train_epoch(model, loss_fn, optimizer, batches(), compiled)

    return Prepared(step, lambda: [p.detach().numpy().copy() for p in model.parameters()], note=note)


def _epoch_autograd(lib: ModuleType, data: dict[str, np.ndarray], compile: bool = False) -> Prepared:
    weights = [data[name] for name in PARAMS]
    x, y, order = data["x"], data["y"], data["perm"]
    return training_run(lib, build_model(lib, weights), weights, lambda: fixed_batches(lib, x, y, order),
                        "`nn.Sequential` of `nn.Linear`/`nn.ReLU`, `nn.CrossEntropyLoss()`, `optim.SGD(lr=0.1)`; "
                        "batches `from_numpy(x[indices])`", compile=compile)


def _epoch_numpy(data: dict[str, np.ndarray]) -> Prepared:
    params = [data[name].copy() for name in PARAMS]
    x, y, order = data["x"], data["y"], data["perm"]

    def step() -> float:
        for param, name in zip(params, PARAMS):
            param[...] = data[name]
        losses = [numpy_sgd_step(params, x[order[i:i + BATCH]], y[order[i:i + BATCH]])
                  for i in range(0, len(order), BATCH)]
        return sum(losses) / len(losses)

    return Prepared(step, lambda: [p.copy() for p in params],
                    note="explicit forward, backward (softmax - one_hot) and update `p -= lr * g`")


def numpy_sgd_step(params: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    """One SGD step of the 3-layer MLP written out by hand; returns the batch's mean cross-entropy."""
    W1, b1, W2, b2, W3, b3 = params
    z1 = x @ W1.T + b1
    h1 = np.maximum(z1, 0)
    z2 = h1 @ W2.T + b2
    h2 = np.maximum(z2, 0)
    logits = h2 @ W3.T + b3
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    loss = float(np.log(total[:, 0]).mean() - shifted[rows, y].mean())
    # L = mean(logsumexp(z) - z[y]): dL/dz = (softmax(z) - one_hot(y)) / batch
    d3 = e / total
    d3[rows, y] -= 1
    d3 /= len(y)
    # Z = H Wᵀ + b: dW = dZᵀ H, db = Σ_rows dZ, dH = dZ W; relu passes dH where Z > 0
    d2 = (d3 @ W3) * (z2 > 0)
    d1 = (d2 @ W2) * (z1 > 0)
    for param, grad in zip(params, (d1.T @ x, d1.sum(axis=0), d2.T @ h1, d2.sum(axis=0), d3.T @ h2,
                                    d3.sum(axis=0))):
        param -= LR * grad
    return loss


def matmul_limit(sizes: Sequence[int], batch_sizes: Sequence[int]) -> Callable[[], None]:
    """A call doing only the matrix products of SGD steps of the MLP ``sizes`` on batches of
    ``batch_sizes``: per layer the forward ``Z = H Wᵀ`` and ``dW = dZᵀ H``, and ``dH = dZ W`` for every
    layer but the first (the input needs no gradient), with the shapes and transposes of
    :func:`numpy_sgd_step` and of ``nn.Linear``. Operands are random (scaled like the
    initialisation, so no overflow or subnormals) and shared by the batches of one size; results go to
    preallocated arrays through ``out=``: what is timed is BLAS, plus one Python call per product."""
    rng = np.random.default_rng(SEED)

    def array(rows: int, cols: int) -> np.ndarray:
        return (rng.standard_normal((rows, cols)) / np.sqrt(cols)).astype(np.float32)

    weights = [array(fan_out, fan_in) for fan_in, fan_out in zip(sizes[:-1], sizes[1:])]
    weight_grads = [np.empty_like(w) for w in weights]
    step_products = {}  # batch size -> [(a, b, out)]: one step's products, in the order of a step
    for n in sorted(set(batch_sizes)):
        hs = [array(n, size) for size in sizes]  # the input, then each layer's output Z
        dzs = [array(n, size) for size in sizes]  # the gradients with respect to them
        products = [(hs[i], w.T, hs[i + 1]) for i, w in enumerate(weights)]
        for i in reversed(range(len(weights))):
            products.append((dzs[i + 1].T, hs[i], weight_grads[i]))
            if i:
                products.append((dzs[i + 1], weights[i], dzs[i]))
        step_products[n] = products
    products = [product for n in batch_sizes for product in step_products[n]]

    def step() -> None:
        for a, b, out in products:
            np.matmul(a, b, out=out)

    return step


def batch_sizes(samples: int, batch: int = BATCH) -> list[int]:
    """The sizes of the batches of one epoch over ``samples`` (the last one may be short)."""
    return [min(batch, samples - start) for start in range(0, samples, batch)]


def _loader_epoch(lib: ModuleType, data: dict[str, np.ndarray]) -> Prepared:
    model, loss_fn, optimizer = _trainer(lib, [data[name] for name in PARAMS])
    utils_data = importlib.import_module(f"{lib.__name__}.utils.data")
    dataset = utils_data.TensorDataset(lib.from_numpy(data["x"]), lib.from_numpy(data["y"]))
    generator = lib.Generator()
    loader = utils_data.DataLoader(dataset, batch_size=BATCH, shuffle=True, generator=generator)

    def step() -> float:
        load_weights(lib, model, [data[name] for name in PARAMS])
        generator.manual_seed(SEED)  # the same order at every call (but not the other framework's)
        return train_epoch(model, loss_fn, optimizer, loader)

    fetch = ("one fancy index per batch (the dataset's `__getbatch__`)" if lib.__name__ == "chainrule" else
             "item by item, then stacked by `default_collate` (PyTorch's default fetch)")
    return Prepared(step, lambda: [], note="`DataLoader(TensorDataset(x, y), batch_size=128, shuffle=True, "
                                           f"generator=g)`, each its own; fetches {fetch}")


def workloads(quick: bool) -> list[Workload]:
    x, _ = fashion_mnist(True, QUICK_TRAIN if quick else None)
    steps = -(-len(x) // BATCH)
    epoch = f"one call is one epoch: {steps} SGD steps over {len(x):,} training images, batch {BATCH}"
    data = functools.partial(make_data, quick)
    return [
        Workload("mlp-epoch", f"{epoch}, in the same NumPy-drawn order for every framework, from the same "
                              "starting weights; checks: mean training loss and final weights",
                 data, {**by_framework(_epoch_autograd, compiled=True), "numpy": _epoch_numpy}, targets={"torch": 0.9},
                 summary=True, limit=lambda d: matmul_limit(SIZES, batch_sizes(len(d["perm"]))),
                 loss_rtol=LOSS_RTOL, grad_rtol=WEIGHT_RTOL),
        Workload("mlp-epoch-dataloader", f"{epoch}, drawn by each framework's own shuffling DataLoader; "
                                         "check: mean training loss only (the orders differ)",
                 data, by_framework(_loader_epoch), targets={"torch": 0.9}, loss_rtol=LOADER_LOSS_RTOL),
    ]


# ---------------------------------------------------------------------------- test accuracy
def score_after_epochs(lib: ModuleType, quick: bool, epochs: int) -> tuple[float, list[float]]:
    """Test accuracy (percent) after ``epochs`` epochs over the shared orders, and each epoch's mean loss."""
    x, y = fashion_mnist(True, QUICK_TRAIN if quick else None)
    x_test, y_test = fashion_mnist(False, QUICK_TEST if quick else None)
    model, loss_fn, optimizer = _trainer(lib, list(initial_weights().values()))
    losses = [train_epoch(model, loss_fn, optimizer, fixed_batches(lib, x, y, order))
              for order in epoch_orders(len(x), epochs)]
    with lib.no_grad():
        predicted = model(lib.from_numpy(x_test)).numpy().argmax(axis=1)
    return 100 * float((predicted == y_test).mean()), losses


def measure_accuracy(frameworks: Sequence[str], quick: bool, log: Any = print) -> str:
    epochs = 1 if quick else ACCURACY_EPOCHS
    results = {fw: score_after_epochs(importlib.import_module(fw), quick, epochs) for fw in frameworks}
    log("  test accuracy after " + f"{epochs} epoch(s): " +
        ", ".join(f"{fw} {acc:.2f}%" for fw, (acc, _) in results.items()))
    gap = (abs(results["chainrule"][0] - results["torch"][0])
           if {"chainrule", "torch"} <= results.keys() else None)
    if gap is not None and not quick and gap > ACCURACY_POINTS:
        raise CheckFailed(f"train_mlp: test accuracies differ by {gap:.2f} points after {epochs} epochs "
                          f"(allowed {ACCURACY_POINTS}): " +
                          ", ".join(f"{fw} {acc:.2f}%" for fw, (acc, _) in results.items()))
    x_test, _ = fashion_mnist(False, QUICK_TEST if quick else None)
    lines = [f"### Test accuracy after {epochs} epoch{'s' * (epochs > 1)}", "",
             f"Same starting weights and the same NumPy-drawn batch order for each epoch; scored on "
             f"{len(x_test):,} test images. Must agree within {ACCURACY_POINTS} points"
             f"{' (not checked with --quick)' if quick else ''}.", "",
             "| framework | test accuracy | mean training loss per epoch |", "|---|---|---|"]
    lines += [f"| {fw} | {acc:.2f}% | {', '.join(f'{loss:.4f}' for loss in losses)} |"
              for fw, (acc, losses) in results.items()]
    if gap is not None:
        lines += ["", f"Difference: {gap:.2f} points."]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- memory, one fresh process per run
def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux ≥ 4.0); False where the kernel does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def memory_child(framework: str, folder: Path, threads: int) -> dict[str, Any]:
    """Train one epoch in this (fresh) process; the resident memory it took on top of the import."""
    data = {path.stem: np.load(path) for path in folder.glob("*.npy")}
    lib = importlib.import_module(framework)
    harness.pin_threads(threads, [framework])
    baseline = _status_kib("VmRSS")
    reset = _reset_peak()
    model, loss_fn, optimizer = _trainer(lib, [data[name] for name in PARAMS])
    built = _status_kib("VmHWM")
    loss = train_epoch(model, loss_fn, optimizer, fixed_batches(lib, data["x"], data["y"], data["perm"]))
    return {"baseline_kib": baseline, "built_kib": built, "peak_kib": _status_kib("VmHWM"), "peak_reset": reset,
            "loss": loss}


def memory_runs(frameworks: Sequence[str], data: dict[str, np.ndarray], runs: int,
                threads: int) -> dict[str, list[dict[str, Any]]]:
    """``runs`` fresh-process reports (:func:`memory_child`) per framework, alternating which goes first."""
    results: dict[str, list[dict[str, Any]]] = {fw: [] for fw in frameworks}
    with tempfile.TemporaryDirectory() as folder:
        for name, array in data.items():
            np.save(Path(folder) / f"{name}.npy", array)
        for run in range(runs):
            for fw in frameworks if run % 2 == 0 else frameworks[::-1]:
                command = [sys.executable, "-m", "benchmarks.train_mlp", "--memory-child", fw, "--data", folder,
                           "--threads", str(threads)]
                out = subprocess.run(command, cwd=harness.ROOT, capture_output=True, text=True, timeout=600)
                if out.returncode != 0:
                    raise RuntimeError(f"train_mlp: the {fw} memory run failed:\n{out.stdout}\n{out.stderr}")
                results[fw].append(json.loads(out.stdout.splitlines()[-1]))
    harness.check_losses("train_mlp memory runs", {fw: [r["loss"] for r in rs] for fw, rs in results.items()},
                         LOSS_RTOL)
    return results


def measure_memory(frameworks: Sequence[str], settings: harness.Settings,
                   log: Any = print) -> tuple[str, list[harness.SummaryRow]]:
    """The memory runs, as Markdown, and the summary's "memory" row (target 1.0) when torch ran too."""
    runs = 1 if settings.quick_run else MEMORY_RUNS
    data = make_data(settings.quick_run)
    results = memory_runs(frameworks, data, runs, settings.threads)

    def mib(field: str, fw: str) -> list[float]:
        return [(r[field] - r["baseline_kib"]) / 1024 for r in results[fw]]

    used = {fw: mib("peak_kib", fw) for fw in frameworks}
    log("  training memory (median MiB): " + ", ".join(f"{fw} {statistics.median(v):.1f}" for fw, v in used.items()))
    lines = ["### Memory: one epoch in a fresh process", "",
             f"{runs} run{'s' * (runs > 1)} per framework, each in its own process, alternating frameworks. "
             "Training memory = peak resident memory (VmHWM) during one epoch minus the resident memory "
             "(VmRSS) right after the framework's import. The data (NumPy arrays, "
             f"{sum(a.nbytes for a in data.values()) / MIB:.0f} MiB) is loaded before the import, so it is in "
             "the baseline of both; what is measured is the rest: the model, its gradients, the graph, "
             "per-batch temporaries, allocator caches and code or modules loaded on first use.", "",
             "| framework | training memory, median (MiB) | min–max | of which building model, loss and "
             "optimizer, median (MiB) | RSS after import, median (MiB) |",
             "|---|---|---|---|---|"]
    for fw, values in used.items():
        baseline = statistics.median(r["baseline_kib"] for r in results[fw]) / 1024
        lines.append(f"| {fw} | {statistics.median(values):.1f} | {min(values):.1f}–{max(values):.1f} | "
                     f"{statistics.median(mib('built_kib', fw)):.1f} | {baseline:.0f} |")
    rows = []
    if {"chainrule", "torch"} <= used.keys():
        rows.append(harness.paired_row("memory", used["chainrule"], used["torch"], MEMORY_TARGET))
        lines += ["", f"Ratio chainrule / torch of the medians: **{rows[0].median:.2f}** "
                      f"(target ≤ {MEMORY_TARGET:g}); of the smallest: {rows[0].best:.2f}."]
    if not all(r["peak_reset"] for rs in results.values() for r in rs):
        lines += ["", "(This kernel refused to reset the peak: it counts from the start of the process.)"]
    return "\n".join(lines), rows


# ---------------------------------------------------------------------------- the benchmark
NOTES = f"""### Notes

- Same batches for every framework in mlp-epoch and in the accuracy runs: each epoch's permutation is
  drawn once with NumPy, and each framework indexes the full float32 arrays per batch
  (`from_numpy(x[indices])`), so no DataLoader is timed there; mlp-epoch-dataloader times each
  framework's own shuffling DataLoader instead.
- Same starting weights: one NumPy draw of PyTorch's default `Linear` initialisation, copied into both
  models before every timed epoch.
- Checks: float32 rounding differences grow over an epoch of training; over eight seeds the two
  frameworks' mean losses differed by at most 1.4e-4 (relative) and their final weights by at most
  1.1e-2, as far as each framework's float32 run is from the float64 run (the frameworks agree to 1e-15
  in float64). mlp-epoch therefore allows {LOSS_RTOL:g} on the mean loss and {WEIGHT_RTOL:.0%} on
  each final weight array (relative Euclidean norm); mlp-epoch-dataloader, whose batch orders differ,
  allows {LOADER_LOSS_RTOL:.0%} on the mean loss (six orders spread 0.6%).
"""


def run(frameworks: Sequence[str], settings: harness.Settings, machine: list[str], command: str,
        log: Any = print) -> harness.Section:
    """Time the workloads with the harness, then measure test accuracy and memory; the Markdown section
    and the summary rows (mlp-epoch, memory)."""
    section = harness.run_benchmark(TITLE, workloads(settings.quick_run), frameworks, settings, machine,
                                    command, log)
    trainers = [fw for fw in ("chainrule", "torch") if fw in frameworks]
    memory, memory_rows = measure_memory(trainers, settings, log)
    markdown = "\n".join([section.markdown, measure_accuracy(trainers, settings.quick_run, log), "", memory, "",
                          NOTES])
    return harness.Section(markdown, section.summary + memory_rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.train_mlp",
                                     description="One memory run (used by `python -m benchmarks train_mlp`).")
    parser.add_argument("--memory-child", choices=["chainrule", "torch"], required=True)
    parser.add_argument("--data", type=Path, required=True, help="folder of the .npy files the parent wrote")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    print(json.dumps(memory_child(args.memory_child, args.data, args.threads)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
