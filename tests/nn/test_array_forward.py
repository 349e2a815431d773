"""``Sequential`` under ``no_grad`` runs registered layers on arrays: the same results as the ordinary
calls (exactly, and against torch), the same errors, and the ordinary call wherever a layer has hooks,
its own ``forward`` (subclass, instance or patched class) or in-place work to do."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
from tests.helpers import assert_close, rand, require_torch

CHAINS = {
    "mlp": lambda dtype: [nn.Linear(4, 6, dtype=dtype), nn.ReLU(), nn.Linear(6, 5, dtype=dtype), nn.ReLU(),
                          nn.Linear(5, 3, dtype=dtype)],
    "activations": lambda dtype: [nn.Linear(4, 5, bias=False, dtype=dtype), nn.Tanh(), nn.Sigmoid(),
                                  nn.Linear(5, 2, dtype=dtype)],
    "unregistered between": lambda dtype: [nn.Linear(4, 6, dtype=dtype), nn.Softplus(), nn.ReLU(),
                                           nn.Linear(6, 3, dtype=dtype)],
}


def _layer_by_layer(layers, x):
    """The chain's output through ordinary module calls (recorded, then detached)."""
    for layer in layers:
        x = layer(x)
    return x.detach()


def _no_grad(model, x):
    with cr.no_grad():
        return model(x)


def _raise(*args, **kwargs):
    raise AssertionError("the ordinary call ran")


@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
@pytest.mark.parametrize("shape", [(1, 4), (7, 4), (2, 3, 4), (4,), (0, 4)])
@pytest.mark.parametrize("chain", CHAINS)
def test_no_grad_sequential_equals_the_ordinary_calls_and_torch(chain, shape, dtype):
    torch = require_torch()
    layers = CHAINS[chain](dtype)
    model = nn.Sequential(*layers)
    x = rand(shape, dtype, requires_grad=False, seed=3)
    out = _no_grad(model, x)
    assert type(out) is cr.Tensor and not out.requires_grad and out.dtype == dtype
    np.testing.assert_array_equal(out.numpy(), _layer_by_layer(layers, x).numpy())
    theirs = torch.nn.Sequential(*[{"Linear": lambda m: torch.nn.Linear(m.in_features, m.out_features,
                                                                         bias=m.bias is not None),
                                    "ReLU": lambda m: torch.nn.ReLU(), "Tanh": lambda m: torch.nn.Tanh(),
                                    "Sigmoid": lambda m: torch.nn.Sigmoid(),
                                    "Softplus": lambda m: torch.nn.Softplus()}[type(m).__name__](m)
                                   for m in layers]).to(getattr(torch, dtype.numpy.name))
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()})
    with torch.no_grad():
        assert_close(out, theirs(torch.from_numpy(x.numpy().copy())))


def test_registered_layers_skip_the_module_calls_under_no_grad(monkeypatch):
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2), nn.Tanh(), nn.Sigmoid())
    x = rand((2, 4), cr.float32, requires_grad=False)
    expected = _layer_by_layer(model, x)
    for cls in (nn.Linear, nn.ReLU, nn.Tanh, nn.Sigmoid):
        monkeypatch.setattr(cls, "__call__", _raise)
    np.testing.assert_array_equal(_no_grad(model, x).numpy(), expected.numpy())
    with pytest.raises(AssertionError, match="ordinary call"):
        model(x)  # grad mode: the ordinary calls


def test_output_is_a_new_array_and_the_input_is_untouched():
    model = nn.Sequential(nn.ReLU(), nn.Tanh())
    x = rand((3, 4), cr.float32, requires_grad=False)
    before = x.numpy().copy()
    out = _no_grad(model, x)
    assert not np.shares_memory(out.numpy(), x.numpy())
    np.testing.assert_array_equal(x.numpy(), before)
    np.testing.assert_array_equal(out.numpy(), np.tanh(np.maximum(before, 0)))


@pytest.mark.parametrize("kind", ["forward hook", "forward pre-hook"])
def test_hooks_are_called(kind):
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    x = rand((2, 4), cr.float32, requires_grad=False)
    calls = []
    if kind == "forward hook":
        handle = model[1].register_forward_hook(lambda m, args, out: calls.append(m) or out * 2)
    else:
        handle = model[1].register_forward_pre_hook(lambda m, args: calls.append(m) or (args[0] * 2,))
    hooked = _no_grad(model, x)
    assert calls == [model[1]]
    np.testing.assert_allclose(hooked.numpy(), _layer_by_layer(model, x).numpy(), rtol=1e-6)
    handle.remove()
    plain = _no_grad(model, x)
    assert len(calls) == 2 and not np.allclose(plain.numpy(), hooked.numpy())


def test_own_forward_of_subclass_instance_and_patched_class_is_used(monkeypatch):
    class Doubled(nn.Linear):
        def forward(self, input):
            return super().forward(input) * 2

    x = rand((2, 4), cr.float32, requires_grad=False)
    layer = nn.Linear(4, 3)
    doubled = Doubled(4, 3)
    doubled.load_state_dict(layer.state_dict())
    plain = _no_grad(nn.Sequential(layer), x).numpy()
    np.testing.assert_allclose(_no_grad(nn.Sequential(doubled), x).numpy(), 2 * plain, rtol=1e-6)

    instance = nn.Sequential(nn.ReLU())
    instance[0].forward = lambda input: input + 1
    np.testing.assert_array_equal(_no_grad(instance, x).numpy(), x.numpy() + 1)

    monkeypatch.setattr(nn.ReLU, "forward", lambda self, input: input - 1)
    np.testing.assert_array_equal(_no_grad(nn.Sequential(nn.ReLU()), x).numpy(), x.numpy() - 1)


def test_inplace_relu_changes_the_input_as_the_ordinary_call_does():
    x = cr.tensor([[-1.0, 2.0, -3.0]])
    version = x._version
    out = _no_grad(nn.Sequential(nn.ReLU(inplace=True), nn.Linear(3, 2)), x)
    np.testing.assert_array_equal(x.numpy(), [[0.0, 2.0, 0.0]])
    assert x._version > version and out.shape == (1, 2)
    middle = nn.Sequential(nn.Linear(3, 3), nn.ReLU(inplace=True), nn.Linear(3, 1))
    y = cr.tensor([[1.0, -2.0, 0.5]])
    np.testing.assert_array_equal(_no_grad(middle, y).numpy(), _layer_by_layer(middle, y).numpy())


@pytest.mark.parametrize("make_input, message", [
    (lambda: cr.randn(2, 5), "cannot apply a weight of shape"),
    (lambda: cr.randn(2, 4, dtype=cr.float64), "must have the same dtype"),
    (lambda: (cr.randn(2, 4),), "expected tensors"),
])
def test_errors_are_the_layers_own(make_input, message):
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    with pytest.raises(cr.ChainruleError, match=message) as ordinary:
        model(make_input())
    with pytest.raises(cr.ChainruleError, match=message) as under_no_grad:
        _no_grad(model, make_input())
    assert str(under_no_grad.value) == str(ordinary.value)


def test_error_in_a_later_layer_is_that_layers_own():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(5, 2))
    with pytest.raises(cr.ChainruleError, match=r"\(out_features, in_features\) = \(2, 5\)"):
        _no_grad(model, cr.randn(2, 4))


def test_integer_input_of_floating_activations_is_converted():
    model = nn.Sequential(nn.Tanh(), nn.Sigmoid())
    x = cr.tensor([[0, 1, -2]])
    out = _no_grad(model, x)
    assert out.dtype == cr.get_default_dtype()
    np.testing.assert_array_equal(out.numpy(), _layer_by_layer(model, x).numpy())
