"""Activation modules against ``torch.nn``: values and gradients (float64 and float32), gradcheck,
``inplace=True`` and reprs."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
from tests.helpers import check_against_torch, rand, require_torch

# name: (class name, constructor args, constructor kwargs, input range)
MODULES = {
    "relu": ("ReLU", (), {}, (-3, 3)),
    "leaky_relu": ("LeakyReLU", (), {}, (-3, 3)),
    "leaky_relu_0.2": ("LeakyReLU", (0.2,), {}, (-3, 3)),
    "elu": ("ELU", (), {}, (-3, 3)),
    "elu_alpha": ("ELU", (), {"alpha": 0.5}, (-3, 3)),
    "gelu": ("GELU", (), {}, (-4, 4)),
    "gelu_tanh": ("GELU", (), {"approximate": "tanh"}, (-4, 4)),
    "silu": ("SiLU", (), {}, (-4, 4)),
    "sigmoid": ("Sigmoid", (), {}, (-6, 6)),
    "tanh": ("Tanh", (), {}, (-3, 3)),
    "softplus": ("Softplus", (), {}, (-4, 4)),
    "softplus_beta": ("Softplus", (2.0, 3.0), {}, (-4, 4)),
    "softmax": ("Softmax", (), {"dim": 1}, (-5, 5)),
    "softmax_last": ("Softmax", (-1,), {}, (-5, 5)),
    "log_softmax": ("LogSoftmax", (), {"dim": 0}, (-5, 5)),
    "log_softmax_1": ("LogSoftmax", (1,), {}, (-5, 5)),
}
INPLACE = {"relu": "ReLU", "leaky_relu": "LeakyReLU", "elu": "ELU", "silu": "SiLU"}


def _modules(name):
    torch = require_torch()
    cls, args, kwargs, _ = MODULES[name]
    return getattr(nn, cls)(*args, **kwargs), getattr(torch.nn, cls)(*args, **kwargs)


@pytest.mark.parametrize("name", sorted(MODULES))
@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
def test_activation_matches_torch(name, dtype):
    ours, theirs = _modules(name)
    low, high = MODULES[name][3]
    check_against_torch(ours, theirs, [rand((3, 4, 5), dtype, low, high, contiguous=False)])


@pytest.mark.parametrize("name", sorted(MODULES))
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 2), (0, 3), (1, 1)])
def test_activation_gradcheck(name, shape):
    ours, _ = _modules(name)
    low, high = MODULES[name][3]
    assert cr.autograd.gradcheck(ours, (rand(shape, low=low, high=high),))


@pytest.mark.parametrize("name", sorted(MODULES))
def test_activation_repr_matches_torch(name):
    ours, theirs = _modules(name)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_activation_writes_into_its_input(name):
    torch = require_torch()
    cls = INPLACE[name]
    ours, theirs = getattr(nn, cls)(inplace=True), getattr(torch.nn, cls)(inplace=True)
    assert repr(ours) == repr(theirs)
    leaf = rand((4, 3), low=-2, high=2)
    t_leaf = torch.from_numpy(leaf.detach().numpy().copy()).requires_grad_()
    x, t_x = leaf * 1.5, t_leaf * 1.5  # a non-leaf, as in a network
    out, t_out = ours(x), theirs(t_x)
    assert out is x and x._version == 1
    np.testing.assert_allclose(out.detach().numpy(), t_out.detach().numpy(), rtol=1e-12)
    out.sum().backward()
    t_out.sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), t_leaf.grad.numpy(), rtol=1e-12)
    plain = cr.tensor([-1.0, 2.0])  # outside the graph too
    expected = getattr(nn, cls)()(plain).numpy()
    assert ours(plain) is plain and plain._version == 1
    np.testing.assert_array_equal(plain.numpy(), expected)


def test_softmax_without_dim_warns_and_picks_torchs_dimension():
    torch = require_torch()
    for shape in [(5,), (3, 4), (2, 3, 4), (2, 3, 4, 5)]:
        x = rand(shape, requires_grad=False)
        with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
            ours = nn.Softmax()(x)
        with pytest.warns(UserWarning, match="Implicit dimension choice for log_softmax"):
            ours_log = nn.LogSoftmax()(x)
        with pytest.warns(UserWarning):
            theirs = torch.nn.Softmax()(torch.from_numpy(x.numpy().copy()))
            theirs_log = torch.nn.LogSoftmax()(torch.from_numpy(x.numpy().copy()))
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
        np.testing.assert_allclose(ours_log.numpy(), theirs_log.numpy(), rtol=1e-12)


def test_activations_in_a_network_train_like_torch():
    torch = require_torch()
    ours = nn.Sequential(nn.Linear(6, 8), nn.GELU(), nn.Linear(8, 8), nn.SiLU(), nn.Linear(8, 8), nn.ELU(),
                         nn.Linear(8, 4), nn.LogSoftmax(dim=1)).double()
    theirs = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.GELU(), torch.nn.Linear(8, 8), torch.nn.SiLU(),
                                 torch.nn.Linear(8, 8), torch.nn.ELU(), torch.nn.Linear(8, 4),
                                 torch.nn.LogSoftmax(dim=1)).double()
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    x = rand((5, 6), requires_grad=False)
    ours(x).sum().backward()
    theirs(torch.from_numpy(x.numpy().copy())).sum().backward()
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6, atol=1e-10, err_msg=name)
