"""The fit loop: metrics, early stopping, checkpoints, scheduler hook, callbacks, exact resume."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim, train
from chainrule.datasets import load_digits
from chainrule.utils.data import DataLoader, TensorDataset


def _digits(n: int = 600) -> tuple[cr.Tensor, cr.Tensor]:
    x, y = load_digits(return_X_y=True)
    x = np.asarray(x, np.float32)[:n] / 16
    return cr.from_numpy(x), cr.from_numpy(np.asarray(y, np.int64)[:n])


def _setup(seed: int, lr: float = 1e-2):
    cr.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 10))
    optimizer = optim.Adam(model.parameters(), lr=lr)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.9)
    x, y = _digits()
    train_loader = DataLoader(TensorDataset(x[:500], y[:500]), batch_size=32, shuffle=True)
    val_loader = DataLoader(TensorDataset(x[500:], y[500:]), batch_size=50)
    return model, optimizer, scheduler, train_loader, val_loader


def test_fit_trains_and_records_history(capsys):
    model, optimizer, scheduler, train_loader, val_loader = _setup(0)
    history = train.fit(model, nn.CrossEntropyLoss(), optimizer, train_loader, val_loader, epochs=6,
                        scheduler=scheduler, progress=False)
    assert history.epochs == 6
    assert set(history.metrics) >= {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert history["loss"][-1] < history["loss"][0] / 2
    assert history["val_accuracy"][-1] > 0.7
    np.testing.assert_allclose(history["lr"], [1e-2 * 0.9 ** k for k in range(6)])  # the lr of each epoch
    assert "epoch   6/6" in capsys.readouterr().out


def test_fit_shows_a_progress_bar(capsys):
    model, optimizer, _, train_loader, _ = _setup(0)
    train.fit(model, nn.CrossEntropyLoss(), optimizer, train_loader, epochs=1, progress=True)
    assert "epoch 1/1" in capsys.readouterr().err


def test_early_stopping_when_the_monitored_metric_stalls():
    model, _, _, train_loader, val_loader = _setup(0)
    frozen = optim.SGD(model.parameters(), lr=0.0)  # nothing changes: val_loss never improves
    history = train.fit(model, nn.CrossEntropyLoss(), frozen, train_loader, val_loader, epochs=10,
                        patience=2, progress=False, verbose=False)
    assert history.stopped_early and history.epochs == 3 and history.best_epoch == 1


def test_best_model_checkpoint(tmp_path):
    model, optimizer, _, train_loader, val_loader = _setup(0)
    path = str(tmp_path / "best.safetensors")
    history = train.fit(model, nn.CrossEntropyLoss(), optimizer, train_loader, val_loader, epochs=3,
                        checkpoint=path, monitor="val_accuracy", progress=False, verbose=False)
    state = train.load_training_state(path)
    assert state["epoch"] == history.best_epoch
    assert history["val_accuracy"][history.best_epoch - 1] == max(history["val_accuracy"])


def test_reduce_on_plateau_gets_the_monitored_value_and_others_a_plain_step():
    model, optimizer, _, train_loader, val_loader = _setup(0)
    plateau = optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.5)
    seen = []
    original = plateau.step
    plateau.step = lambda metric: (seen.append(metric), original(metric))[1]
    history = train.fit(model, nn.CrossEntropyLoss(), optimizer, train_loader, val_loader, epochs=3,
                        scheduler=plateau, progress=False, verbose=False)
    assert seen == history["val_loss"]


def test_callbacks_see_the_logs_and_can_stop():
    model, optimizer, _, train_loader, _ = _setup(0)
    seen = []

    def stop_at_two(epoch, logs):
        seen.append((epoch, round(logs["loss"], 6)))
        return epoch == 2

    history = train.fit(model, nn.CrossEntropyLoss(), optimizer, train_loader, epochs=5,
                        callbacks=[stop_at_two], progress=False, verbose=False)
    assert [e for e, _ in seen] == [1, 2] and history.epochs == 2 and history.stopped_early


def test_resume_from_an_end_of_epoch_checkpoint_is_exact(tmp_path):
    loss = nn.CrossEntropyLoss()
    model, optimizer, scheduler, train_loader, val_loader = _setup(3)
    train.fit(model, loss, optimizer, train_loader, val_loader, epochs=3, scheduler=scheduler,
              progress=False, verbose=False)
    straight = {k: v.numpy().copy() for k, v in model.state_dict().items()}

    path = str(tmp_path / "last.safetensors")
    model, optimizer, scheduler, train_loader, val_loader = _setup(3)
    train.fit(model, loss, optimizer, train_loader, val_loader, epochs=2, scheduler=scheduler,
              last_checkpoint=path, progress=False, verbose=False)
    cr.manual_seed(12345)  # a fresh process: other weights, another random state
    model, optimizer, scheduler, train_loader, val_loader = _setup(99)
    done = train.restore_training_state(train.load_training_state(path), model, optimizer, scheduler)
    assert done == 2
    train.fit(model, loss, optimizer, train_loader, val_loader, epochs=3, scheduler=scheduler,
              start_epoch=done, progress=False, verbose=False)
    for name, value in model.state_dict().items():
        assert np.array_equal(value.numpy(), straight[name]), name  # bitwise equal


def test_evaluate_and_confusion_matrix():
    model, optimizer, _, train_loader, val_loader = _setup(0)
    train.fit(model, nn.CrossEntropyLoss(), optimizer, train_loader, epochs=3, progress=False, verbose=False)
    result = train.evaluate(model, nn.CrossEntropyLoss(), val_loader)
    matrix = result.confusion_matrix(10)
    assert matrix.sum() == 100 and np.trace(matrix) / 100 == pytest.approx(result.accuracy)
    assert model.training  # evaluate restores the mode


def test_a_diverging_loss_is_reported():
    x, _ = _digits()
    regression = DataLoader(TensorDataset(x, x.sum(1)), batch_size=32)
    model = nn.Linear(64, 1)
    wild = optim.SGD(model.parameters(), lr=1e6)  # each step overshoots further: the loss overflows

    def mse(output, target):
        return ((output.reshape(-1) - target) ** 2).mean()

    with pytest.raises(cr.ChainruleError, match="learning rate is probably too large"):
        train.fit(model, mse, wild, regression, epochs=20, progress=False, verbose=False)


def test_plain_pytorch_style_loop_works_too():
    model, optimizer, _, train_loader, _ = _setup(0)
    loss_fn = nn.CrossEntropyLoss()
    first = last = None
    for _ in range(3):
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            first = first if first is not None else loss.item()
            last = loss.item()
    assert last < first
