"""``Sequential`` recording a graph runs ``Linear`` layers, each optionally followed by a ``ReLU``, as the
one primitive ``LinearChain``: the same outputs and gradients as the ordinary calls (bit for bit, and
against torch), one node where the calls record one per layer, the layers' own errors and in-place
checks, and the ordinary calls wherever a layer has hooks or its own ``forward`` (subclass, instance or
patched class)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from tests.helpers import assert_close, rand, require_torch


def _mlp(dtype=cr.float32, inplace=False, bias=True):
    return [nn.Linear(4, 6, bias=bias, dtype=dtype), nn.ReLU(inplace), nn.Linear(6, 5, dtype=dtype),
            nn.ReLU(inplace), nn.Linear(5, 3, dtype=dtype)]


def _node_names(out):
    """The names of the nodes on the path from ``out`` back through each node's first input."""
    names, node = [], out.grad_fn
    while node is not None:
        names.append(node.name())
        node = node.next_functions[0][0] if node.next_functions else None
    return names


def _gradients(out, tensors):
    """``d sum(out²) / d tensors`` (the parameters' and the input's), as arrays."""
    grads = cr.autograd.grad((out * out).sum(), tensors)
    return [g.numpy() for g in grads]


def _layer_by_layer(layers, x):
    for layer in layers:
        x = layer(x)
    return x


@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
@pytest.mark.parametrize("shape", [(1, 4), (7, 4), (2, 3, 4), (4,), (40, 4)])
@pytest.mark.parametrize("inplace", [False, True])
def test_fused_runs_equal_the_ordinary_calls_bit_for_bit(shape, dtype, inplace):
    layers = _mlp(dtype, inplace)
    model = nn.Sequential(*layers)
    x = rand(shape, dtype, seed=3)
    out = model(x)
    ordinary = _layer_by_layer(layers, x)
    assert _node_names(out) == ["LinearChainBackward0"]
    assert _node_names(ordinary)[:3] == ["LinearBackward0", "ReluBackward0", "LinearBackward0"]
    assert out.dtype == dtype and out.shape == ordinary.shape
    np.testing.assert_array_equal(out.detach().numpy(), ordinary.detach().numpy())
    tensors = [x, *model.parameters()]
    for fused, plain in zip(_gradients(out, tensors), _gradients(ordinary, tensors), strict=True):
        np.testing.assert_array_equal(fused, plain)


def test_a_run_with_a_linear_without_relu_inside_equals_the_ordinary_calls_bit_for_bit():
    layers = [nn.Linear(4, 6), nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3), nn.ReLU()]
    x = rand((7, 4), cr.float32, seed=8)
    out, ordinary = nn.Sequential(*layers)(x), _layer_by_layer(layers, x)
    assert _node_names(out) == ["LinearChainBackward0"]
    np.testing.assert_array_equal(out.detach().numpy(), ordinary.detach().numpy())
    tensors = [x, *nn.Sequential(*layers).parameters()]
    for fused, plain in zip(_gradients(out, tensors), _gradients(ordinary, tensors), strict=True):
        np.testing.assert_array_equal(fused, plain)


def test_fused_runs_against_torch():
    torch = require_torch()
    layers = _mlp(cr.float64)
    model = nn.Sequential(*layers)
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 5), torch.nn.ReLU(),
                                 torch.nn.Linear(5, 3)).double()
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()})
    x = rand((9, 4), cr.float64, seed=5)
    tx = torch.from_numpy(x.detach().numpy().copy()).requires_grad_()
    out, expected = model(x), theirs(tx)
    assert_close(out, expected)
    (out * out).sum().backward()
    (expected * expected).sum().backward()
    assert_close(x.grad, tx.grad)
    for ours, (name, reference) in zip(model.parameters(), theirs.named_parameters(), strict=True):
        assert_close(ours.grad, reference.grad)


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4), (1, 4), (4,)])
@pytest.mark.parametrize("relus", [(True,), (True, False), (False, True), (True, True, False)])
def test_linear_chain_gradcheck_and_gradgradcheck(shape, relus):
    sizes = (4, 5, 3, 2)[:len(relus) + 1]
    params = []
    for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        params += [rand((fan_out, fan_in), seed=2 + k), rand((fan_out,), seed=7 + k)]
    x = rand(shape, seed=1)
    chain = lambda x, *params: F.LinearChain.apply(x, relus, *params)  # noqa: E731
    assert cr.autograd.gradcheck(chain, (x, *params))
    assert cr.autograd.gradgradcheck(chain, (x, *params))
    no_bias = lambda x, w: F.LinearChain.apply(x, relus[:1], w, None)  # noqa: E731
    assert cr.autograd.gradcheck(no_bias, (x, params[0]))


def test_second_derivatives_through_a_fused_sequential_equal_the_ordinary_ones():
    layers = [nn.Linear(3, 4, dtype=cr.float64), nn.ReLU(), nn.Linear(4, 1, dtype=cr.float64)]
    x = rand((5, 3), seed=7)
    fused = nn.Sequential(*layers)(x)
    plain = _layer_by_layer(layers, x)
    assert _node_names(fused) == ["LinearChainBackward0"]
    results = []
    for out in (fused, plain):
        (gx,) = cr.autograd.grad((out ** 3).sum(), [x], create_graph=True)
        results.append(cr.autograd.grad((gx * gx).sum(), [x, layers[0].weight]))
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


def test_unrecorded_when_nothing_needs_a_gradient():
    layers = _mlp()
    for p in nn.Sequential(*layers).parameters():
        p.requires_grad_(False)
    x = rand((2, 4), cr.float32, requires_grad=False)
    out = nn.Sequential(*layers)(x)
    assert not out.requires_grad and out.grad_fn is None
    np.testing.assert_array_equal(out.numpy(), _layer_by_layer(layers, x).numpy())


def test_only_runs_of_linear_layers_each_with_or_without_a_relu_are_fused():
    x = rand((2, 4), cr.float32)
    assert _node_names(nn.Sequential(nn.ReLU(), nn.Linear(4, 3))(x)) == ["LinearBackward0", "ReluBackward0"]
    assert _node_names(nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.ReLU())(x)) == [
        "ReluBackward0", "TanhBackward0", "LinearBackward0"]
    assert _node_names(nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.ReLU())(x)) == [
        "ReluBackward0", "LinearChainBackward0"]
    assert _node_names(nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))(x)) == ["LinearChainBackward0"]
    assert _node_names(nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Tanh(), nn.Linear(3, 2), nn.ReLU())(x)) == [
        "LinearChainBackward0", "TanhBackward0", "LinearChainBackward0"]


@pytest.mark.parametrize("hooked", [0, 1])
@pytest.mark.parametrize("kind", ["forward hook", "forward pre-hook"])
def test_a_hooked_layer_runs_the_ordinary_way(kind, hooked):
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    x = rand((2, 4), cr.float32)
    calls = []
    if kind == "forward hook":
        model[hooked].register_forward_hook(lambda m, args, out: calls.append(m))
    else:
        model[hooked].register_forward_pre_hook(lambda m, args: calls.append(m))
    out = model(x)
    assert calls == [model[hooked]]
    assert _node_names(out) == ["ReluBackward0", "LinearBackward0"]


@pytest.mark.parametrize("hooked, names", [
    (1, ["LinearChainBackward0", "ReluBackward0", "LinearBackward0"]),
    (2, ["LinearBackward0", "ReluBackward0", "LinearBackward0", "LinearChainBackward0"]),
])
def test_a_hooked_layer_inside_a_run_ends_it(hooked, names):
    layers = _mlp()
    model = nn.Sequential(*layers)
    calls = []
    model[hooked].register_forward_hook(lambda m, args, out: calls.append(m))
    x = rand((3, 4), cr.float32, seed=2)
    out = model(x)
    assert calls == [model[hooked]] and _node_names(out) == names
    tensors = [x, *model.parameters()]
    for fused, plain in zip(_gradients(out, tensors), _gradients(_layer_by_layer(layers, x), tensors), strict=True):
        np.testing.assert_array_equal(fused, plain)


def test_own_forward_of_subclass_instance_and_patched_class_is_used(monkeypatch):
    class Doubled(nn.Linear):
        def forward(self, input):
            return super().forward(input) * 2

    x = rand((2, 4), cr.float32)
    layer = nn.Linear(4, 3)
    doubled = Doubled(4, 3)
    doubled.load_state_dict(layer.state_dict())
    plain = nn.Sequential(layer, nn.ReLU())(x).detach().numpy()
    np.testing.assert_allclose(nn.Sequential(doubled, nn.ReLU())(x).detach().numpy(), 2 * plain, rtol=1e-6)

    instance = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    instance[1].forward = lambda input: input + 1
    np.testing.assert_array_equal(instance(x).detach().numpy(), instance[0](x).detach().numpy() + 1)

    monkeypatch.setattr(nn.Linear, "forward", lambda self, input: input[..., :3] - 1)
    np.testing.assert_array_equal(nn.Sequential(nn.Linear(4, 3), nn.ReLU())(x).detach().numpy(),
                                  np.maximum(x.detach().numpy()[..., :3] - 1, 0))


@pytest.mark.parametrize("make_input, message", [
    (lambda: cr.randn(2, 5), "cannot apply a weight of shape"),
    (lambda: cr.randn(2, 4, dtype=cr.float64), "must have the same dtype"),
    (lambda: (cr.randn(2, 4),), "expected tensors"),
])
def test_errors_are_the_layers_own(make_input, message):
    layers = [nn.Linear(4, 3), nn.ReLU()]
    with pytest.raises(cr.ChainruleError, match=message) as ordinary:
        _layer_by_layer(layers, make_input())
    with pytest.raises(cr.ChainruleError, match=message) as fused:
        nn.Sequential(*layers)(make_input())
    assert str(fused.value) == str(ordinary.value)


def test_training_a_fused_sequential_follows_the_ordinary_one():
    torch = require_torch()
    model = nn.Sequential(*_mlp(cr.float64))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 5), torch.nn.ReLU(),
                                 torch.nn.Linear(5, 3)).double()
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()})
    ours_opt = cr.optim.SGD(model.parameters(), lr=0.1)
    their_opt = torch.optim.SGD(theirs.parameters(), lr=0.1)
    rng = np.random.default_rng(0)
    for _ in range(5):
        x, y = rng.standard_normal((8, 4)), rng.integers(0, 3, 8)
        ours_opt.zero_grad()
        F.cross_entropy(model(cr.from_numpy(x)), cr.from_numpy(y)).backward()
        ours_opt.step()
        their_opt.zero_grad()
        torch.nn.functional.cross_entropy(theirs(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        their_opt.step()
    for ours, (_, reference) in zip(model.parameters(), theirs.named_parameters(), strict=True):
        assert_close(ours, reference)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("frozen", ["nothing", "weight", "input", "input and first weight", "input and first layer",
                                    "middle weight"])
def test_without_bias_and_with_frozen_tensors_the_gradients_are_the_ordinary_ones(bias, frozen):
    layers = _mlp(cr.float64, bias=bias)
    model = nn.Sequential(*layers)
    x = rand((6, 4), cr.float64, requires_grad="input" not in frozen, seed=9)
    if "first layer" in frozen:
        layers[0].requires_grad_(False)
    if "weight" in frozen and "middle" not in frozen:
        layers[0].weight.requires_grad_(False)
    if frozen == "middle weight":
        layers[2].weight.requires_grad_(False)
    out, ordinary = model(x), _layer_by_layer(layers, x)
    assert _node_names(out) == ["LinearChainBackward0"]
    tensors = [t for t in [x, *model.parameters()] if t.requires_grad]
    for fused, plain in zip(_gradients(out, tensors), _gradients(ordinary, tensors), strict=True):
        np.testing.assert_array_equal(fused, plain)


def test_a_later_layer_of_another_dtype_ends_the_run_and_raises_its_own_error():
    layers = [nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2, dtype=cr.float64)]
    x = rand((2, 4), cr.float32)
    with pytest.raises(cr.ChainruleError, match="must have the same dtype") as ordinary:
        _layer_by_layer(layers, x)
    with pytest.raises(cr.ChainruleError, match="must have the same dtype") as fused:
        nn.Sequential(*layers)(x)
    assert str(fused.value) == str(ordinary.value)


def test_a_weight_changed_in_place_after_the_forward_is_refused_as_by_the_layers():
    for run in (lambda layers, x: nn.Sequential(*layers)(x), _layer_by_layer):
        layers = _mlp()
        out = run(layers, rand((3, 4), cr.float32, seed=1))
        with cr.no_grad():
            layers[2].weight.add_(1.0)
        with pytest.raises(cr.ChainruleError, match="modified by an in-place operation"):
            out.sum().backward()


def test_the_output_of_a_run_ending_in_a_linear_can_be_changed_in_place_as_the_layers_allow():
    layers = _mlp(cr.float64)
    x = rand((3, 4), cr.float64, seed=4)
    grads = []
    for out in (nn.Sequential(*layers)(x), _layer_by_layer(layers, x)):
        out.mul_(2.0)  # nn.Linear keeps no output: changing it in place is allowed
        grads.append(_gradients(out, [x, *layers[0].parameters()]))
    for fused, plain in zip(*grads, strict=True):
        np.testing.assert_array_equal(fused, plain)
