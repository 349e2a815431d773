"""Optimizers against ``torch.optim``: 100 steps of every optimizer and option on the same
least-squares problem (gradients from chainrule's backward) follow PyTorch's trajectory to 1e-6 in
float64, through a state_dict round trip (as a checkpoint would store it) into a fresh optimizer
halfway; parameter groups; float32 stays float32; zero_grad, closures, versions; and the errors."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from tests.helpers import assert_close, require_torch

STEPS = 100
rng = np.random.default_rng(42)
A, Y = rng.standard_normal((20, 5)), rng.standard_normal((20, 3))
W0, B0 = rng.standard_normal((5, 3)), rng.standard_normal(3)


def make_params(module: Any, dtype: str = "float64") -> list[Any]:
    """The weight (5, 3) and bias (3,) of the problem, fresh, for chainrule or torch."""
    return [module.tensor(v.astype(dtype), requires_grad=True) for v in (W0, B0)]


def loss_of(module: Any, params: list[Any], sign: float = 1.0) -> Any:
    """sign · mean squared error of A @ W + b against Y (sign −1 for the maximize runs)."""
    w, b = params
    a, y = (module.tensor(v.astype(np.dtype(str(w.dtype).split(".")[-1]))) for v in (A, Y))
    return ((a @ w + b - y) ** 2).mean() * sign


def through_checkpoint(obj: Any) -> Any:
    """What a checkpoint gives back: tensors copied, everything else through JSON (integer keys
    become strings, tuples become lists)."""
    arrays: list[np.ndarray] = []

    def encode(o: Any) -> Any:
        if isinstance(o, cr.Tensor):
            arrays.append(o.numpy().copy())
            return {"__tensor__": len(arrays) - 1}
        if isinstance(o, dict):
            return {k: encode(v) for k, v in o.items()}
        return [encode(v) for v in o] if isinstance(o, (list, tuple)) else o

    def decode(o: Any) -> Any:
        if isinstance(o, dict):
            return cr.from_numpy(arrays[o["__tensor__"]]) if "__tensor__" in o else {k: decode(v) for k, v in o.items()}
        return [decode(v) for v in o] if isinstance(o, list) else o

    return decode(json.loads(json.dumps(encode(obj))))


def run_chainrule(name: str, groups: Any, kwargs: dict, params: list[cr.Tensor], sign: float,
                  restart_at: int | None = STEPS // 2) -> list[list[np.ndarray]]:
    """Parameter values after each step; at ``restart_at`` the optimizer is replaced by a fresh one
    loaded from a checkpoint of the old one's state_dict."""
    opt = getattr(optim, name)(groups(params), **kwargs)
    trajectory = []
    for step in range(STEPS):
        if step == restart_at:
            saved = through_checkpoint(opt.state_dict())
            opt = getattr(optim, name)(groups(params), **kwargs)
            opt.load_state_dict(saved)
        opt.zero_grad()
        loss_of(cr, params, sign).backward()
        opt.step()
        trajectory.append([p.detach().numpy().copy() for p in params])
    return trajectory


def run_torch(name: str, groups: Any, kwargs: dict, params: list[Any], sign: float) -> list[list[np.ndarray]]:
    torch = require_torch()
    opt = getattr(torch.optim, name)(groups(params), **kwargs)
    trajectory = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss_of(torch, params, sign).backward()
        opt.step()
        trajectory.append([p.detach().numpy().copy() for p in params])
    return trajectory


CONFIGS = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.1, weight_decay=0.05, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-3)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.05, amsgrad=True, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.2, amsgrad=True)),
    ("AdamW", dict(lr=0.01, betas=(0.7, 0.95), maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.95, eps=1e-3)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.005, centered=True, momentum=0.5, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-3)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.05, maximize=True)),
]


def one_group(params: list[Any]) -> list[Any]:
    return params


def two_groups(params: list[Any]) -> list[dict]:
    """The weight with the defaults, the bias with its own (smaller) learning rate."""
    return [{"params": [params[0]]}, {"params": [params[1]], "lr": 0.003}]


@pytest.mark.parametrize("groups", [one_group, two_groups])
@pytest.mark.parametrize("name, kwargs", CONFIGS, ids=[f"{n}-{'-'.join(k)}" for n, k in CONFIGS])
def test_100_steps_match_torch_with_a_checkpoint_halfway(name, kwargs, groups):
    torch = require_torch()
    sign = -1.0 if kwargs.get("maximize") else 1.0
    ours = run_chainrule(name, groups, kwargs, make_params(cr), sign)
    theirs = run_torch(name, groups, kwargs, make_params(torch), sign)
    for step, (mine, reference) in enumerate(zip(ours, theirs)):
        for p, t in zip(mine, reference):
            np.testing.assert_allclose(p, t, rtol=1e-6, atol=1e-8, err_msg=f"step {step + 1}")
    assert not np.allclose(ours[-1][0], W0)  # it did move


# every third configuration among those that keep state (SGD without momentum has none)
@pytest.mark.parametrize("name, kwargs", [c for c in CONFIGS if c[0] != "SGD" or "momentum" in c[1]][::3])
def test_state_dict_has_torchs_layout(name, kwargs):
    torch = require_torch()
    params, t_params = make_params(cr), make_params(torch)
    opt = getattr(optim, name)(two_groups(params), **kwargs)
    t_opt = getattr(torch.optim, name)(two_groups(t_params), **kwargs)
    for o, module, ps in ((opt, cr, params), (t_opt, torch, t_params)):
        loss_of(module, ps).backward()
        o.step()
    sd, t_sd = opt.state_dict(), t_opt.state_dict()
    assert sd["state"].keys() == t_sd["state"].keys() == {0, 1}
    for index, state in sd["state"].items():
        assert state.keys() == t_sd["state"][index].keys()
        for key, value in state.items():
            expected = t_sd["state"][index][key]
            if key == "step":
                assert value == expected.item()
            else:
                assert_close(value, expected)
    for group, t_group in zip(sd["param_groups"], t_sd["param_groups"]):
        assert group["params"] == t_group["params"]
        assert group == {k: t_group[k] for k in group}  # torch has more keys (foreach, fused …)


def test_loaded_state_is_a_copy_cast_to_the_parameter_dtype():
    params = make_params(cr, "float32")
    opt = optim.Adam(params, lr=0.01)
    loss_of(cr, params).backward()
    opt.step()
    saved = through_checkpoint(opt.state_dict())
    saved["state"]["0"]["exp_avg"] = saved["state"]["0"]["exp_avg"].double()
    fresh = optim.Adam(params, lr=0.5)
    fresh.load_state_dict(saved)
    exp_avg = fresh.state[params[0]]["exp_avg"]
    assert exp_avg.dtype == cr.float32 and fresh.param_groups[0]["lr"] == 0.01
    saved["state"]["0"]["exp_avg"].numpy()[...] = 7.0
    assert not np.any(exp_avg.numpy() == 7.0)
    assert fresh.state[params[1]]["step"] == 1
    assert fresh.param_groups[0]["params"][0] is params[0]


@pytest.mark.parametrize("name, kwargs", [("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
                                          ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
                                          ("AdamW", dict(lr=0.01)),
                                          ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
                                          ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01))])
def test_float32_stays_float32_and_matches_torch(name, kwargs):
    torch = require_torch()
    params, t_params = make_params(cr, "float32"), make_params(torch, "float32")
    opt = getattr(optim, name)(params, **kwargs)
    t_opt = getattr(torch.optim, name)(t_params, **kwargs)
    for _ in range(20):
        for o, module, ps in ((opt, cr, params), (t_opt, torch, t_params)):
            o.zero_grad()
            loss_of(module, ps).backward()
            o.step()
    for p, t in zip(params, t_params):
        assert p.dtype == cr.float32
        assert_close(p, t, rtol=1e-4, atol=1e-5)
    for state in opt.state.values():
        assert all(v.dtype == cr.float32 for v in state.values() if isinstance(v, cr.Tensor))


def test_add_param_group_later_matches_torch():
    torch = require_torch()
    runs = []
    for module, ps in ((cr, make_params(cr)), (torch, make_params(torch))):
        opt = (optim if module is cr else torch.optim).SGD([ps[0]], lr=0.05, momentum=0.9)
        for step in range(30):
            if step == 10:
                opt.add_param_group({"params": ps[1], "lr": 0.01, "nesterov": True})
            opt.zero_grad()
            loss_of(module, ps).backward()
            opt.step()
        runs.append([p.detach().numpy() for p in ps])
        assert opt.param_groups[1]["momentum"] == 0.9  # the defaults fill the new group
    for p, t in zip(*runs):
        np.testing.assert_allclose(p, t, rtol=1e-6, atol=1e-8)


def test_named_parameters_are_accepted_and_saved():
    torch = require_torch()
    params = make_params(cr)
    opt = optim.SGD([("weight", params[0]), ("bias", params[1])], lr=0.1)
    t_opt = torch.optim.SGD(list(zip(["weight", "bias"], make_params(torch))), lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["weight", "bias"]
    (group,), (t_group,) = opt.state_dict()["param_groups"], t_opt.state_dict()["param_groups"]
    assert group == {k: t_group[k] for k in group} and group["param_names"] == ["weight", "bias"]


def test_parameters_without_grad_are_skipped():
    params = make_params(cr)
    opt = optim.Adam(params, lr=0.1)
    (params[0] * params[0]).sum().backward()
    before = params[1].detach().numpy().copy()
    opt.step()
    np.testing.assert_array_equal(params[1].detach().numpy(), before)
    assert params[1] not in opt.state or not opt.state[params[1]]
    assert list(opt.state_dict()["state"]) == [0]


def test_zero_grad():
    params = make_params(cr)
    opt = optim.SGD(params, lr=0.1)
    loss_of(cr, params).backward()
    memory = params[0].grad.numpy()
    opt.zero_grad(set_to_none=False)
    assert params[0].grad.numpy() is memory and not np.any(memory)
    opt.zero_grad()
    assert params[0].grad is None and params[1].grad is None


def test_step_with_closure_returns_the_loss_and_records_under_no_grad():
    params = make_params(cr)
    opt = optim.SGD(params, lr=0.1)

    def closure():
        opt.zero_grad()
        loss = loss_of(cr, params)
        loss.backward()
        return loss

    with cr.no_grad():
        loss = opt.step(closure)
    assert loss.item() == pytest.approx(loss_of(cr, [cr.tensor(W0), cr.tensor(B0)]).item())
    assert params[0].grad is not None


def test_step_bumps_the_version_so_stale_graphs_refuse_backward():
    params = make_params(cr)
    opt = optim.SGD(params, lr=0.1)
    loss_of(cr, params).backward()
    pending = (params[0] * params[0]).sum()  # saves the current value of the weight
    opt.step()
    with pytest.raises(cr.ChainruleError, match="modified by an in-place operation"):
        pending.backward()


@pytest.mark.parametrize("kwargs", [{}, {"momentum": 0.9}])
def test_step_updates_without_recording_and_restores_the_grad_mode(kwargs):
    params = make_params(cr)
    opt = optim.SGD(params, lr=0.1, **kwargs)
    loss_of(cr, params).backward()
    opt.step()
    assert cr.is_grad_enabled() and all(p.grad_fn is None and p.is_leaf for p in params)
    with cr.no_grad():
        opt.step()
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()
    params[0].grad = cr.zeros(4)  # a shape that does not broadcast: the update raises, grad mode is back on
    with pytest.raises(ValueError):
        opt.step()
    assert cr.is_grad_enabled()


def test_update_is_in_place():
    params = make_params(cr, "float32")
    opt = optim.Adam(params, lr=0.1)
    memory = params[0].detach().numpy()
    loss_of(cr, params).backward()
    opt.step()
    assert params[0].detach().numpy() is memory


def test_repr_lists_each_group():
    text = repr(optim.SGD(two_groups(make_params(cr)), lr=0.5))
    assert text.startswith("SGD (\nParameter Group 0\n") and "    lr: 0.003" in text and "    lr: 0.5" in text


def test_adamw_default_weight_decay_and_torch_defaults():
    torch = require_torch()
    for name in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad"):
        ours = getattr(optim, name)(make_params(cr)).defaults
        theirs = getattr(torch.optim, name)(make_params(torch)).defaults
        assert ours == {k: theirs[k] for k in ours}, name


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize("make, match", [
    (lambda p: optim.SGD([], lr=0.1), "empty parameter list"),
    (lambda p: optim.SGD(p[0], lr=0.1), "single Tensor"),
    (lambda p: optim.SGD([p[0], 3.0], lr=0.1), "can only optimize Tensors, but parameter 1 is a float"),
    (lambda p: optim.SGD([p[0] * 2], lr=0.1), "not a leaf"),
    (lambda p: optim.SGD([{"params": p}, {"params": [p[1]]}], lr=0.1), "more than one parameter group"),
    (lambda p: optim.SGD([{"lr": 0.1}], lr=0.1), "'params' entry"),
    (lambda p: optim.SGD({p[0]}, lr=0.1), "not a set"),
    (lambda p: optim.SGD([("w", p[0]), p[1]], lr=0.1), "names"),
    (lambda p: optim.SGD(p, lr=-0.1), r"invalid lr -0.1: expected a Python number >= 0"),
    (lambda p: optim.SGD([{"params": p, "lr": -1}], lr=0.1), "invalid lr -1"),
    (lambda p: optim.SGD(p, lr=cr.tensor(0.1)), "invalid lr .*expected a Python number"),
    (lambda p: optim.SGD(p, lr="0.1"), "invalid lr '0.1'"),
    (lambda p: optim.SGD(p, lr=float("nan")), "invalid lr nan"),
    (lambda p: optim.SGD(p, momentum=-0.5), "invalid momentum -0.5"),
    (lambda p: optim.SGD(p, weight_decay=-1), "invalid weight_decay -1"),
    (lambda p: optim.SGD(p, nesterov=True), "nesterov=True needs a positive momentum"),
    (lambda p: optim.SGD(p, momentum=0.9, dampening=0.1, nesterov=True), "zero dampening"),
    (lambda p: optim.SGD(p, differentiable=True), "differentiable=True"),
    (lambda p: optim.Adam(p, betas=(0.9, 1.0)), r"invalid betas\[1\] 1.0: expected a Python number in \[0, 1\)"),
    (lambda p: optim.Adam(p, betas=(-0.1, 0.9)), r"invalid betas\[0\] -0.1"),
    (lambda p: optim.Adam(p, betas=0.9), "expected a pair"),
    (lambda p: optim.Adam(p, eps=-1e-8), "invalid eps"),
    (lambda p: optim.AdamW(p, weight_decay=-0.01), "AdamW: invalid weight_decay"),
    (lambda p: optim.RMSprop(p, alpha=1.5), r"RMSprop: invalid alpha 1.5: expected a Python number in \[0, 1\]"),
    (lambda p: optim.RMSprop(p, momentum=-1), "invalid momentum"),
    (lambda p: optim.Adagrad(p, lr_decay=-1), "invalid lr_decay"),
    (lambda p: optim.Adagrad(p, initial_accumulator_value=-1), "invalid initial_accumulator_value"),
])
def test_errors(make, match):
    with pytest.raises(cr.ChainruleError, match=match):
        make(make_params(cr))


def test_duplicate_parameter_in_a_group_warns():
    p = make_params(cr)
    with pytest.warns(UserWarning, match="more than once"):
        optim.SGD([p[0], p[0]], lr=0.1)


def test_load_state_dict_errors():
    params = make_params(cr)
    opt = optim.Adam(params, lr=0.1)
    loss_of(cr, params).backward()
    opt.step()
    saved = opt.state_dict()
    with pytest.raises(cr.ChainruleError, match="groups of sizes \\[2\\], this optimizer has \\[1\\]"):
        optim.Adam([params[0]]).load_state_dict(saved)
    with pytest.raises(cr.ChainruleError, match="groups of sizes"):
        optim.Adam(two_groups(params)).load_state_dict(saved)
    other = [cr.zeros(4, 3, dtype=cr.float64, requires_grad=True), params[1]]
    with pytest.raises(cr.ChainruleError, match=r"'exp_avg' of parameter 0 has shape \(5, 3\), but the "
                                                r"parameter has shape \(4, 3\)"):
        optim.Adam(other).load_state_dict(saved)
    with pytest.raises(cr.ChainruleError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})
    with pytest.raises(cr.ChainruleError, match="invalid lr -1"):
        opt.load_state_dict({"state": {}, "param_groups": [{**saved["param_groups"][0], "lr": -1}]})
    with pytest.raises(cr.ChainruleError, match="parameter 5"):
        opt.load_state_dict({"state": {5: {}}, "param_groups": saved["param_groups"]})


def test_module_parameters_train_like_torch():
    """nn.Parameter (a Tensor subclass) from model.named_parameters(), as in a PyTorch loop."""
    torch = require_torch()
    import chainrule.nn as nn

    model = nn.Linear(5, 3).double()
    t_model = torch.nn.Linear(5, 3).double()
    with torch.no_grad():
        for t, p in zip(t_model.parameters(), model.parameters()):
            t.copy_(torch.from_numpy(p.detach().numpy()))
    opt = optim.AdamW(model.named_parameters(), lr=0.01, weight_decay=0.1)
    t_opt = torch.optim.AdamW(t_model.named_parameters(), lr=0.01, weight_decay=0.1)
    for o, m, module in ((opt, model, cr), (t_opt, t_model, torch)):
        for _ in range(20):
            o.zero_grad()
            ((m(module.tensor(A)) - module.tensor(Y)) ** 2).mean().backward()
            o.step()
    for p, t in zip(model.parameters(), t_model.parameters()):
        assert_close(p, t)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lr", [0.1, 1e-3, 3, np.float64(0.25)])
def test_sgd_step_is_exactly_p_minus_lr_times_grad_in_the_parameters_dtype(dtype, lr):
    # a float lr multiplies as a cached 0-d array of the gradient's dtype: the same rounding as
    # NumPy's own float32 · Python-float product, bit for bit
    rng = np.random.default_rng(0)
    start, grad = rng.standard_normal((2, 5, 3)).astype(dtype)
    p = cr.nn.Parameter(cr.from_numpy(start.copy()))
    p.grad = cr.from_numpy(grad.copy())
    for _ in range(2):
        optim.SGD([p], lr=lr).step()
    expected = start.copy()
    for _ in range(2):
        expected -= grad * lr  # NumPy's own product with the Python (or NumPy) scalar
    assert p.dtype == cr.from_numpy(start).dtype
    np.testing.assert_array_equal(p.detach().numpy(), expected)
