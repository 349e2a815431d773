"""The ``chainrule`` command: ``chainrule train`` and ``chainrule evaluate``, thin over the library.

``chainrule train`` with no arguments trains an MLP on the built-in handwritten digits and reports
its accuracy on a fixed, stratified, seeded 25% test split; ``--data`` switches to Fashion-MNIST,
MNIST or a CSV file, and ``--model cnn`` to a convolutional network for the image data sets. The
checkpoint holds everything ``chainrule evaluate`` needs to rebuild the model and its preprocessing.
Bad input ends with a one-paragraph message and exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from chainrule.errors import ChainruleError

__all__ = ["main"]

ACTIVATIONS = ("relu", "tanh", "gelu", "silu", "sigmoid", "leaky_relu", "elu")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
BUILTIN_DATA = ("digits", "fashion-mnist", "mnist")
DEFAULT_HIDDEN = {"mlp": [256, 128], "cnn": [128]}


class UsageError(ChainruleError):
    """A problem with the command's input (arguments, data, checkpoint): reported without a traceback."""


@dataclass
class Dataset:
    """Arrays ready for training: features (float32, standardised), labels, and what produced them."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str] | None  # None for regression
    mean: np.ndarray
    std: np.ndarray
    description: str
    image_shape: tuple[int, int, int] | None = None  # (channels, height, width) of image data


# ---------------------------------------------------------------------------- data
def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a seeded split that keeps each class's share in both parts."""
    if not 0 < test_fraction < 1:
        raise UsageError(f"--test-fraction must be between 0 and 1, got {test_fraction}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    groups = [np.flatnonzero(labels == c) for c in np.unique(labels)] if labels.dtype.kind in "iu" \
        else [np.arange(len(labels))]
    for group in groups:
        group = rng.permutation(group)
        n_test = int(round(len(group) * test_fraction))
        test.append(group[:n_test])
        train.append(group[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _standardise(x_train: np.ndarray, x_test: np.ndarray, per_feature: bool) -> tuple[np.ndarray, ...]:
    axis = 0 if per_feature else None
    mean = x_train.mean(axis=axis, dtype=np.float64).astype(np.float32)
    std = x_train.std(axis=axis, dtype=np.float64).astype(np.float32)
    std = np.where(std > 1e-8, std, np.float32(1)).astype(np.float32)
    return (x_train - mean) / std, (x_test - mean) / std, np.asarray(mean), np.asarray(std)


def load_builtin(name: str, root: str | None, test_fraction: float, seed: int) -> Dataset:
    """The digits (split here) or Fashion-MNIST/MNIST (their official test sets)."""
    from chainrule import datasets

    if name == "digits":
        x, y = datasets.load_digits(return_X_y=True)
        x = np.asarray(x, dtype=np.float32).reshape(len(y), -1)
        y = np.asarray(y, dtype=np.int64)
        train, test = stratified_split(y, test_fraction, seed)
        x_train, x_test, mean, std = _standardise(x[train], x[test], per_feature=True)
        return Dataset(x_train, y[train], x_test, y[test], [str(c) for c in range(10)], mean, std,
                       f"digits: {len(train)} training and {len(test)} test images (8x8)", (1, 8, 8))
    cls = datasets.FashionMNIST if name == "fashion-mnist" else datasets.MNIST
    train_set, test_set = cls(root=root, train=True), cls(root=root, train=False)
    x_train = train_set.data.numpy().reshape(len(train_set), -1).astype(np.float32) / 255
    x_test = test_set.data.numpy().reshape(len(test_set), -1).astype(np.float32) / 255
    x_train, x_test, mean, std = _standardise(x_train, x_test, per_feature=False)
    return Dataset(x_train, train_set.targets.numpy(), x_test, test_set.targets.numpy(),
                   list(train_set.classes), mean, std,
                   f"{name}: {len(train_set)} training and {len(test_set)} test images (28x28)", (1, 28, 28))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_csv(path: str, label: str | None, test_fraction: float, seed: int) -> Dataset:
    """A CSV table: an optional header row, the label in the last column or the column ``label``.

    String or integer labels make a classification problem, other numbers a regression problem.
    """
    try:
        with open(path, newline="") as f:
            rows = [row for row in csv.reader(f) if row]
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read the CSV file {path}: {error}") from None
    if len(rows) < 2:
        raise UsageError(f"{path}: a CSV file needs at least two rows of data")
    header = None if all(_is_number(v) for v in rows[0][:-1]) and not (label and label in rows[0]) else rows[0]
    body = rows[1:] if header else rows
    width = len(body[0])
    if width < 2 or any(len(r) != width for r in body):
        raise UsageError(f"{path}: every row needs the same number of columns (at least two)")
    if label is None:
        column = width - 1
    elif header is None or label not in header:
        raise UsageError(f"{path}: no column named {label!r}; the header is {header}")
    else:
        column = header.index(label)
    raw_labels = [r[column] for r in body]
    try:
        x = np.array([[float(v) for i, v in enumerate(r) if i != column] for r in body], dtype=np.float32)
    except ValueError as error:
        raise UsageError(f"{path}: feature columns must be numbers ({error})") from None
    if all(_is_number(v) and float(v).is_integer() for v in raw_labels) or not all(_is_number(v) for v in raw_labels):
        classes = sorted(set(raw_labels), key=lambda v: (not _is_number(v), float(v) if _is_number(v) else 0, v))
        index = {c: i for i, c in enumerate(classes)}
        y = np.array([index[v] for v in raw_labels], dtype=np.int64)
    else:
        classes = None
        y = np.array([float(v) for v in raw_labels], dtype=np.float32)
    train, test = stratified_split(y, test_fraction, seed)
    x_train, x_test, mean, std = _standardise(x[train], x[test], per_feature=True)
    kind = f"{len(classes)} classes" if classes else "regression"
    return Dataset(x_train, y[train], x_test, y[test], classes, mean, std,
                   f"{os.path.basename(path)}: {len(train)} training and {len(test)} test rows, "
                   f"{x.shape[1]} features, {kind}")


def load_data(spec: str, label: str | None, test_fraction: float, seed: int, root: str | None) -> Dataset:
    """``--data``: a built-in name or a path to a CSV file."""
    if spec in BUILTIN_DATA:
        return load_builtin(spec, root, test_fraction, seed)
    if spec.lower().endswith(".csv"):
        if not os.path.isfile(spec):
            raise UsageError(f"--data {spec}: no such file")
        return load_csv(spec, label, test_fraction, seed)
    raise UsageError(f"--data must be one of {', '.join(BUILTIN_DATA)} or a path to a .csv file, got {spec!r}")


# ---------------------------------------------------------------------------- model
def build_model(config: dict[str, Any]) -> Any:
    """The network a checkpoint's ``config`` describes: an MLP (Linear, activation, …, Linear) or a CNN
    (per entry of ``channels``: 3×3 convolution, batch normalisation, activation, 2×2 max-pooling; then
    the same dense layers as the MLP)."""
    from chainrule import nn

    activation = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "silu": nn.SiLU, "sigmoid": nn.Sigmoid,
                  "leaky_relu": nn.LeakyReLU, "elu": nn.ELU}[config["activation"]]
    layers: list[Any] = []
    features = config["inputs"]
    if config.get("model") == "cnn":
        channels, height, width = config["image"]
        layers.append(nn.Unflatten(1, (channels, height, width)))
        for out in config["channels"]:
            layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), activation(),
                       nn.MaxPool2d(2)]
            channels, height, width = out, height // 2, width // 2
        layers.append(nn.Flatten())
        features = channels * height * width
    elif config.get("model") != "mlp":
        raise UsageError(f"model {config.get('model')!r} is not available; use --model mlp or --model cnn")
    sizes = [features, *config["hidden"], config["outputs"]]
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
            if config.get("dropout", 0) > 0:
                layers.append(nn.Dropout(config["dropout"]))
    return nn.Sequential(*layers)


def model_config(args: argparse.Namespace, data: Dataset) -> dict[str, Any]:
    """The model description stored in the checkpoint, from the command's options and the data."""
    classification = data.classes is not None
    config: dict[str, Any] = {"model": args.model, "inputs": int(data.x_train.shape[1]),
                              "hidden": args.hidden if args.hidden is not None else DEFAULT_HIDDEN[args.model],
                              "outputs": len(data.classes) if classification else 1,
                              "activation": args.activation, "dropout": args.dropout}
    if args.model == "cnn":
        if data.image_shape is None:
            raise UsageError(f"--model cnn needs image data (digits, fashion-mnist or mnist), got --data {args.data}; "
                             "use --model mlp for tables")
        height, width = data.image_shape[1:]
        if min(height, width) >> len(args.channels) == 0:
            raise UsageError(f"--channels {','.join(map(str, args.channels))}: each convolution block halves the "
                             f"{height}x{width} images; use at most {min(height, width).bit_length() - 1} blocks")
        config.update(image=list(data.image_shape), channels=args.channels)
    return config


def build_optimizer(name: str, params: Any, lr: float, momentum: float, weight_decay: float) -> Any:
    from chainrule import optim

    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    return optim.RMSprop(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


def _loader(x: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool) -> Any:
    import chainrule as cr
    from chainrule.utils.data import DataLoader, TensorDataset

    return DataLoader(TensorDataset(cr.from_numpy(x), cr.from_numpy(y)), batch_size=batch_size, shuffle=shuffle)


def _loss_fn(classification: bool) -> Any:
    from chainrule import nn

    return nn.CrossEntropyLoss() if classification else _RegressionLoss()


class _RegressionLoss:
    """Mean squared error between a (N, 1) output and (N,) targets."""

    def __call__(self, output: Any, target: Any) -> Any:
        from chainrule.nn import functional as F

        return F.mse_loss(output.reshape(-1), target)


# ---------------------------------------------------------------------------- commands
def _positive_int_list(text: str) -> list[int]:
    try:
        sizes = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer sizes like 256,128, got {text!r}") from None
    if any(s <= 0 for s in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return sizes


def _save_plot(history: Any, path: str) -> str | None:
    """Loss and accuracy per epoch as a PNG; returns a note when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "no plot: it needs matplotlib (pip install 'chainrule[plot]')"
    metrics = history.metrics
    epochs = np.arange(1, history.epochs + 1)
    panels = ["loss"] + (["accuracy"] if "accuracy" in metrics else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4))
    for axis, panel in zip(np.atleast_1d(axes), panels):
        for name in (panel, "val_" + panel):
            if name in metrics:
                axis.plot(epochs, metrics[name], label=name.replace("_", " "))
        axis.set_xlabel("epoch")
        axis.set_title(panel)
        axis.legend()
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
    return None


def train_command(args: argparse.Namespace) -> int:
    import chainrule as cr
    from chainrule import train

    started = time.perf_counter()
    cr.manual_seed(args.seed)
    data = load_data(args.data, args.label, args.test_fraction, args.seed, args.data_root)
    classification = data.classes is not None
    config = model_config(args, data)
    model = build_model(config)
    optimizer = build_optimizer(args.optimizer, model.parameters(), args.lr, args.momentum, args.weight_decay)
    x_train, y_train, val = data.x_train, data.y_train, None
    if args.patience is not None:  # early stopping watches a validation split carved from training
        fit_part, val_part = stratified_split(y_train, 0.1, args.seed + 1)
        val = _loader(x_train[val_part], y_train[val_part], args.batch_size, False)
        x_train, y_train = x_train[fit_part], y_train[fit_part]
    print(f"data: {data.description}")
    print(f"model: {model}")
    os.makedirs(args.out, exist_ok=True)
    checkpoint = os.path.join(args.out, "checkpoint.safetensors")
    extra = {"config": config, "mean": data.mean, "std": data.std, "classes": data.classes,
             "data": args.data, "seed": args.seed, "test_fraction": args.test_fraction}
    start_epoch = 0
    if args.resume:
        state = _read_checkpoint(args.resume)
        if state["extra"].get("config") != config:
            raise UsageError(f"--resume {args.resume}: the checkpoint's model {state['extra'].get('config')} "
                             f"differs from this command's {config}; use the same options")
        start_epoch = train.restore_training_state(state, model, optimizer)
        print(f"resumed from {args.resume} after epoch {start_epoch}")
    history = train.fit(model, _loss_fn(classification), optimizer,
                        _loader(x_train, y_train, args.batch_size, True), val, epochs=args.epochs,
                        patience=args.patience, last_checkpoint=checkpoint, checkpoint_extra=extra,
                        start_epoch=start_epoch, progress=not args.no_progress)
    if args.patience is not None and history.best_epoch is not None:
        print(f"best validation loss at epoch {history.best_epoch}")
    result = train.evaluate(model, _loss_fn(classification), _loader(data.x_test, data.y_test, 1024, False))
    if classification:
        print(f"test accuracy: {result.accuracy:.4f}  test loss: {result.loss:.4f}")
    else:
        print(f"test mean squared error: {result.loss:.4f}")
    note = _save_plot(history, os.path.join(args.out, "curves.png")) if history.epochs else None
    print(f"saved {checkpoint}" + (f"; {note}" if note else f" and {os.path.join(args.out, 'curves.png')}"))
    print(f"done in {time.perf_counter() - started:.1f} s")
    return 0


def _read_checkpoint(path: str) -> dict[str, Any]:
    from chainrule import train

    if not os.path.isfile(path):
        raise UsageError(f"checkpoint {path}: no such file")
    state = train.load_training_state(path)
    if "config" not in state.get("extra", {}):
        raise UsageError(f"{path}: not a checkpoint written by `chainrule train` (no model description)")
    return state


def evaluate_command(args: argparse.Namespace) -> int:
    import chainrule as cr
    from chainrule import train

    state = _read_checkpoint(args.checkpoint)
    extra = state["extra"]
    data_spec = args.data or extra["data"]
    seed = extra.get("seed", 0) if args.seed is None else args.seed
    data = load_data(data_spec, args.label, extra.get("test_fraction", 0.25), seed, args.data_root)
    model = build_model(extra["config"])
    model.load_state_dict(state["model"])
    # the checkpoint's own preprocessing, not statistics of the data being evaluated
    mean, std = np.asarray(extra["mean"], np.float32), np.asarray(extra["std"], np.float32)
    x_test = (data.x_test * data.std + data.mean - mean) / std
    if x_test.shape[1] != extra["config"]["inputs"]:
        raise UsageError(f"--data {data_spec}: {x_test.shape[1]} features, but the model expects "
                         f"{extra['config']['inputs']}")
    classes = extra.get("classes")
    result = train.evaluate(model, _loss_fn(classes is not None), _loader(x_test, data.y_test, 1024, False))
    print(f"checkpoint: {args.checkpoint} (epoch {state['epoch']})")
    print(f"data: {data.description} (evaluating the test part)")
    if classes is None:
        print(f"mean squared error: {result.loss:.4f}")
        return 0
    print(f"accuracy: {result.accuracy:.4f}\nloss: {result.loss:.4f}")
    matrix = result.confusion_matrix(len(classes))
    width = max(5, max(len(c) for c in classes) + 1, len(str(matrix.max())) + 1)
    print("confusion matrix (rows: true class, columns: predicted class):")
    print(" " * width + "".join(c[:width - 1].rjust(width) for c in classes))
    for name, row in zip(classes, matrix):
        print(name[:width - 1].rjust(width) + "".join(str(v).rjust(width) for v in row))
    del cr
    return 0


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chainrule", description="Train and evaluate networks with chainrule.")
    commands = parser.add_subparsers(dest="command", required=True)
    t = commands.add_parser("train", help="train a network (default: an MLP on the built-in digits)")
    t.add_argument("--data", default="digits", help="digits, fashion-mnist, mnist or PATH.csv (default digits)")
    t.add_argument("--data-root", default=None, help="folder holding the MNIST/Fashion-MNIST files")
    t.add_argument("--label", default=None, help="the CSV column holding the label (default: the last)")
    t.add_argument("--test-fraction", type=float, default=0.25, help="share of a CSV/digits set kept for testing")
    t.add_argument("--model", default="mlp", choices=("mlp", "cnn"))
    t.add_argument("--hidden", type=_positive_int_list, default=None,
                   help="hidden (dense) layer sizes, e.g. 256,128 (default 256,128 for mlp, 128 for cnn)")
    t.add_argument("--channels", type=_positive_int_list, default=[16, 32],
                   help="cnn: output channels of each convolution block (default 16,32)")
    t.add_argument("--activation", default="relu", choices=ACTIVATIONS)
    t.add_argument("--dropout", type=float, default=0.0)
    t.add_argument("--optimizer", default="adam", choices=OPTIMIZERS)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--momentum", type=float, default=0.9, help="for sgd and rmsprop")
    t.add_argument("--weight-decay", type=float, default=0.0)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--patience", type=int, default=None, help="stop after this many epochs without progress")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default=None, help="output folder (default runs/<data>)")
    t.add_argument("--resume", default=None, metavar="CHECKPOINT", help="continue a run from its checkpoint")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    commands.add_parser("demo", help="backpropagation with raw tensors: a small network fits sin(x) "
                                     "(see chainrule demo --help)")
    e = commands.add_parser("evaluate", help="evaluate a checkpoint on a data set's test part")
    e.add_argument("checkpoint")
    e.add_argument("--data", default=None, help="default: the data set the checkpoint was trained on")
    e.add_argument("--data-root", default=None)
    e.add_argument("--label", default=None)
    e.add_argument("--seed", type=int, default=None, help="the split's seed (default: the training seed)")
    return parser


def _check_train_args(args: argparse.Namespace) -> None:
    if args.lr <= 0:
        raise UsageError(f"--lr must be positive, got {args.lr}")
    if args.batch_size <= 0 or args.epochs < 0:
        raise UsageError(f"--batch-size must be positive and --epochs at least 0, got {args.batch_size} and {args.epochs}")
    if args.patience is not None and args.patience <= 0:
        raise UsageError(f"--patience must be positive, got {args.patience}")
    if not 0 <= args.dropout < 1:
        raise UsageError(f"--dropout must be in [0, 1), got {args.dropout}")
    if args.out is None:
        name = os.path.splitext(os.path.basename(args.data))[0] if args.data.endswith(".csv") else args.data
        args.out = os.path.join("runs", name)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for bad input, with a one-paragraph message)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["demo"]:  # its own options, parsed by the demo itself
        from chainrule import demo

        return demo.main(argv[1:])
    args = make_parser().parse_args(argv)
    try:
        if args.command == "train":
            _check_train_args(args)
            return train_command(args)
        return evaluate_command(args)
    except (ChainruleError, OSError) as error:
        print(f"chainrule {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"chainrule {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
