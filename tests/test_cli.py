"""The `chainrule` command line: training on the built-in digits (the main job), CSV data,
evaluation, resuming, and one-paragraph errors with exit status 2."""

from __future__ import annotations

import builtins
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chainrule import cli
from tests.helpers import require_fashion_mnist

ROOT = Path(__file__).resolve().parents[1]


def _accuracy(text: str) -> float:
    return float(re.search(r"test accuracy: ([0-9.]+)", text).group(1))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_training_reaches_97_percent_on_the_digits(seed, tmp_path, capsys):
    assert cli.main(["train", "--seed", str(seed), "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert _accuracy(out) >= 0.97, out
    assert (tmp_path / "checkpoint.safetensors").is_file()


def test_train_writes_checkpoint_and_curves_then_evaluate_reads_them(tmp_path, capsys):
    assert cli.main(["train", "--epochs", "2", "--out", str(tmp_path), "--no-progress"]) == 0
    trained = _accuracy(capsys.readouterr().out)
    assert (tmp_path / "curves.png").is_file()  # CI installs the plot extra
    assert cli.main(["evaluate", str(tmp_path / "checkpoint.safetensors")]) == 0
    out = capsys.readouterr().out
    assert f"accuracy: {trained:.4f}" in out
    assert "confusion matrix" in out and len(re.findall(r"^\s+\d( +\d+){10}$", out, re.M)) == 10


def test_without_matplotlib_the_run_carries_on_and_says_how_to_get_the_plot(tmp_path, capsys, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    assert cli.main(["train", "--epochs", "1", "--out", str(tmp_path), "--no-progress"]) == 0
    assert "pip install 'chainrule[plot]'" in capsys.readouterr().out
    assert not (tmp_path / "curves.png").exists()


def test_resume_continues_from_the_checkpoint(tmp_path, capsys):
    args = ["train", "--out", str(tmp_path), "--no-progress", "--hidden", "32"]
    assert cli.main(args + ["--epochs", "2"]) == 0
    assert cli.main(args + ["--epochs", "4", "--resume", str(tmp_path / "checkpoint.safetensors")]) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "epoch   3/4" in out and "epoch   1/4" not in out.split("resumed from")[1]


def test_patience_uses_a_validation_split(tmp_path, capsys):
    assert cli.main(["train", "--epochs", "3", "--patience", "1", "--out", str(tmp_path), "--no-progress"]) == 0
    assert "val_loss" in capsys.readouterr().out


def _write_csv(path: Path, header: bool, labels: list[str]) -> None:
    rng = np.random.default_rng(0)
    with open(path, "w") as f:
        if header:
            f.write("a,b,kind\n")
        for i in range(200):
            cls = i % len(labels)
            a, b = rng.normal(cls * 3, 0.5), rng.normal(-cls * 3, 0.5)
            f.write(f"{a:.4f},{b:.4f},{labels[cls]}\n")


def test_csv_with_string_labels_is_classification(tmp_path, capsys):
    data = tmp_path / "points.csv"
    _write_csv(data, header=True, labels=["red", "green", "blue"])
    assert cli.main(["train", "--data", str(data), "--epochs", "20", "--out", str(tmp_path / "run"),
                     "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "3 classes" in out and _accuracy(out) > 0.95
    assert cli.main(["evaluate", str(tmp_path / "run" / "checkpoint.safetensors")]) == 0
    assert "green" in capsys.readouterr().out


def test_csv_with_float_labels_is_regression(tmp_path, capsys):
    data = tmp_path / "line.csv"
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (300, 2))
    y = 2 * x[:, 0] - x[:, 1] + 0.5
    np.savetxt(data, np.column_stack([x, y]), delimiter=",", header="x1,x2,target", comments="", fmt="%.5f")
    assert cli.main(["train", "--data", str(data), "--label", "target", "--epochs", "40",
                     "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "regression" in out
    assert float(re.search(r"test mean squared error: ([0-9.]+)", out).group(1)) < 0.05


BAD = [
    (["train", "--data", "nosuch"], "--data must be one of"),
    (["train", "--data", "missing.csv"], "no such file"),
    (["train", "--lr", "-1"], "--lr must be positive"),
    (["train", "--model", "cnn", "--channels", "8,8,8,8"], "use at most 3 blocks"),
    (["train", "--data", "mnist", "--data-root", "/nonexistent"], "MNIST"),
    (["evaluate", "missing.safetensors"], "no such file"),
]


@pytest.mark.parametrize("args,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_exits_2_with_a_clear_message(args, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(args + (["--out", str(tmp_path)] if args[0] == "train" else [])) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) <= 3


def test_a_file_that_is_not_a_checkpoint_exits_2(tmp_path, capsys):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(os.urandom(300))
    assert cli.main(["evaluate", str(junk)]) == 2
    assert "junk.safetensors" in capsys.readouterr().err


def test_argument_errors_exit_2():
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "--hidden", "0"])
    assert info.value.code == 2


def test_the_command_runs_as_a_module(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "chainrule", "train", "--epochs", "1", "--no-progress"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "test accuracy" in result.stdout


@pytest.mark.slow
def test_fashion_mnist_mlp_reaches_88_percent_within_10_epochs(tmp_path, capsys):
    require_fashion_mnist()
    assert cli.main(["train", "--data", "fashion-mnist", "--hidden", "256,128", "--epochs", "10",
                     "--batch-size", "128", "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "784" in out  # the 784-256-128-10 network
    assert _accuracy(out) >= 0.88, out


def test_cnn_on_the_digits_trains_and_its_checkpoint_evaluates(tmp_path, capsys):
    assert cli.main(["train", "--model", "cnn", "--epochs", "8", "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "Conv2d(1, 16, kernel_size=(3, 3)" in out and "BatchNorm2d(16" in out and "MaxPool2d" in out
    trained = _accuracy(out)
    assert trained >= 0.95, out
    assert cli.main(["evaluate", str(tmp_path / "checkpoint.safetensors")]) == 0
    assert float(re.search(r"accuracy: ([0-9.]+)", capsys.readouterr().out).group(1)) == trained


def test_cnn_needs_image_data(tmp_path, capsys):
    data = tmp_path / "table.csv"
    np.savetxt(data, np.random.default_rng(0).integers(0, 2, (40, 3)), delimiter=",", fmt="%d")
    assert cli.main(["train", "--model", "cnn", "--data", str(data), "--out", str(tmp_path)]) == 2
    assert "--model cnn needs image data" in capsys.readouterr().err


@pytest.mark.slow
def test_cnn_on_fashion_mnist_from_the_command_line(tmp_path, capsys):
    require_fashion_mnist()
    assert cli.main(["train", "--model", "cnn", "--data", "fashion-mnist", "--epochs", "1", "--batch-size", "128",
                     "--out", str(tmp_path), "--no-progress"]) == 0
    assert _accuracy(capsys.readouterr().out) >= 0.87
