"""detect_anomaly: a NaN made by a backward rule names the operation and where the user created it."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import chainrule as cr
from tests.helpers import require_torch


class NaNGrad(cr.autograd.Function):
    """Forward is fine; backward returns NaN."""

    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * float("nan")


def _next_line() -> int:
    return inspect.currentframe().f_back.f_lineno + 1


def test_nan_from_a_builtin_backward_names_the_op_and_the_line():
    torch = require_torch()
    tz = torch.tensor([0.0, 1.0], requires_grad=True)
    with warnings.catch_warnings(), pytest.raises(RuntimeError, match="SqrtBackward0.*nan"):
        warnings.simplefilter("ignore")  # torch warns that anomaly mode is slow
        with torch.autograd.detect_anomaly():
            (torch.sqrt(tz) * 0).sum().backward()  # 0 · 1/(2√0) = NaN
    z = cr.tensor([0.0, 1.0], requires_grad=True)
    with pytest.raises(cr.ChainruleError) as info, np.errstate(all="ignore"):
        with cr.autograd.detect_anomaly():
            line = _next_line()
            root = cr.sqrt(z)
            (root * 0).sum().backward()
    message = str(info.value)
    assert "SqrtBackward0" in message and "NaN" in message and "input 0" in message
    assert f'File "{__file__}", line {line}, in test_nan_from_a_builtin_backward_names_the_op_and_the_line' in message
    assert "root = cr.sqrt(z)" in message


def test_nan_from_a_custom_function_names_it():
    torch = require_torch()

    class TNaNGrad(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * float("nan")

    with warnings.catch_warnings(), pytest.raises(RuntimeError, match="TNaNGradBackward"):
        warnings.simplefilter("ignore")
        with torch.autograd.detect_anomaly():
            TNaNGrad.apply(torch.ones(2, requires_grad=True)).sum().backward()
    x = cr.ones(2, requires_grad=True)
    with pytest.raises(cr.ChainruleError, match="NaNGradBackward") as info:
        with cr.autograd.detect_anomaly():
            line = _next_line()
            y = NaNGrad.apply(x)
            y.sum().backward()
    assert f"line {line}" in str(info.value) and "y = NaNGrad.apply(x)" in str(info.value)


def test_without_detect_anomaly_nan_flows_silently():
    z = cr.tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(all="ignore"):
        (cr.sqrt(z) * 0).sum().backward()
    assert np.isnan(z.grad.numpy()[0]) and z.grad.numpy()[1] == 0.0
    x = cr.ones(2, requires_grad=True)
    NaNGrad.apply(x).sum().backward()
    assert np.isnan(x.grad.numpy()).all()


def test_nan_in_forward_is_not_an_anomaly():
    # torch checks backward results only; a NaN value whose gradient is finite passes
    x = cr.tensor([-1.0, 4.0], requires_grad=True)
    with cr.autograd.detect_anomaly(), np.errstate(all="ignore"):
        y = cr.log(x)  # NaN at -1, gradient 1/x is finite
        y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [-1.0, 0.25])


def test_anomaly_mode_switches():
    assert not cr.autograd.is_anomaly_enabled()
    with cr.autograd.detect_anomaly():
        assert cr.autograd.is_anomaly_enabled()
        with cr.autograd.set_detect_anomaly(False):
            assert not cr.autograd.is_anomaly_enabled()
        assert cr.autograd.is_anomaly_enabled()
    assert not cr.autograd.is_anomaly_enabled()
    with pytest.raises(ValueError), cr.autograd.detect_anomaly():
        raise ValueError
    assert not cr.autograd.is_anomaly_enabled()

    @cr.autograd.detect_anomaly()
    def inside():
        return cr.autograd.is_anomaly_enabled()

    assert inside() and not cr.autograd.is_anomaly_enabled()


def test_set_detect_anomaly_off_lets_nan_through():
    x = cr.ones(2, requires_grad=True)
    with cr.autograd.set_detect_anomaly(False):
        NaNGrad.apply(x).sum().backward()
    assert np.isnan(x.grad.numpy()).all()


def test_operation_recorded_outside_anomaly_mode():
    x = cr.ones(2, requires_grad=True)
    y = NaNGrad.apply(x)  # recorded before anomaly mode: no creation site is known
    with pytest.raises(cr.ChainruleError, match="(?s)NaNGradBackward.*unknown place"), cr.autograd.detect_anomaly():
        y.sum().backward()


def test_anomaly_mode_gives_the_same_gradients():
    x = cr.tensor([0.5, 1.5, -2.0], dtype=cr.float64, requires_grad=True)
    (x.exp() * x.sin()).sum().backward()
    expected = x.grad.numpy().copy()
    x.grad = None
    with cr.autograd.detect_anomaly():
        (x.exp() * x.sin()).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), expected)
