"""Learning-rate schedules against ``torch.optim.lr_scheduler``: the learning rates (and cycled
momenta) over 100 steps equal PyTorch's to 1e-12 for several configurations of every scheduler, with
the optimizer and the scheduler saved through JSON and restored into fresh objects halfway;
ReduceLROnPlateau fed the same metric sequences; and the errors."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.optim import lr_scheduler
from tests.helpers import require_torch

STEPS = 100


class Warmup:
    """A callable object with state (LambdaLR saves its attributes)."""

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup

    def __call__(self, epoch: int) -> float:
        return min(1.0, (epoch + 1) / self.warmup) * 0.97 ** epoch


SCHEDULES = {  # id: (optimizer name, optimizer kwargs, scheduler name, scheduler kwargs)
    "step": ("SGD", {}, "StepLR", dict(step_size=7, gamma=0.5)),
    "step-every-epoch": ("SGD", {}, "StepLR", dict(step_size=1, gamma=0.93)),
    "multistep": ("SGD", {}, "MultiStepLR", dict(milestones=[10, 30, 30, 60], gamma=0.3)),
    "exponential": ("Adam", {}, "ExponentialLR", dict(gamma=0.97)),
    "cosine-periodic": ("SGD", {}, "CosineAnnealingLR", dict(T_max=30, eta_min=0.001)),
    "cosine": ("Adam", {}, "CosineAnnealingLR", dict(T_max=100)),
    "linear-default": ("SGD", {}, "LinearLR", {}),
    "linear": ("SGD", {}, "LinearLR", dict(start_factor=0.1, end_factor=0.5, total_iters=40)),
    "linear-decay": ("RMSprop", {}, "LinearLR", dict(start_factor=1.0, end_factor=0.0, total_iters=100)),
    "lambda": ("SGD", {}, "LambdaLR", dict(lr_lambda=lambda epoch: 0.95 ** epoch)),
    "lambda-per-group": ("SGD", {}, "LambdaLR", dict(lr_lambda=[lambda e: 1 / (1 + e), Warmup(10)])),
    "onecycle-sgd": ("SGD", dict(momentum=0.9), "OneCycleLR", dict(max_lr=[1.0, 0.5], total_steps=100)),
    "onecycle-adam-linear": ("Adam", {}, "OneCycleLR", dict(max_lr=0.01, total_steps=120, anneal_strategy="linear",
                                                            base_momentum=0.8, max_momentum=0.9)),
    "onecycle-three-phase": ("SGD", {}, "OneCycleLR", dict(max_lr=0.3, epochs=10, steps_per_epoch=11,
                                                           pct_start=0.25, three_phase=True, div_factor=10.0,
                                                           final_div_factor=100.0)),
    "onecycle-no-momentum": ("Adagrad", {}, "OneCycleLR", dict(max_lr=0.1, total_steps=150, cycle_momentum=False)),
    "onecycle-rmsprop": ("RMSprop", {}, "OneCycleLR", dict(max_lr=[0.1, 0.2], total_steps=100,
                                                           base_momentum=[0.8, 0.7], max_momentum=0.9)),
}


def build(module: Any, opt_name: str, opt_kwargs: dict, sched_name: str, sched_kwargs: dict) -> tuple[Any, Any]:
    """An optimizer with two groups (lrs 0.1 and 0.05) and the scheduler on it."""
    w, b = module.zeros(3, requires_grad=True), module.zeros(2, requires_grad=True)
    groups = [{"params": [w]}, {"params": [b], "lr": 0.05}]
    namespace = optim if module is cr else module.optim
    opt = getattr(namespace, opt_name)(groups, **{"lr": 0.1, **opt_kwargs})
    return opt, getattr(namespace.lr_scheduler, sched_name)(opt, **sched_kwargs)


def through_json(state: dict) -> dict:
    """A state dict after a checkpoint's JSON metadata round trip (our optimizers' state is empty
    here: no step has had a gradient)."""
    return json.loads(json.dumps(state))


def momenta(opt: Any) -> list[float]:
    return [g["betas"][0] if "betas" in g else g.get("momentum", 0.0) for g in opt.param_groups]


def record(opt: Any, sched: Any) -> list[float]:
    """The learning rates and momenta now."""
    return [*sched.get_last_lr(), *momenta(opt)]


@pytest.mark.parametrize("key", sorted(SCHEDULES))
def test_100_steps_match_torch_with_a_checkpoint_halfway(key):
    torch = require_torch()
    config = SCHEDULES[key]
    opt, sched = build(cr, *config)
    t_opt, t_sched = build(torch, *config)
    ours, theirs = [record(opt, sched)], [record(t_opt, t_sched)]
    for step in range(1, STEPS + 1):
        if step == STEPS // 2:
            saved_opt, saved_sched = through_json(opt.state_dict()), through_json(sched.state_dict())
            opt, sched = build(cr, *config)  # the scheduler first, as PyTorch advises, then the states
            opt.load_state_dict(saved_opt)
            sched.load_state_dict(saved_sched)
        opt.step()
        sched.step()
        t_opt.step()
        t_sched.step()
        ours.append(record(opt, sched))
        theirs.append(record(t_opt, t_sched))
    np.testing.assert_allclose(np.array(ours), np.array(theirs), rtol=1e-12, atol=1e-15)
    assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()
    assert len({tuple(r) for r in ours}) > 2  # the schedule did change the lrs


def test_lambda_lr_saves_the_attributes_of_callable_objects():
    opt, sched = build(cr, *SCHEDULES["lambda-per-group"])
    sched.lr_lambdas[1].warmup = 20
    state = through_json(sched.state_dict())
    assert state["lr_lambdas"] == [None, {"warmup": 20}]
    fresh_opt, fresh = build(cr, *SCHEDULES["lambda-per-group"])
    fresh.load_state_dict(state)
    assert fresh.lr_lambdas[1].warmup == 20 and callable(fresh.lr_lambdas[0])


METRICS = {
    "noisy-decrease": [1.0 / (1 + 0.1 * i) + 0.05 * math.sin(i) for i in range(STEPS)],
    "plateaus": [max(0.2, 1 - 0.02 * i) if i < 50 else 0.2 + 0.001 * (i % 7) for i in range(STEPS)],
    "accuracy": [min(0.9, 0.5 + 0.01 * i) + 0.005 * ((i * 7) % 3) for i in range(STEPS)],
}
PLATEAU_CONFIGS = {
    "defaults": ("plateaus", {}),
    "patience-cooldown": ("noisy-decrease", dict(patience=2, cooldown=3, factor=0.5)),
    "abs-min-lr": ("plateaus", dict(patience=1, threshold=0.01, threshold_mode="abs", min_lr=[0.01, 0.004])),
    "max-rel": ("accuracy", dict(mode="max", patience=3, factor=0.7, threshold=0.001, min_lr=1e-3)),
    "max-abs-eps": ("accuracy", dict(mode="max", patience=0, threshold_mode="abs", factor=0.9, eps=1e-3)),
}


@pytest.mark.parametrize("key", sorted(PLATEAU_CONFIGS))
def test_reduce_on_plateau_matches_torch(key):
    torch = require_torch()
    metric_name, kwargs = PLATEAU_CONFIGS[key]
    config = ("SGD", {}, "ReduceLROnPlateau", kwargs)
    opt, sched = build(cr, *config)
    t_opt, t_sched = build(torch, *config)
    ours, theirs = [], []
    for step, metric in enumerate(METRICS[metric_name]):
        if step == STEPS // 2:
            saved_opt, saved_sched = through_json(opt.state_dict()), through_json(sched.state_dict())
            opt, sched = build(cr, *config)
            opt.load_state_dict(saved_opt)
            sched.load_state_dict(saved_sched)
        sched.step(cr.tensor(metric, dtype=cr.float64) if step % 2 else metric)  # a loss tensor or a number
        t_sched.step(metric)
        ours.append([*sched.get_last_lr(), sched.num_bad_epochs, sched.cooldown_counter, sched.best])
        theirs.append([*t_sched.get_last_lr(), t_sched.num_bad_epochs, t_sched.cooldown_counter, t_sched.best])
    np.testing.assert_allclose(np.array(ours), np.array(theirs), rtol=1e-12, atol=1e-15)
    assert len({r[0] for r in ours}) > 1


def test_resuming_with_last_epoch_continues_the_schedule():
    torch = require_torch()
    runs = []
    for module in (cr, torch):
        opt, sched = build(module, "SGD", {}, "ExponentialLR", dict(gamma=0.9))
        for _ in range(5):
            opt.step()
            sched.step()
        resumed = (lr_scheduler if module is cr else torch.optim.lr_scheduler).ExponentialLR(opt, 0.9, last_epoch=5)
        opt.step()
        resumed.step()
        runs.append(resumed.get_last_lr())
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-12)


def test_state_dict_holds_no_optimizer_and_plain_values():
    opt, sched = build(cr, *SCHEDULES["multistep"])
    state = sched.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == 0 and state["base_lrs"] == [0.1, 0.05]
    state["base_lrs"].append(1.0)
    assert sched.base_lrs == [0.1, 0.05]  # a copy


@pytest.mark.parametrize("make, match", [
    (lambda o: lr_scheduler.StepLR("sgd", step_size=3), "expected a chainrule.optim.Optimizer, got str"),
    (lambda o: lr_scheduler.StepLR(o, step_size=0), "invalid step_size 0: expected an integer >= 1"),
    (lambda o: lr_scheduler.StepLR(o, step_size=2.5), "invalid step_size 2.5"),
    (lambda o: lr_scheduler.StepLR(o, step_size=2, gamma=-1), "invalid gamma -1"),
    (lambda o: lr_scheduler.MultiStepLR(o, milestones=[3, -1]), "invalid milestone -1"),
    (lambda o: lr_scheduler.ExponentialLR(o, gamma="0.9"), "invalid gamma '0.9'"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), "invalid T_max 0"),
    (lambda o: lr_scheduler.LinearLR(o, start_factor=0), r"invalid start_factor 0: expected a number in \(0, 1\]"),
    (lambda o: lr_scheduler.LinearLR(o, end_factor=1.5), "invalid end_factor 1.5"),
    (lambda o: lr_scheduler.LambdaLR(o, lr_lambda=[lambda e: 1.0]), "lr_lambda has 1 values but the optimizer has 2"),
    (lambda o: lr_scheduler.LambdaLR(o, lr_lambda=0.5), "lr_lambda must be a function"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1), "give total_steps, or both epochs and steps_per_epoch"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=0), "invalid total_steps 0"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, epochs=2, steps_per_epoch=-3), "invalid steps_per_epoch -3"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=10, anneal_strategy="exp"),
     "invalid anneal_strategy 'exp'"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=10, pct_start=1.5), "invalid pct_start 1.5"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=[0.1, 0.2, 0.3], total_steps=10), "max_lr has 3 values"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), r"invalid factor 1.0: expected a Python number in \[0, 1\)"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="avg"), "invalid mode 'avg'"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="pct"), "invalid threshold_mode 'pct'"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=-1), "invalid patience -1"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.1]), "min_lr has 1 values"),
    (lambda o: lr_scheduler.StepLR(o, step_size=2, last_epoch=3), "has no 'initial_lr'"),
    (lambda o: lr_scheduler.StepLR(o, step_size=2).step(5), "epoch argument is deprecated"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o).step(1.0, epoch=3), "epoch argument is deprecated"),
])
def test_errors(make, match):
    opt, _ = build(cr, "SGD", {}, "LambdaLR", dict(lr_lambda=lambda e: 1.0))
    for group in opt.param_groups:
        del group["initial_lr"]
    with pytest.raises(cr.ChainruleError, match=match):
        make(opt)


def test_onecycle_needs_momentum_to_cycle_and_stops_after_total_steps():
    opt, _ = build(cr, "SGD", {}, "LambdaLR", dict(lr_lambda=lambda e: 1.0))
    adagrad = optim.Adagrad([cr.zeros(2, requires_grad=True)])
    with pytest.raises(cr.ChainruleError, match="cycle_momentum=True needs an optimizer with momentum or betas"):
        lr_scheduler.OneCycleLR(adagrad, max_lr=0.1, total_steps=10)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(cr.ChainruleError, match="tried to step 4 times, but total_steps is 3"):
        sched.step()
