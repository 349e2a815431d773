"""The ordinary training loop, with the chores done: progress bar, metrics, early stopping, best-model
checkpoints, a scheduler hook, callbacks and a history.

Each epoch repeats backpropagation's four moves over the training batches — forward pass, loss,
backward pass, update — and then measures the model on the validation data, until the epochs run
out or the validation metric stops improving ("repeat until a convergence criterion is met")::

    history = cr.train.fit(model, nn.CrossEntropyLoss(), optimizer, train_loader, val_loader,
                           epochs=20, patience=3, checkpoint="best.safetensors")

A plain PyTorch-style loop works just as well; ``fit`` only saves writing it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np
from tqdm.auto import tqdm

from chainrule.autograd.grad_mode import no_grad
from chainrule.errors import ChainruleError
from chainrule.io import load, save
from chainrule.random import get_rng_state, set_rng_state
from chainrule.tensor import Tensor

__all__ = ["fit", "evaluate", "History", "Evaluation", "training_state", "restore_training_state"]

Callback = Callable[[int, dict[str, float]], Any]


@dataclass
class History:
    """Per-epoch metrics of a :func:`fit` run: ``history.metrics["val_loss"][k]`` is epoch k's."""

    metrics: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int | None = None
    stopped_early: bool = False

    def append(self, logs: dict[str, float]) -> None:
        """Add one epoch's metrics."""
        for name, value in logs.items():
            self.metrics.setdefault(name, []).append(value)

    def __getitem__(self, name: str) -> list[float]:
        return self.metrics[name]

    @property
    def epochs(self) -> int:
        """How many epochs were run."""
        return len(self.metrics.get("loss", []))


@dataclass
class Evaluation:
    """What :func:`evaluate` measures: the mean loss and, for classifiers, accuracy and predictions."""

    loss: float
    accuracy: float | None
    predictions: np.ndarray
    targets: np.ndarray

    def confusion_matrix(self, num_classes: int | None = None) -> np.ndarray:
        """Counts of (true class, predicted class) pairs; rows are true classes."""
        if self.accuracy is None:
            raise ChainruleError("confusion_matrix: the model is not a classifier (no accuracy was measured)")
        n = num_classes or int(max(self.predictions.max(initial=0), self.targets.max(initial=0))) + 1
        matrix = np.zeros((n, n), dtype=np.int64)
        np.add.at(matrix, (self.targets, self.predictions), 1)
        return matrix


def _is_classification(output: Tensor, target: Tensor) -> bool:
    return output.ndim >= 2 and target.dtype.is_floating_point is False and target.ndim == output.ndim - 1


def _run_epoch(model: Any, loss_fn: Callable[..., Tensor], batches: Iterable[Any], optimizer: Any | None,
               bar: Any | None) -> tuple[float, float | None, list[np.ndarray], list[np.ndarray]]:
    """One pass over ``batches``: training when an optimizer is given, else evaluation."""
    total_loss = 0.0
    count = 0
    correct = 0
    classification: bool | None = None
    predictions: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    for inputs, target in batches:
        if optimizer is not None:
            optimizer.zero_grad()
        output = model(inputs)
        loss = loss_fn(output, target)
        if optimizer is not None:
            loss.backward()
            optimizer.step()
        n = len(target)
        value = loss.item()
        if not math.isfinite(value):
            raise ChainruleError(
                f"fit: the loss became {value} after {count + n} examples of this epoch: the learning "
                "rate is probably too large (the updates overshoot); try a smaller --lr / lr")
        total_loss += value * n
        count += n
        if classification is None:
            classification = _is_classification(output, target)
        if classification:
            predicted = output.detach().numpy().argmax(axis=1)
            correct += int((predicted == target.numpy()).sum())
            if optimizer is None:
                predictions.append(predicted)
                targets.append(target.numpy())
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{total_loss / count:.4f}", refresh=False)
    if count == 0:
        raise ChainruleError("fit: the data yielded no batches; check the dataset and batch size")
    return total_loss / count, (correct / count if classification else None), predictions, targets


def evaluate(model: Any, loss_fn: Callable[..., Tensor], data: Iterable[Any]) -> Evaluation:
    """Run ``model`` over ``data`` (batches of ``(inputs, targets)``) in eval mode, without gradients."""
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        with no_grad():
            loss, accuracy, predictions, targets = _run_epoch(model, loss_fn, data, None, None)
    finally:
        model.train(was_training)
    empty = np.zeros(0, np.int64)
    return Evaluation(loss, accuracy, np.concatenate(predictions) if predictions else empty,
                      np.concatenate(targets) if targets else empty)


def training_state(model: Any, optimizer: Any, scheduler: Any = None, epoch: int = 0,
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything needed to continue a run exactly: weights, optimizer and scheduler state, the epoch
    and the random generator's state (which decides the next epoch's shuffling and dropout)."""
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
             "rng": get_rng_state(), "extra": extra or {}}
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    return state


def restore_training_state(state: dict[str, Any], model: Any, optimizer: Any, scheduler: Any = None) -> int:
    """Load a :func:`training_state` back; returns the number of epochs already done."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and "scheduler" in state:
        scheduler.load_state_dict(state["scheduler"])
    set_rng_state(state["rng"])
    return int(state["epoch"])


def _improved(value: float, best: float | None, mode: str, min_delta: float) -> bool:
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


def fit(model: Any, loss_fn: Callable[..., Tensor], optimizer: Any, train_data: Iterable[Any],
        val_data: Iterable[Any] | None = None, epochs: int = 10, *, scheduler: Any = None,
        patience: int | None = None, monitor: str | None = None, mode: str | None = None,
        min_delta: float = 0.0, checkpoint: str | None = None, last_checkpoint: str | None = None,
        checkpoint_extra: dict[str, Any] | None = None, callbacks: Sequence[Callback] = (),
        start_epoch: int = 0, progress: bool = True, verbose: bool = True) -> History:
    """Train ``model`` for ``epochs`` epochs and return the per-epoch :class:`History`.

    - ``train_data``/``val_data``: iterables of ``(inputs, targets)`` batches (e.g. DataLoaders).
    - ``scheduler``: stepped once per epoch; a ``ReduceLROnPlateau`` is given the monitored value.
    - ``patience``: stop when ``monitor`` (default ``"val_loss"``, or ``"loss"`` without validation
      data) has not improved by more than ``min_delta`` for that many epochs.
    - ``checkpoint``: a path where the best model so far (by ``monitor``) is saved, with
      :func:`training_state`; ``last_checkpoint``: where the state after every epoch is saved, for
      resuming with :func:`restore_training_state` and ``start_epoch``.
    - ``callbacks``: called as ``callback(epoch, logs)`` after each epoch; returning True stops.
    """
    if epochs < 0 or start_epoch < 0:
        raise ChainruleError(f"fit: epochs ({epochs}) and start_epoch ({start_epoch}) must be >= 0")
    monitor = monitor or ("val_loss" if val_data is not None else "loss")
    mode = mode or ("max" if "accuracy" in monitor else "min")
    if mode not in ("min", "max"):
        raise ChainruleError(f"fit: mode must be 'min' or 'max', got {mode!r}")
    history = History()
    best: float | None = None
    waited = 0
    for epoch in range(start_epoch, epochs):
        model.train()
        total = len(train_data) if hasattr(train_data, "__len__") else None  # type: ignore[arg-type]
        with tqdm(total=total, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress, leave=False,
                  unit="batch", dynamic_ncols=True) as bar:
            loss, accuracy, _, _ = _run_epoch(model, loss_fn, train_data, optimizer, bar)
        logs = {"epoch": float(epoch + 1), "loss": loss}
        if accuracy is not None:
            logs["accuracy"] = accuracy
        if val_data is not None:
            result = evaluate(model, loss_fn, val_data)
            logs["val_loss"] = result.loss
            if result.accuracy is not None:
                logs["val_accuracy"] = result.accuracy
        logs["lr"] = float(optimizer.param_groups[0]["lr"])
        if monitor not in logs:
            raise ChainruleError(f"fit: cannot monitor {monitor!r}; the metrics are {sorted(logs)}")
        if scheduler is not None:
            scheduler.step(logs[monitor]) if hasattr(scheduler, "num_bad_epochs") else scheduler.step()
        history.append(logs)
        if verbose:
            print("epoch {:>3}/{}  ".format(epoch + 1, epochs) + "  ".join(
                f"{k} {v:.4f}" for k, v in logs.items() if k not in ("epoch",)), flush=True)
        if _improved(logs[monitor], best, mode, min_delta):
            best, waited, history.best_epoch = logs[monitor], 0, epoch + 1
            if checkpoint is not None:
                save(training_state(model, optimizer, scheduler, epoch + 1, checkpoint_extra), checkpoint)
        else:
            waited += 1
        if last_checkpoint is not None:
            save(training_state(model, optimizer, scheduler, epoch + 1, checkpoint_extra), last_checkpoint)
        stop = any(callback(epoch + 1, logs) is True for callback in callbacks)
        if patience is not None and waited >= patience:
            history.stopped_early = True
            if verbose:
                print(f"early stopping: {monitor} has not improved for {patience} epochs "
                      f"(best {best:.4f} at epoch {history.best_epoch})", flush=True)
            break
        if stop:
            history.stopped_early = True
            break
    return history


def load_training_state(path: str) -> dict[str, Any]:
    """Read a checkpoint written by :func:`fit` (or :func:`training_state` + ``chainrule.save``)."""
    state = load(path)
    if not isinstance(state, dict) or not {"model", "optimizer", "epoch", "rng"} <= set(state):
        raise ChainruleError(
            f"{path}: not a chainrule training checkpoint (it lacks model/optimizer/epoch/rng entries)")
    return state
