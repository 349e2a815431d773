"""Normalisation layers against torch: ``BatchNorm1d``/``BatchNorm2d`` (outputs, gradients, running
statistics and ``num_batches_tracked`` over several training steps with several momenta, evaluation
after training, ``affine``/``track_running_stats`` off, loading a torch state dict), ``LayerNorm``,
``GroupNorm``; PyTorch's parameters, buffers and reprs; and the errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from tests.helpers import assert_close, rand, require_torch


def _torch_twin(torch, ours):
    """The torch layer of the same class and arguments, with our state loaded."""
    cls = getattr(torch.nn, type(ours).__name__)
    kwargs = dict(dtype=getattr(torch, ours.weight.dtype.numpy.name) if ours.weight is not None else torch.float64)
    if isinstance(ours, nn.LayerNorm):
        theirs = cls(ours.normalized_shape, ours.eps, ours.elementwise_affine, ours.bias is not None, **kwargs)
    elif isinstance(ours, nn.GroupNorm):
        theirs = cls(ours.num_groups, ours.num_channels, ours.eps, ours.affine, bias=ours.bias is not None, **kwargs)
    else:
        theirs = cls(ours.num_features, ours.eps, ours.momentum, ours.affine, ours.track_running_stats,
                     bias=ours.bias is not None, **kwargs)
    theirs.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in ours.state_dict().items()})
    return theirs


def _randomize(layer, seed=7):
    """Affine parameters away from 1 and 0, so that the tests see them."""
    rng = np.random.default_rng(seed)
    with cr.no_grad():
        for p in layer.parameters():
            p.copy_(cr.from_numpy(rng.uniform(0.5, 1.5, p.shape).astype(p.dtype.numpy)))


def _step(torch, ours, theirs, shape, dtype, seed):
    """One forward/backward through both layers on the same input; compare output and gradients."""
    x = rand(shape, dtype, seed=seed, contiguous=seed % 2 == 0)
    t_x = torch.from_numpy(x.detach().numpy().copy()).requires_grad_()
    out, t_out = ours(x), theirs(t_x)
    assert_close(out, t_out)
    w = np.random.default_rng(seed + 100).standard_normal(out.shape).astype(dtype.numpy)
    (out * cr.from_numpy(w)).sum().backward()
    (t_out * torch.from_numpy(w)).sum().backward()
    assert_close(x.grad, t_x.grad)
    for (name, p), (t_name, t_p) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        assert name == t_name
        assert_close(p.grad, t_p.grad)


def _same_state(ours, theirs):
    t_state = theirs.state_dict()
    state = ours.state_dict()
    assert list(state) == list(t_state)
    for key, value in state.items():
        assert_close(value, t_state[key].numpy())


# ---------------------------------------------------------------------------- BatchNorm
BN_CASES = [(nn.BatchNorm1d, (8, 4)), (nn.BatchNorm1d, (5, 4, 7)), (nn.BatchNorm2d, (6, 4, 5, 3)),
            (nn.BatchNorm2d, (1, 4, 3, 3))]


@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
@pytest.mark.parametrize("cls, shape", BN_CASES)
@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_batchnorm_training_steps_running_stats_and_eval_match_torch(dtype, cls, shape, momentum):
    torch = require_torch()
    ours = cls(4, momentum=momentum, dtype=dtype)
    _randomize(ours)
    theirs = _torch_twin(torch, ours)
    for step in range(3):
        _step(torch, ours, theirs, shape, dtype, seed=step)
        _same_state(ours, theirs)  # running_mean, running_var, num_batches_tracked
    assert int(ours.num_batches_tracked.item()) == 3
    assert not ours.running_mean.requires_grad and ours.running_mean.dtype == dtype
    ours.eval(), theirs.eval()
    _step(torch, ours, theirs, shape, dtype, seed=10)
    _same_state(ours, theirs)  # evaluation leaves the statistics alone


@pytest.mark.parametrize("cls, shape", BN_CASES)
@pytest.mark.parametrize("affine, bias, track", [(False, False, True), (True, False, True), (True, True, False),
                                                 (False, False, False)])
def test_batchnorm_options_match_torch(cls, shape, affine, bias, track):
    torch = require_torch()
    ours = cls(4, affine=affine, track_running_stats=track, dtype=cr.float64, bias=bias)
    if affine:
        _randomize(ours)
    theirs = _torch_twin(torch, ours)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    for mode in (True, False):
        ours.train(mode), theirs.train(mode)
        _step(torch, ours, theirs, shape, cr.float64, seed=3)
        _same_state(ours, theirs)


def test_batchnorm2d_loads_a_torch_state_dict_and_gives_torch_eval_outputs():
    torch = require_torch()
    theirs = torch.nn.BatchNorm2d(3)
    with torch.no_grad():  # a trained-looking state
        for _ in range(4):
            theirs(torch.randn(8, 3, 4, 4) * 3 + 1)
        theirs.weight.uniform_(0.5, 2)
        theirs.bias.uniform_(-1, 1)
    theirs.eval()
    ours = nn.BatchNorm2d(3)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    ours.eval()
    assert int(ours.num_batches_tracked.item()) == 4
    x = rand((2, 3, 5, 5), cr.float32, requires_grad=False)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x.numpy().copy()))
    assert_close(ours(x), expected)


def test_batchnorm_running_stats_stay_out_of_the_graph_and_update_in_place():
    layer = nn.BatchNorm1d(3)
    mean_before = layer.running_mean
    data_before = layer.running_mean.numpy()
    y = layer(rand((4, 3), cr.float32))
    assert layer.running_mean is mean_before and np.shares_memory(layer.running_mean.numpy(), data_before)
    assert not layer.running_mean.requires_grad and layer.running_mean.grad_fn is None
    y.sum().backward()
    assert layer.running_mean.grad is None and layer.weight.grad is not None


def test_batchnorm_with_batch_of_one():
    layer = nn.BatchNorm1d(3)
    with pytest.raises(cr.ChainruleError, match=r"BatchNorm1d: Expected more than 1 value per channel when training, "
                                                r"got input of shape \(1, 3\)"):
        layer(cr.randn(1, 3))
    assert nn.BatchNorm1d(3)(cr.randn(1, 3, 2)).shape == (1, 3, 2)  # legal: 2 values per channel
    layer.eval()
    assert layer(cr.randn(1, 3)).shape == (1, 3)  # evaluation uses the running statistics


def test_batchnorm_reset_and_dtype_conversion():
    layer = nn.BatchNorm2d(2)
    layer(cr.randn(3, 2, 2, 2) + 5)
    layer.reset_running_stats()
    assert layer.running_mean.numpy().tolist() == [0, 0] and layer.running_var.numpy().tolist() == [1, 1]
    assert int(layer.num_batches_tracked.item()) == 0
    layer.double()
    assert layer(cr.randn(3, 2, 2, 2, dtype=cr.float64)).dtype == cr.float64
    assert layer.running_mean.dtype == cr.float64 and layer.num_batches_tracked.dtype == cr.int64


# ---------------------------------------------------------------------------- LayerNorm, GroupNorm
@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
@pytest.mark.parametrize("normalized, shape", [(5, (3, 5)), ((4, 5), (2, 3, 4, 5)), ((5,), (1, 5)), (7, (7,))])
@pytest.mark.parametrize("affine, bias", [(True, True), (True, False), (False, True)])
def test_layernorm_matches_torch(dtype, normalized, shape, affine, bias):
    torch = require_torch()
    ours = nn.LayerNorm(normalized, eps=1e-4, elementwise_affine=affine, bias=bias, dtype=dtype)
    if affine:
        _randomize(ours)
        assert ours.weight.shape == ((normalized,) if isinstance(normalized, int) else normalized)
    theirs = _torch_twin(torch, ours).to(getattr(torch, dtype.numpy.name))
    _step(torch, ours, theirs, shape, dtype, seed=1)


@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
@pytest.mark.parametrize("groups", [1, 3, 6])
@pytest.mark.parametrize("shape", [(2, 6, 5), (3, 6, 4, 3), (1, 6, 3)])
@pytest.mark.parametrize("affine", [True, False])
def test_groupnorm_matches_torch(dtype, groups, shape, affine):
    torch = require_torch()
    ours = nn.GroupNorm(groups, 6, affine=affine, dtype=dtype)
    if affine:
        _randomize(ours)
    theirs = _torch_twin(torch, ours).to(getattr(torch, dtype.numpy.name))
    _step(torch, ours, theirs, shape, dtype, seed=2)


def test_layers_have_torch_names_shapes_defaults_and_reprs():
    torch = require_torch()
    cases = [(nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)),
             (nn.BatchNorm1d(5, eps=1e-3, momentum=None, affine=False, track_running_stats=False),
              torch.nn.BatchNorm1d(5, eps=1e-3, momentum=None, affine=False, track_running_stats=False)),
             (nn.BatchNorm2d(2, bias=False), torch.nn.BatchNorm2d(2, bias=False)),
             (nn.LayerNorm((3, 4)), torch.nn.LayerNorm((3, 4))),
             (nn.LayerNorm(3, elementwise_affine=False), torch.nn.LayerNorm(3, elementwise_affine=False)),
             (nn.LayerNorm([6], bias=False), torch.nn.LayerNorm([6], bias=False)),
             (nn.GroupNorm(2, 4), torch.nn.GroupNorm(2, 4)),
             (nn.GroupNorm(1, 4, eps=1e-3, affine=False), torch.nn.GroupNorm(1, 4, eps=1e-3, affine=False))]
    for ours, theirs in cases:
        assert repr(ours) == repr(theirs)
        state, t_state = ours.state_dict(), theirs.state_dict()
        assert list(state) == list(t_state)
        for key, value in state.items():
            assert tuple(value.shape) == tuple(t_state[key].shape)
            np.testing.assert_array_equal(value.numpy(), t_state[key].numpy())  # default values


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize("layer, x, message", [
    (nn.BatchNorm2d(3), cr.zeros(8, 32, 32, 3),
     r"BatchNorm2d: expected input of shape \(N, 3, H, W\).*got \(8, 32, 32, 3\).*channels are last"),
    (nn.BatchNorm2d(3), cr.zeros(8, 3), r"BatchNorm2d: expected input of shape \(N, 3, H, W\).*got \(8, 3\)"),
    (nn.BatchNorm1d(4), cr.zeros(8, 3), r"BatchNorm1d: expected input of shape \(N, 4\) or \(N, 4, L\).*got \(8, 3\)"),
    (nn.BatchNorm1d(4), cr.zeros(8, 4, 2, 2), r"BatchNorm1d: expected.*got \(8, 4, 2, 2\)"),
    (nn.LayerNorm(4), cr.zeros(2, 3), r"layer_norm: normalized_shape=\(4,\) expects an input of shape \(\*, 4\).*got "
                                      r"\(2, 3\)"),
    (nn.LayerNorm((2, 3)), cr.zeros(3, 2), r"normalized_shape=\(2, 3\).*\(\*, 2, 3\).*got \(3, 2\)"),
    (nn.GroupNorm(2, 4), cr.zeros(2, 3, 5), r"GroupNorm: expected input of shape \(N, 4, \*\), got \(2, 3, 5\)"),
    (nn.BatchNorm1d(3), cr.zeros(4, 3, dtype=cr.float64),
     r"batch_norm: running_mean has dtype .*float32 but the input has .*float64.*convert"),
])
def test_layer_errors_name_layer_expected_and_received_shapes(layer, x, message):
    with pytest.raises(cr.ChainruleError, match=message):
        layer(x)


def test_functional_and_constructor_errors():
    with pytest.raises(cr.ChainruleError, match=r"num_channels \(6\) must be divisible by num_groups \(4\)"):
        nn.GroupNorm(4, 6)
    with pytest.raises(cr.ChainruleError, match=r"group_norm: .*divisible by num_groups.*\(2, 6, 3\).*num_groups=4"):
        F.group_norm(cr.zeros(2, 6, 3), 4)
    with pytest.raises(cr.ChainruleError, match=r"batch_norm: running_mean must have shape \(3,\).*\(2, 3\), "
                                                r"got \(4,\)"):
        F.batch_norm(cr.zeros(2, 3), cr.zeros(4), cr.ones(4))
    with pytest.raises(cr.ChainruleError, match="running_mean and running_var must be given in evaluation mode"):
        F.batch_norm(cr.zeros(2, 3), None, None, training=False)
    with pytest.raises(cr.ChainruleError, match=r"layer_norm: weight must have shape \(3,\)"):
        F.layer_norm(cr.zeros(2, 3), 3, cr.ones(4))
    with pytest.raises(cr.ChainruleError, match=r"batch_norm: Expected more than 1 value per channel.*\(1, 3, 1\)"):
        F.batch_norm(cr.zeros(1, 3, 1), None, None, training=True)
    with pytest.raises(cr.ChainruleError, match="BatchNorm2d: expected a Tensor input, got ndarray"):
        nn.BatchNorm2d(3)(np.zeros((2, 3, 4, 4)))
    with pytest.raises(cr.ChainruleError, match="batch_norm: expected a floating input"):
        F.batch_norm(cr.zeros(2, 3, dtype=cr.int64), None, None, training=True)
