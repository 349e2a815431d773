"""``Linear`` (values, input/weight/bias gradients against torch, gradcheck, PyTorch's initialisation
as a distribution and under seeds), ``Identity``, ``Flatten`` and ``Unflatten``."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from tests.helpers import assert_close, check_against_torch, rand, require_torch

SHAPES = [(5, 4), (2, 3, 4), (4,), (0, 4), (1, 4)]


def _pair(torch, in_features, out_features, bias, dtype):
    """A chainrule Linear and a torch Linear with the same (chainrule-initialised) weights."""
    ours = nn.Linear(in_features, out_features, bias=bias, dtype=dtype)
    theirs = torch.nn.Linear(in_features, out_features, bias=bias, dtype=getattr(torch, dtype.numpy.name))
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch_values_and_all_gradients(dtype, shape, bias):
    torch = require_torch()
    ours, theirs = _pair(torch, 4, 3, bias, dtype)
    x = rand(shape, dtype, contiguous=False)
    t_x = torch.from_numpy(x.detach().numpy().copy()).requires_grad_()
    out, t_out = ours(x), theirs(t_x)
    assert_close(out, t_out)
    w = np.random.default_rng(1).standard_normal(out.shape).astype(dtype.numpy)
    (out * cr.from_numpy(w)).sum().backward()
    (t_out * torch.from_numpy(w)).sum().backward()
    assert_close(x.grad, t_x.grad)
    assert_close(ours.weight.grad, theirs.weight.grad)
    if bias:
        assert_close(ours.bias.grad, theirs.bias.grad)
    else:
        assert ours.bias is None


@pytest.mark.parametrize("shape", SHAPES)
def test_linear_gradcheck_and_gradgradcheck(shape):
    x, w, b = rand(shape, seed=1), rand((3, 4), seed=2), rand((3,), seed=3)
    assert cr.autograd.gradcheck(F.linear, (x, w, b))
    assert cr.autograd.gradcheck(lambda x, w: F.linear(x, w), (x, w))
    assert cr.autograd.gradgradcheck(F.linear, (x, w, b))


def test_linear_gradients_only_where_needed():
    layer = nn.Linear(4, 2)
    x = cr.randn(3, 4)
    layer(x).sum().backward()
    assert x.grad is None and layer.weight.grad is not None
    layer.zero_grad()
    layer.bias.requires_grad_(False)
    layer(x).sum().backward()
    assert layer.bias.grad is None and layer.weight.grad is not None


def test_linear_functional_against_torch_with_broadcast_batch():
    torch = require_torch()
    check_against_torch(F.linear, torch.nn.functional.linear,
                        [rand((2, 5, 4), seed=1), rand((3, 4), seed=2), rand((3,), seed=3)])
    check_against_torch(F.linear, torch.nn.functional.linear,
                        [rand((6, 4), cr.float32, seed=1), rand((3, 4), cr.float32, seed=2)])


def test_linear_errors_name_shapes_and_dtypes():
    layer = nn.Linear(4, 3)
    with pytest.raises(cr.ChainruleError, match=r"weight of shape \(out_features, in_features\) = \(3, 4\).*"
                                                r"input shape \(2, 5\)"):
        layer(cr.zeros(2, 5))
    with pytest.raises(cr.ChainruleError, match="same dtype.*float64.*float32"):
        layer(cr.zeros(2, 4, dtype=cr.float64))
    with pytest.raises(cr.ChainruleError, match="expected tensors"):
        F.linear(np.zeros((2, 4)), layer.weight)


def test_linear_constructor_dtype_device_and_repr():
    torch = require_torch()
    layer = nn.Linear(3, 2, dtype=cr.float64, device="cpu")
    assert layer.weight.dtype == layer.bias.dtype == cr.float64
    assert layer.weight.shape == (2, 3) and layer.bias.shape == (2,)
    assert isinstance(layer.weight, nn.Parameter) and layer.weight.requires_grad
    assert nn.Linear(3, 2).weight.dtype == cr.float32
    for bias in (True, False):
        assert repr(nn.Linear(3, 2, bias=bias)) == repr(torch.nn.Linear(3, 2, bias=bias))
    with pytest.raises(cr.ChainruleError, match="CPU only"):
        nn.Linear(3, 2, device="cuda")
    with pytest.warns(UserWarning, match="zero-element tensors is a no-op"):
        empty = nn.Linear(0, 2)  # torch allows it: zero weights' init is a no-op (with a warning), bias bound 0
    assert empty.weight.shape == (2, 0) and not np.any(empty.bias.detach().numpy())


# ---------------------------------------------------------------------------- initialisation
def _ks_uniform(values: np.ndarray, bound: float) -> float:
    """Kolmogorov–Smirnov distance between the samples and U(-bound, bound)."""
    x = np.sort(values.ravel().astype(np.float64))
    cdf = (x + bound) / (2 * bound)
    n = len(x)
    return max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))


def test_linear_initialisation_has_pytorchs_distribution():
    # PyTorch: weight ~ kaiming_uniform_(a=√5) = U(-1/√in, 1/√in), bias ~ U(-1/√in, 1/√in)
    torch = require_torch()
    in_features, out_features = 300, 400
    bound = 1 / math.sqrt(in_features)
    cr.manual_seed(1234)
    layer = nn.Linear(in_features, out_features)
    torch.manual_seed(1234)
    reference = torch.nn.Linear(in_features, out_features)
    weight = layer.weight.detach().numpy()
    assert np.abs(weight).max() <= bound and np.abs(reference.weight.detach().numpy()).max() <= bound
    n = weight.size
    # at this seed the statistics are fixed numbers; the tolerances are 5-10 standard errors wide,
    # so a wrong distribution (another bound, a normal law) fails while this one cannot
    assert _ks_uniform(weight, bound) < 1.95 / math.sqrt(n)  # the 0.1 % critical value
    assert abs(weight.mean()) < 5 * bound / math.sqrt(3 * n)
    assert abs(weight.std() - bound / math.sqrt(3)) < 0.01 * bound
    assert weight.min() < -0.999 * bound and weight.max() > 0.999 * bound
    # compared with torch's own draw: the same law, the two empirical CDFs within the 0.1 % two-sample value
    theirs = np.sort(reference.weight.detach().numpy().ravel())
    grid = np.linspace(-bound, bound, 201)
    gap = np.abs(np.searchsorted(np.sort(weight.ravel()), grid) - np.searchsorted(theirs, grid)) / n
    assert gap.max() < 1.95 * math.sqrt(2 / n)
    bias = nn.Linear(in_features, 20000).bias.detach().numpy()
    assert np.abs(bias).max() <= bound and _ks_uniform(bias, bound) < 1.95 / math.sqrt(bias.size)


def test_linear_initialisation_is_seeded():
    cr.manual_seed(7)
    a = nn.Linear(5, 4)
    cr.manual_seed(7)
    b = nn.Linear(5, 4)
    cr.manual_seed(8)
    c = nn.Linear(5, 4)
    np.testing.assert_array_equal(a.weight.detach().numpy(), b.weight.detach().numpy())
    np.testing.assert_array_equal(a.bias.detach().numpy(), b.bias.detach().numpy())
    assert not np.any(a.weight.detach().numpy() == c.weight.detach().numpy())
    before = a.weight.detach().numpy().copy()
    a.reset_parameters()
    assert not np.array_equal(before, a.weight.detach().numpy())


# ---------------------------------------------------------------------------- Identity, Flatten, Unflatten
def test_identity():
    torch = require_torch()
    layer = nn.Identity(54, unused="argument")
    x = cr.randn(3)
    assert layer(x) is x and repr(layer) == repr(torch.nn.Identity()) == "Identity()"


@pytest.mark.parametrize("args,shape", [((), (2, 3, 4, 5)), ((0, -1), (2, 3, 4)), ((2, 3), (2, 3, 4, 5)),
                                        ((1, 1), (2, 3))])
def test_flatten_matches_torch(args, shape):
    torch = require_torch()
    ours, theirs = nn.Flatten(*args), torch.nn.Flatten(*args)
    x = rand(shape)
    check_against_torch(ours, theirs, [x])
    assert cr.autograd.gradcheck(ours, (x,))
    assert repr(ours) == repr(theirs)
    assert np.shares_memory(ours(x)._data, x._data)  # a view, no copy


@pytest.mark.parametrize("args,shape", [((1, (2, 3)), (4, 6)), ((-1, (2, -1)), (3, 8)), ((0, [1, 2]), (2, 5))])
def test_unflatten_matches_torch(args, shape):
    torch = require_torch()
    ours, theirs = nn.Unflatten(*args), torch.nn.Unflatten(*args)
    x = rand(shape)
    check_against_torch(ours, theirs, [x])
    assert cr.autograd.gradcheck(ours, (x,))
    assert repr(ours) == repr(theirs)


def test_flatten_errors():
    with pytest.raises(cr.ChainruleError, match="flatten"):
        nn.Flatten(3)(cr.zeros(2, 3))
    with pytest.raises(cr.ChainruleError, match="unflatten: sizes"):
        nn.Unflatten(1, (4, 2))(cr.zeros(2, 6))
