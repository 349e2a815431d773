"""Losses: a table of cases (every loss, every option) checked by gradcheck and against PyTorch, plus
second derivatives, numerically extreme rows, errors and the ``nn.*Loss`` modules."""

from __future__ import annotations

import re
import zlib

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from tests.helpers import assert_close, check_against_torch, require_torch

REDUCTIONS = ("mean", "sum", "none")

# An input spec: ("x", shape) reals, ("p", shape) probabilities in (0.05, 0.95) — both require grad —
# ("t", shape, classes[, ignore_index]) class indices (every third one set to ignore_index), or
# ("w", shape) positive constants (weights, given as keyword arguments).


def _case(fn, *specs, **kwargs):
    return fn, specs, kwargs


CASES = {}
for red in REDUCTIONS:
    CASES.update({
        f"mse_{red}": _case("mse_loss", ("x", (4, 3)), ("x", (4, 3)), reduction=red),
        f"mse_weight_{red}": _case("mse_loss", ("x", (4, 3)), ("x", (4, 3)), weight=("w", (4, 3)), reduction=red),
        f"l1_{red}": _case("l1_loss", ("x", (4, 3)), ("x", (4, 3)), reduction=red),
        f"l1_weight_{red}": _case("l1_loss", ("x", (4, 3)), ("x", (4, 3)), weight=("w", (4, 3)), reduction=red),
        f"smooth_l1_{red}": _case("smooth_l1_loss", ("x", (4, 3)), ("x", (4, 3)), reduction=red),
        f"huber_{red}": _case("huber_loss", ("x", (4, 3)), ("x", (4, 3)), reduction=red, delta=0.7),
        f"huber_weight_{red}": _case("huber_loss", ("x", (4, 3)), ("x", (4, 3)), weight=("w", (4, 3)),
                                     reduction=red),
        f"ce_{red}": _case("cross_entropy", ("x", (5, 4)), ("t", (5,), 4), reduction=red),
        f"ce_weight_{red}": _case("cross_entropy", ("x", (5, 4)), ("t", (5,), 4), weight=("w", (4,)), reduction=red),
        f"ce_ignore_{red}": _case("cross_entropy", ("x", (5, 4)), ("t", (5,), 4, -100), reduction=red),
        f"ce_smoothing_{red}": _case("cross_entropy", ("x", (5, 4)), ("t", (5,), 4), label_smoothing=0.2,
                                     reduction=red),
        f"ce_all_options_{red}": _case("cross_entropy", ("x", (5, 4)), ("t", (5,), 4, 3), weight=("w", (4,)),
                                       ignore_index=3, label_smoothing=0.3, reduction=red),
        f"ce_probs_{red}": _case("cross_entropy", ("x", (5, 4)), ("p", (5, 4)), reduction=red),
        f"nll_{red}": _case("nll_loss", ("x", (5, 4)), ("t", (5,), 4), reduction=red),
        f"nll_weight_ignore_{red}": _case("nll_loss", ("x", (5, 4)), ("t", (5,), 4, -1), weight=("w", (4,)),
                                          ignore_index=-1, reduction=red),
        f"bce_{red}": _case("binary_cross_entropy", ("p", (4, 3)), ("p", (4, 3)), reduction=red),
        f"bce_weight_{red}": _case("binary_cross_entropy", ("p", (4, 3)), ("p", (4, 3)), weight=("w", (3,)),
                                   reduction=red),
        f"bce_logits_{red}": _case("binary_cross_entropy_with_logits", ("x", (4, 3)), ("p", (4, 3)), reduction=red),
        f"bce_logits_weights_{red}": _case("binary_cross_entropy_with_logits", ("x", (4, 3)), ("p", (4, 3)),
                                           weight=("w", (4, 1)), pos_weight=("w", (3,)), reduction=red),
        f"kl_{red}": _case("kl_div", ("x", (4, 3)), ("p", (4, 3)), reduction=red),
        f"kl_log_target_{red}": _case("kl_div", ("x", (4, 3)), ("x", (4, 3)), reduction=red, log_target=True),
    })
CASES.update({
    "mse_broadcast": _case("mse_loss", ("x", (4, 3)), ("x", (3,))),
    "smooth_l1_beta": _case("smooth_l1_loss", ("x", (4, 3)), ("x", (4, 3)), beta=0.6),
    "smooth_l1_beta_0": _case("smooth_l1_loss", ("x", (4, 3)), ("x", (4, 3)), beta=0.0),
    "ce_kdim": _case("cross_entropy", ("x", (2, 4, 3, 2)), ("t", (2, 3, 2), 4, 1), weight=("w", (4,)),
                     ignore_index=1, label_smoothing=0.1),
    "ce_kdim_none": _case("cross_entropy", ("x", (2, 4, 3)), ("t", (2, 3), 4), reduction="none",
                          label_smoothing=0.1),
    "ce_unbatched": _case("cross_entropy", ("x", (4,)), ("t", (), 4), weight=("w", (4,))),
    "ce_unbatched_none": _case("cross_entropy", ("x", (4,)), ("t", (), 4), reduction="none"),
    "ce_ignore_in_range": _case("cross_entropy", ("x", (5, 4)), ("t", (5,), 4), ignore_index=1),
    "ce_probs_weight_smoothing": _case("cross_entropy", ("x", (5, 4)), ("p", (5, 4)), weight=("w", (4,)),
                                       label_smoothing=0.25),
    "ce_probs_kdim": _case("cross_entropy", ("x", (2, 4, 3)), ("p", (2, 4, 3)), weight=("w", (4,))),
    "ce_probs_unbatched": _case("cross_entropy", ("x", (4,)), ("p", (4,)), reduction="none"),
    "nll_kdim": _case("nll_loss", ("x", (2, 4, 3)), ("t", (2, 3), 4, -100), weight=("w", (4,))),
    "nll_unbatched": _case("nll_loss", ("x", (4,)), ("t", (), 4), reduction="none"),
    "bce_logits_pos_weight": _case("binary_cross_entropy_with_logits", ("x", (4, 3)), ("p", (4, 3)),
                                   pos_weight=("w", (3,))),
    "kl_batchmean": _case("kl_div", ("x", (4, 3)), ("p", (4, 3)), reduction="batchmean"),
    "kl_log_target_batchmean": _case("kl_div", ("x", (4, 3)), ("x", (4, 3)), reduction="batchmean",
                                     log_target=True),
})


def _array(spec, rng, dtype):
    kind, shape = spec[0], spec[1]
    if kind == "x":
        return rng.uniform(-2, 2, shape).astype(dtype)
    if kind == "p":
        return rng.uniform(0.05, 0.95, shape).astype(dtype)
    if kind == "w":
        return rng.uniform(0.5, 2.0, shape).astype(dtype)
    t = rng.integers(0, spec[2], shape)
    if len(spec) > 3:
        t.reshape(-1)[::3] = spec[3]
    return t


def build(name, dtype=np.float64):
    """The case's function name, chainrule inputs (floats require grad) and constant keyword arguments
    as (chainrule, torch) pairs of dictionaries."""
    torch = require_torch()
    fn, specs, kwargs = CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    inputs = []
    for spec in specs:
        t = cr.from_numpy(_array(spec, rng, dtype))
        inputs.append(t.requires_grad_(True) if spec[0] != "t" else t)
    cr_kwargs, torch_kwargs = {}, {}
    for key, value in kwargs.items():
        if isinstance(value, tuple):
            array = _array(value, rng, dtype)
            cr_kwargs[key], torch_kwargs[key] = cr.from_numpy(array.copy()), torch.from_numpy(array.copy())
        else:
            cr_kwargs[key] = torch_kwargs[key] = value
    return fn, inputs, cr_kwargs, torch_kwargs


pytestmark = pytest.mark.filterwarnings("ignore:Using a target size", "ignore:reduction. 'mean' divides")


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck(name):
    fn, inputs, kwargs, _ = build(name)
    assert cr.autograd.gradcheck(lambda *xs: getattr(F, fn)(*xs, **kwargs), inputs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(CASES))
def test_against_torch(name, dtype):
    torch = require_torch()
    fn, inputs, kwargs, torch_kwargs = build(name, dtype)
    check_against_torch(lambda *xs: getattr(F, fn)(*xs, **kwargs),
                        lambda *xs: getattr(torch.nn.functional, fn)(*xs, **torch_kwargs), inputs)


GRADGRAD = ["ce_mean", "ce_all_options_none", "ce_all_options_mean", "ce_kdim", "ce_probs_weight_smoothing",
            "mse_mean", "mse_weight_mean", "bce_logits_mean", "bce_logits_weights_none", "bce_logits_pos_weight",
            "bce_mean", "nll_weight_ignore_mean", "huber_none", "kl_batchmean"]


@pytest.mark.parametrize("name", GRADGRAD)
def test_gradgradcheck(name):
    fn, inputs, kwargs, _ = build(name)
    assert cr.autograd.gradgradcheck(lambda *xs: getattr(F, fn)(*xs, **kwargs), inputs)


def test_cross_entropy_with_class_indices_is_one_fused_node():
    x = cr.randn(4, 3, requires_grad=True)
    assert F.cross_entropy(x, cr.tensor([0, 1, 2, 0])).grad_fn.name() == "CrossEntropyBackward0"


# ---------------------------------------------------------------------------- numerically extreme rows
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_huge_logits_stay_finite(dtype, smoothing):
    torch = require_torch()
    x = cr.from_numpy(np.array([[1e4, 0, -1e4], [-1e4, 1e4, 0], [0, 0, 1e4], [1e4, 1e4, -1e4]], dtype))
    t = cr.tensor([2, 0, 1, 0])
    for reduction in REDUCTIONS:
        out = F.cross_entropy(x.requires_grad_(True), t, reduction=reduction, label_smoothing=smoothing)
        assert np.isfinite(out.detach().numpy()).all()
        check_against_torch(lambda a: F.cross_entropy(a, t, reduction=reduction, label_smoothing=smoothing),
                            lambda a: torch.nn.functional.cross_entropy(
                                a, torch.tensor([2, 0, 1, 0]), reduction=reduction, label_smoothing=smoothing),
                            [x])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("pos_weight", [None, [0.5, 3.0, 1.0, 2.0, 1.5]])
def test_bce_with_logits_huge_logits_stay_finite(dtype, pos_weight):
    torch = require_torch()
    x = cr.from_numpy(np.array([1e4, -1e4, 1e4, -1e4, 0.0], dtype)).requires_grad_(True)
    y = cr.from_numpy(np.array([0.0, 1.0, 1.0, 0.0, 0.3], dtype)).requires_grad_(True)
    pw = None if pos_weight is None else np.array(pos_weight, dtype)
    out = F.binary_cross_entropy_with_logits(x, y, reduction="none", pos_weight=None if pw is None else cr.tensor(pw))
    assert np.isfinite(out.detach().numpy()).all()
    check_against_torch(
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="none",
                                                        pos_weight=None if pw is None else cr.tensor(pw)),
        lambda a, b: torch.nn.functional.binary_cross_entropy_with_logits(
            a, b, reduction="none", pos_weight=None if pw is None else torch.tensor(pw)), [x, y])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bce_at_exactly_zero_and_one(dtype):
    """Logarithms clamped at -100 and the gradient's denominator at 1e-12, as in PyTorch; the
    target's gradient is ±inf there, as in PyTorch."""
    torch = require_torch()
    x = cr.from_numpy(np.array([0.0, 1.0, 0.0, 1.0, 0.5], dtype)).requires_grad_(True)
    y = cr.from_numpy(np.array([0.0, 1.0, 1.0, 0.0, 0.3], dtype)).requires_grad_(True)
    out = F.binary_cross_entropy(x, y, reduction="none")
    np.testing.assert_array_equal(out.detach().numpy()[:4], [0, 0, 100, 100])
    check_against_torch(lambda a, b: F.binary_cross_entropy(a, b, reduction="none"),
                        lambda a, b: torch.nn.functional.binary_cross_entropy(a, b, reduction="none"), [x, y])
    check_against_torch(F.binary_cross_entropy, torch.nn.functional.binary_cross_entropy, [x, y])


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_every_target_ignored(smoothing):
    """A mean over no samples is NaN and the gradient zero, as in PyTorch."""
    torch = require_torch()
    x = cr.randn(3, 4, dtype=cr.float64, requires_grad=True)
    check_against_torch(lambda a: F.cross_entropy(a, cr.tensor([-100, -100, -100]), label_smoothing=smoothing),
                        lambda a: torch.nn.functional.cross_entropy(a, torch.tensor([-100, -100, -100]),
                                                                    label_smoothing=smoothing), [x])
    loss = F.nll_loss(x, cr.tensor([-100, -100, -100]))
    loss.backward()
    assert np.isnan(loss.item()) and not x.grad.numpy().any()


def test_empty_batch():
    x = cr.zeros(0, 4, requires_grad=True)
    target = cr.zeros(0, dtype=cr.int64)
    assert np.isnan(F.cross_entropy(x, target).item())
    assert F.cross_entropy(x, target, reduction="none").shape == (0,)
    F.cross_entropy(x, target, reduction="sum").backward()
    assert x.grad.shape == (0, 4)


def test_uint8_class_indices_are_accepted():
    x = cr.randn(3, 4, dtype=cr.float64)
    assert_close(F.cross_entropy(x, cr.tensor([1, 2, 3], dtype=cr.uint8)), F.cross_entropy(x, cr.tensor([1, 2, 3])))


def test_kl_div_zero_target_contributes_nothing():
    x = cr.tensor([-1.0, -2.0, -0.5], dtype=cr.float64, requires_grad=True)
    t = cr.tensor([0.0, 0.5, 0.5], dtype=cr.float64)
    loss = F.kl_div(x, t, reduction="sum")
    assert_close(loss, 0.5 * (np.log(0.5) + 2) + 0.5 * (np.log(0.5) + 0.5))
    loss.backward()
    assert_close(x.grad, [0.0, -0.5, -0.5])


def test_warnings_as_pytorch():
    with pytest.warns(UserWarning, match="target size"):
        F.mse_loss(cr.randn(4, 3), cr.randn(3))
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(cr.randn(4, 3), cr.rand(4, 3))


# ---------------------------------------------------------------------------- errors
X = cr.randn(4, 10)
ERRORS = {
    "target out of range": (lambda: F.cross_entropy(X, cr.tensor([1, 12, 3, 4])),
                            "cross_entropy: target 12 is out of range for 10 classes (input of shape (4, 10))"),
    "negative target": (lambda: F.nll_loss(X, cr.tensor([1, -1, 3, 4])),
                        "nll_loss: target -1 is out of range for 10 classes (input of shape (4, 10))"),
    "out of range besides ignored": (lambda: F.cross_entropy(X, cr.tensor([-100, 10, 3, 4])), "target 10 is out"),
    "ignore_index elsewhere": (lambda: F.cross_entropy(X, cr.tensor([-100, 0, 3, 4]), ignore_index=5),
                               "target -100 is out of range"),
    "target out of range k-dim": (lambda: F.cross_entropy(cr.randn(2, 3, 4), cr.tensor([[0, 1, 2, 3]] * 2)),
                                  r"target 3 is out of range for 3 classes \(input of shape \(2, 3, 4\)\)"),
    "float class indices": (lambda: F.cross_entropy(X, cr.tensor([1.0, 2.0, 3.0, 4.0])),
                            r"floating target holds class probabilities and must have the input's shape \(4, 10\), "
                            r"got \(4,\).*\.long\(\)"),
    "float class indices nll": (lambda: F.nll_loss(X, cr.tensor([1.0, 2.0, 3.0, 4.0])),
                                r"nll_loss: class-index targets must be integers \(int64\), got dtype float32"),
    "bool class indices": (lambda: F.cross_entropy(X, cr.tensor([True, False, True, False])),
                           "class-index targets must be integers"),
    "batch mismatch": (lambda: F.cross_entropy(X, cr.tensor([1, 2, 3])),
                       r"target of shape \(3,\) does not match the input of shape \(4, 10\).*need shape \(4,\)"),
    "k-dim mismatch": (lambda: F.nll_loss(cr.randn(2, 3, 4), cr.zeros(2, 3, dtype=cr.int64)),
                       r"need shape \(2, 4\)"),
    "0-d input": (lambda: F.cross_entropy(cr.tensor(1.0), cr.tensor(0)), "must have a class dimension"),
    "integer logits": (lambda: F.cross_entropy(cr.ones(2, 3, dtype=cr.int64), cr.tensor([0, 1])),
                       "expected a floating input, got dtype int64"),
    "weight shape": (lambda: F.cross_entropy(X, cr.tensor([1, 2, 3, 4]), weight=cr.ones(4)),
                     r"weight must have shape \(10,\).*got \(4,\)"),
    "weight requires grad": (lambda: F.nll_loss(X, cr.tensor([1, 2, 3, 4]), weight=cr.ones(10, requires_grad=True)),
                             "weight cannot require grad"),
    "label smoothing": (lambda: F.cross_entropy(X, cr.tensor([1, 2, 3, 4]), label_smoothing=1.5),
                        "label_smoothing must be between 0.0 and 1.0, got 1.5"),
    "ignore_index with probabilities": (lambda: F.cross_entropy(X, cr.rand(4, 10), ignore_index=0),
                                        "ignore_index is not supported for class-probability targets"),
    "bce integer target": (lambda: F.binary_cross_entropy(cr.rand(4), cr.tensor([0, 1, 1, 0])),
                           r"binary_cross_entropy: target must be a floating tensor.*got dtype int64 of shape \(4,\)"),
    "bce logits integer target": (lambda: F.binary_cross_entropy_with_logits(cr.randn(4), cr.tensor([0, 1, 1, 0])),
                                  "binary_cross_entropy_with_logits: target must be a floating tensor"),
    "bce shape": (lambda: F.binary_cross_entropy(cr.rand(4, 1), cr.rand(4)),
                  r"target of shape \(4,\) must have the input's shape \(4, 1\)"),
    "bce logits shape": (lambda: F.binary_cross_entropy_with_logits(cr.randn(4), cr.rand(4, 1)),
                         r"target of shape \(4, 1\) must have the input's shape \(4,\)"),
    "bce input outside [0, 1]": (lambda: F.binary_cross_entropy(cr.tensor([0.5, 1.5]), cr.tensor([1.0, 0.0])),
                                 r"between 0 and 1, got values in \[0.5, 1.5\]"),
    "bce weight broadcast": (lambda: F.binary_cross_entropy(cr.rand(4, 3), cr.rand(4, 3), weight=cr.ones(4)),
                             r"weight of shape \(4,\) does not broadcast to the input's shape \(4, 3\)"),
    "mse shapes": (lambda: F.mse_loss(cr.randn(4, 3), cr.randn(2)),
                   r"mse_loss: target of shape \(2,\) does not broadcast to the input of shape \(4, 3\)"),
    "mse weight shape": (lambda: F.mse_loss(cr.randn(4, 3), cr.randn(4, 3), weight=cr.ones(3)),
                         r"weight of shape \(3,\) must have the input's shape \(4, 3\)"),
    "bad reduction": (lambda: F.l1_loss(cr.randn(3), cr.randn(3), reduction="avg"),
                      "l1_loss: 'avg' is not a valid value for reduction; use one of 'mean', 'sum', 'none'"),
    "batchmean outside kl_div": (lambda: F.mse_loss(cr.randn(3), cr.randn(3), reduction="batchmean"),
                                 "'batchmean' is not a valid value"),
    "legacy size_average": (lambda: F.cross_entropy(X, cr.tensor([1, 2, 3, 4]), size_average=False),
                            r"size_average and reduce are not supported \(got size_average=False\)"),
    "legacy reduce": (lambda: F.kl_div(X, X, reduce=False), r"\(got reduce=False\).*reduction='none'"),
    "negative beta": (lambda: F.smooth_l1_loss(cr.randn(3), cr.randn(3), beta=-1.0),
                      "beta must be non-negative, got -1.0"),
    "zero delta": (lambda: F.huber_loss(cr.randn(3), cr.randn(3), delta=0.0), "delta must be positive, got 0.0"),
    "module legacy args": (lambda: nn.BCELoss(reduce=False), r"BCELoss: the deprecated arguments"),
    "module reduction": (lambda: nn.CrossEntropyLoss(reduction="batchmean"),
                         "CrossEntropyLoss: 'batchmean' is not a valid value for reduction"),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors(name):
    call, message = ERRORS[name]
    with pytest.raises(cr.ChainruleError, match=message if "\\" in message else re.escape(message)):
        call()


# ---------------------------------------------------------------------------- modules
# module name: (constructor keyword arguments, the case whose inputs it takes)
MODULES = {
    "MSELoss": ({"reduction": "sum"}, "mse_sum"),
    "L1Loss": ({}, "l1_mean"),
    "SmoothL1Loss": ({"beta": 0.5, "reduction": "none"}, "smooth_l1_none"),
    "HuberLoss": ({"delta": 0.7}, "huber_mean"),
    "CrossEntropyLoss": ({"weight": ("w", (4,)), "ignore_index": 3, "label_smoothing": 0.3},
                         "ce_all_options_mean"),
    "NLLLoss": ({"weight": ("w", (4,)), "ignore_index": -1}, "nll_weight_ignore_mean"),
    "BCELoss": ({"weight": ("w", (3,))}, "bce_mean"),
    "BCEWithLogitsLoss": ({"weight": ("w", (4, 1)), "pos_weight": ("w", (3,)), "reduction": "none"},
                          "bce_logits_weights_none"),
    "KLDivLoss": ({"reduction": "batchmean", "log_target": True}, "kl_log_target_batchmean"),
}
FUNCTIONS = {"MSELoss": "mse_loss", "L1Loss": "l1_loss", "SmoothL1Loss": "smooth_l1_loss", "HuberLoss": "huber_loss",
             "CrossEntropyLoss": "cross_entropy", "NLLLoss": "nll_loss", "BCELoss": "binary_cross_entropy",
             "BCEWithLogitsLoss": "binary_cross_entropy_with_logits", "KLDivLoss": "kl_div"}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_match_functions_and_torch(name):
    torch = require_torch()
    ctor, case = MODULES[name]
    _, inputs, _, _ = build(case)
    rng = np.random.default_rng(3)
    cr_kwargs, torch_kwargs = {}, {}
    for key, value in ctor.items():
        if isinstance(value, tuple):
            array = _array(value, rng, np.float64)
            cr_kwargs[key], torch_kwargs[key] = cr.from_numpy(array.copy()), torch.from_numpy(array.copy())
        else:
            cr_kwargs[key] = torch_kwargs[key] = value
    module = getattr(nn, name)(**cr_kwargs)
    torch_module = getattr(torch.nn, name)(**torch_kwargs)
    assert isinstance(module, nn.Module)
    assert repr(module) == repr(torch_module)
    assert list(module.state_dict()) == list(torch_module.state_dict())
    assert_close(module(*inputs), getattr(F, FUNCTIONS[name])(*inputs, **cr_kwargs), rtol=0, atol=0)
    check_against_torch(module, torch_module, inputs)


def test_loss_modules_hold_their_arguments():
    loss = nn.CrossEntropyLoss(ignore_index=5, label_smoothing=0.1, reduction="sum")
    assert (loss.ignore_index, loss.label_smoothing, loss.reduction, loss.weight) == (5, 0.1, "sum", None)
    assert nn.HuberLoss(delta=2.0).delta == 2.0 and nn.SmoothL1Loss(beta=0.3).beta == 0.3
    assert nn.KLDivLoss(log_target=True).log_target
    weighted = nn.BCEWithLogitsLoss(pos_weight=cr.ones(3)).double()
    assert weighted.pos_weight.dtype == cr.float64 and weighted.weight is None


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.int16])
def test_cross_entropy_targets_of_any_integer_width(dtype):
    # the range check reads the targets as unsigned integers of the same width
    logits = cr.tensor(np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32))
    expected = F.cross_entropy(logits, cr.tensor([0, 4, 2, 1])).item()
    assert_close(F.cross_entropy(logits, cr.from_numpy(np.array([0, 4, 2, 1], dtype))).item(), expected)
    with pytest.raises(cr.ChainruleError, match="target 5 is out of range for 5 classes"):
        F.cross_entropy(logits, cr.from_numpy(np.array([0, 5, 2, 1], dtype)))
    if np.dtype(dtype).kind == "i":
        with pytest.raises(cr.ChainruleError, match="target -1 is out of range for 5 classes"):
            F.cross_entropy(logits, cr.from_numpy(np.array([0, -1, 2, 1], dtype)))
