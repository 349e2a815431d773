"""``nn.init`` against ``torch.nn.init``: gains, fans, the bounds and standard deviations of every
random initialiser, seeding and ``generator=``, orthogonality, and in-place filling of parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
from chainrule.nn import init
from tests.helpers import require_torch

NONLINEARITIES = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]
WEIGHT_SHAPES = [(3, 4), (5, 3, 2, 2), (2, 3, 4), (1, 7)]


@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
def test_calculate_gain_matches_torch(nonlinearity):
    torch = require_torch()
    assert init.calculate_gain(nonlinearity) == torch.nn.init.calculate_gain(nonlinearity)


@pytest.mark.parametrize("param", [None, 0, 0.2, 1, math.sqrt(5)])
def test_leaky_relu_gain_matches_torch(param):
    torch = require_torch()
    assert init.calculate_gain("leaky_relu", param) == torch.nn.init.calculate_gain("leaky_relu", param)


def test_calculate_gain_errors():
    with pytest.raises(cr.ChainruleError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(cr.ChainruleError, match="negative_slope True is not a valid number"):
        init.calculate_gain("leaky_relu", True)


@pytest.mark.parametrize("shape", WEIGHT_SHAPES)
def test_fans_match_torch(shape):
    torch = require_torch()
    assert init._calculate_fan_in_and_fan_out(cr.zeros(*shape)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(*shape))
    with pytest.raises(cr.ChainruleError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(cr.zeros(3))


def _bound_and_std(torch, name, shape, kwargs):
    """The law's bound (uniform) and standard deviation that torch's formulas give for ``shape``."""
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(*shape))
    if name.startswith("xavier"):
        std = kwargs.get("gain", 1.0) * math.sqrt(2.0 / (fan_in + fan_out))
    else:
        fan = fan_in if kwargs.get("mode", "fan_in") == "fan_in" else fan_out
        gain = torch.nn.init.calculate_gain(kwargs.get("nonlinearity", "leaky_relu"), kwargs.get("a", 0))
        std = gain / math.sqrt(fan)
    return math.sqrt(3.0) * std, std


CASES = [("xavier_uniform_", {}), ("xavier_uniform_", {"gain": 2.0}), ("xavier_normal_", {}),
         ("xavier_normal_", {"gain": 0.5}), ("kaiming_uniform_", {}), ("kaiming_uniform_", {"a": math.sqrt(5)}),
         ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}), ("kaiming_normal_", {}),
         ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "tanh"})]


@pytest.mark.parametrize("name,kwargs", CASES)
@pytest.mark.parametrize("shape", [(400, 300), (64, 32, 3, 3)])
def test_random_initialisers_follow_torchs_law(name, kwargs, shape):
    torch = require_torch()
    bound, std = _bound_and_std(torch, name, shape, kwargs)
    ours = getattr(init, name)(cr.empty(*shape), **kwargs).numpy()
    theirs = getattr(torch.nn.init, name)(torch.empty(*shape), **kwargs).numpy()
    n = ours.size
    # the sample standard deviation has a relative standard error of about 1/√(2n) (< 0.25 % here)
    for values in (ours, theirs):
        assert abs(values.std() / std - 1) < 0.02
        assert abs(values.mean()) < 6 * std / math.sqrt(n)
    if name.endswith("uniform_"):
        assert np.abs(ours).max() <= bound and np.abs(ours).max() > 0.999 * bound


def test_uniform_normal_constant_zeros_ones():
    x = cr.empty(200, 200)
    assert init.uniform_(x, -2.0, 3.0) is x
    assert x.numpy().min() >= -2.0 and x.numpy().max() < 3.0 and abs(x.numpy().mean() - 0.5) < 0.05
    init.normal_(x, 1.0, 0.5)
    assert abs(x.numpy().mean() - 1.0) < 0.01 and abs(x.numpy().std() - 0.5) < 0.01
    assert init.constant_(x, 0.25).numpy().tolist() == np.full((200, 200), 0.25).tolist()
    assert not np.any(init.zeros_(x).numpy()) and np.all(init.ones_(x).numpy() == 1)
    assert x.dtype == cr.float32


def test_initialisers_fill_parameters_in_place_outside_the_graph():
    layer = nn.Linear(4, 3)
    weight = layer.weight
    memory = weight._data
    for fn in (init.xavier_uniform_, init.kaiming_normal_, init.orthogonal_, init.ones_):
        assert fn(layer.weight) is weight
    assert weight._data is memory and weight.is_leaf and weight.requires_grad and weight.grad_fn is None
    assert layer.weight.dtype == cr.float32


def test_seeds_and_generators():
    cr.manual_seed(3)
    a = init.kaiming_uniform_(cr.empty(5, 5)).numpy()
    cr.manual_seed(3)
    b = init.kaiming_uniform_(cr.empty(5, 5)).numpy()
    np.testing.assert_array_equal(a, b)
    generator = cr.Generator().manual_seed(11)
    state = cr.get_rng_state()
    c = init.xavier_normal_(cr.empty(5, 5), generator=generator).numpy()
    d = init.orthogonal_(cr.empty(5, 5), generator=generator).numpy()
    assert cr.get_rng_state().tolist() == state.tolist()  # the default generator was not used
    generator.manual_seed(11)
    np.testing.assert_array_equal(c, init.xavier_normal_(cr.empty(5, 5), generator=generator).numpy())
    np.testing.assert_array_equal(d, init.orthogonal_(cr.empty(5, 5), generator=generator).numpy())


@pytest.mark.parametrize("shape", [(3, 7), (7, 3), (5, 5), (4, 2, 3, 3), (6, 2, 1)])
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_orthogonal(shape, gain):
    w = init.orthogonal_(cr.empty(*shape, dtype=cr.float64), gain=gain).numpy().reshape(shape[0], -1)
    rows, cols = w.shape
    product = w @ w.T if rows <= cols else w.T @ w
    np.testing.assert_allclose(product, gain ** 2 * np.eye(min(rows, cols)), atol=1e-12)


def test_orthogonal_errors_and_empty():
    with pytest.raises(cr.ChainruleError, match="2 or more dimensions"):
        init.orthogonal_(cr.empty(4))
    empty = cr.empty(0, 3)
    assert init.orthogonal_(empty) is empty


def test_kaiming_errors_and_empty_tensors():
    with pytest.raises(cr.ChainruleError, match="mode 'fan_avg' is not supported"):
        init.kaiming_uniform_(cr.empty(3, 3), mode="fan_avg")
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_normal_(cr.empty(0, 3))
