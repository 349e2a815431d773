"""``nn.functional`` against ``torch.nn.functional`` (values, gradients, gradcheck, second derivatives),
``inplace=`` variants, and dropout: the zeroed fraction, the scaling, eval mode, seeding, gradients."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from tests.helpers import check_against_torch, rand, require_torch

# name: (call with F being chainrule's or torch's functional module, input range)
FUNCTIONS = {
    "relu": (lambda F, x: F.relu(x), (-3, 3)),
    "leaky_relu": (lambda F, x: F.leaky_relu(x, 0.3), (-3, 3)),
    "elu": (lambda F, x: F.elu(x, alpha=1.5), (-3, 3)),
    "gelu": (lambda F, x: F.gelu(x), (-4, 4)),
    "gelu_tanh": (lambda F, x: F.gelu(x, approximate="tanh"), (-4, 4)),
    "silu": (lambda F, x: F.silu(x), (-4, 4)),
    "sigmoid": (lambda F, x: F.sigmoid(x), (-6, 6)),
    "tanh": (lambda F, x: F.tanh(x), (-3, 3)),
    "softplus": (lambda F, x: F.softplus(x, beta=0.5, threshold=2.0), (-6, 6)),
    "softmax": (lambda F, x: F.softmax(x, dim=-1), (-5, 5)),
    "log_softmax": (lambda F, x: F.log_softmax(x, 1), (-5, 5)),
    "softmax_dtype": (lambda F, x: F.softmax(x, 0, dtype=x.dtype), (-5, 5)),
    "dropout_eval": (lambda F, x: F.dropout(x, 0.5, training=False), (-3, 3)),
    "dropout_p0": (lambda F, x: F.dropout(x, 0.0), (-3, 3)),
}


def _torch_F():
    return require_torch().nn.functional


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
def test_functional_matches_torch(name, dtype):
    call, (low, high) = FUNCTIONS[name]
    check_against_torch(lambda x: call(F, x), lambda x: call(_torch_F(), x),
                        [rand((3, 4, 5), dtype, low, high, contiguous=False)])


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_functional_gradcheck_and_gradgradcheck(name):
    call, (low, high) = FUNCTIONS[name]
    x = rand((3, 4), low=low, high=high)
    assert cr.autograd.gradcheck(lambda x: call(F, x), (x,))
    assert cr.autograd.gradgradcheck(lambda x: call(F, x), (x,))


@pytest.mark.parametrize("name,kwargs", [("relu", {}), ("leaky_relu", {"negative_slope": 0.2}),
                                         ("elu", {"alpha": 0.7}), ("silu", {})])
def test_functional_inplace(name, kwargs):
    torch = require_torch()
    x = rand((5, 3), requires_grad=False)
    t = torch.from_numpy(x.numpy().copy())
    expected = getattr(F, name)(x, **kwargs).numpy().copy()
    assert getattr(F, name)(x, inplace=True, **kwargs) is x
    getattr(torch.nn.functional, name)(t, inplace=True, **kwargs)
    np.testing.assert_array_equal(x.numpy(), expected)
    np.testing.assert_allclose(x.numpy(), t.numpy(), rtol=1e-12)
    y = rand((2, 2), requires_grad=False)
    assert F.relu_(y) is y and y.numpy().min() >= 0


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(cr.ChainruleError, match="approximate must be 'none' or 'tanh'"):
        F.gelu(cr.zeros(2), approximate="erf")


# ---------------------------------------------------------------------------- dropout
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
def test_dropout_zeroes_a_fraction_p_and_scales_the_rest(p, dtype):
    n = 200_000
    x = cr.full((n,), 2.0, dtype=dtype)
    y = F.dropout(x, p).numpy()
    assert y.dtype == dtype.numpy
    zeroed = np.mean(y == 0)
    assert abs(zeroed - p) < 6 * np.sqrt(p * (1 - p) / n)  # six standard errors
    np.testing.assert_allclose(y[y != 0], 2.0 / (1 - p), rtol=1e-6)  # inverted dropout: E[y] = x
    assert np.all(x.numpy() == 2.0)  # not in place


def test_dropout_gradient_is_the_scaled_mask():
    x = rand((50, 40))
    y = F.dropout(x, 0.3)
    y.sum().backward()
    mask = y.detach().numpy() != 0
    np.testing.assert_allclose(x.grad.numpy(), mask / 0.7, rtol=1e-12)

    def seeded(x):  # the same mask on every call, so finite differences see a fixed function
        cr.manual_seed(5)
        return F.dropout(x, 0.4)

    assert cr.autograd.gradcheck(seeded, (rand((6, 5)),))
    assert cr.autograd.gradgradcheck(seeded, (rand((6, 5)),))


def test_dropout_is_seeded():
    x = cr.ones(1000)
    cr.manual_seed(42)
    a = F.dropout(x, 0.5).numpy()
    b = F.dropout(x, 0.5).numpy()
    cr.manual_seed(42)
    np.testing.assert_array_equal(a, F.dropout(x, 0.5).numpy())
    assert not np.array_equal(a, b)


def test_dropout_module_train_eval_and_edges():
    torch = require_torch()
    layer = nn.Dropout(0.25)
    assert repr(layer) == repr(torch.nn.Dropout(0.25)) and repr(nn.Dropout()) == repr(torch.nn.Dropout())
    x = rand((20, 30))
    assert np.any(layer(x).detach().numpy() == 0)
    layer.eval()
    assert layer(x) is x  # the identity in evaluation mode
    assert F.dropout(x, 0.5, training=False) is x and F.dropout(x, 0.0) is x
    assert not np.any(F.dropout(x, 1.0).detach().numpy())  # p = 1 zeroes everything (no NaN)
    plain = cr.ones(1000)
    out = nn.Dropout(0.5, inplace=True)(plain)
    assert out is plain and set(np.unique(plain.numpy())) == {0.0, 2.0}
    for bad in (-0.1, 1.5, "0.5", True):
        with pytest.raises(cr.ChainruleError, match="between 0 and 1"):
            nn.Dropout(bad)
        with pytest.raises(cr.ChainruleError, match="between 0 and 1"):
            F.dropout(x, bad)


def test_dropout_in_a_model_follows_train_and_eval():
    model = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5), nn.Linear(8, 2))
    x = cr.randn(16, 8)
    model.eval()
    np.testing.assert_array_equal(model(x).detach().numpy(), model(x).detach().numpy())
    model.train()
    assert not np.array_equal(model(x).detach().numpy(), model(x).detach().numpy())


def test_softmax_default_dim_warns_like_torch():
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        out = F.softmax(cr.tensor([[1.0, 2.0], [3.0, 5.0]]))
    np.testing.assert_allclose(out.numpy().sum(axis=1), 1.0, rtol=1e-6)
