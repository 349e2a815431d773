"""``Module``, ``Parameter`` and the containers: registration, traversal, modes, state dicts (round
trips, torch state dicts, errors), dtype conversion, hooks and reprs — against ``torch.nn`` where it
has the same thing."""

from __future__ import annotations

import copy
from collections import OrderedDict

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from tests.helpers import assert_close, require_torch


class Net(nn.Module):
    """A small model with a child, a nested container, a buffer and a parameter of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))
        self.heads = nn.ModuleList([nn.Linear(3, 2), nn.Linear(3, 2)])
        self.scale = nn.Parameter(cr.ones(2))
        self.register_buffer("mean", cr.zeros(4))
        self.register_buffer("cache", cr.zeros(1), persistent=False)

    def forward(self, x):
        h = self.body(x - self.mean)
        return sum(head(h) for head in self.heads) * self.scale


def torch_net(torch):
    class TorchNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
            self.heads = torch.nn.ModuleList([torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)])
            self.scale = torch.nn.Parameter(torch.ones(2))
            self.register_buffer("mean", torch.zeros(4))
            self.register_buffer("cache", torch.zeros(1), persistent=False)

        def forward(self, x):
            h = self.body(x - self.mean)
            return sum(head(h) for head in self.heads) * self.scale

    return TorchNet()


# ---------------------------------------------------------------------------- Parameter
def test_parameter_is_a_leaf_tensor_sharing_memory():
    data = cr.tensor([1.0, 2.0])
    p = nn.Parameter(data)
    assert isinstance(p, cr.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    data.add_(1.0)  # shares memory and version counter, as torch.nn.Parameter
    assert p.tolist() == [2.0, 3.0] and p._version == data._version == 1
    assert not nn.Parameter(cr.zeros(2), requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,)
    assert type(p * 2) is cr.Tensor and type(p.detach()) is cr.Tensor  # operations give plain tensors


def test_parameter_repr_matches_torch():
    torch = require_torch()
    for values, grad in [([1.5, 2.0], True), ([[1.0, 2.0], [3.0, 4.0]], False)]:
        ours = nn.Parameter(cr.tensor(values), requires_grad=grad)
        theirs = torch.nn.Parameter(torch.tensor(values), requires_grad=grad)
        assert repr(ours) == repr(theirs).replace("torch", "chainrule")


def test_parameter_gradients_accumulate_and_update_in_place():
    p = nn.Parameter(cr.tensor([1.0, -2.0, 3.0]))
    for _ in range(2):
        (p * p).sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), [4.0, -8.0, 12.0])  # 2 · 2p
    memory = p._data
    with cr.no_grad():
        p -= 0.25 * p.grad
    assert type(p) is nn.Parameter and p._data is memory and p.is_leaf
    np.testing.assert_array_equal(p.detach().numpy(), [0.0, 0.0, 0.0])
    with pytest.raises(cr.ChainruleError, match="leaf tensor that requires grad"):
        p.add_(1.0)


def test_parameter_rejects_bad_data_and_integer_gradients():
    with pytest.raises(cr.ChainruleError, match="expected a Tensor"):
        nn.Parameter([1.0, 2.0])
    with pytest.raises(cr.ChainruleError, match="floating point"):
        nn.Parameter(cr.tensor([1, 2]))
    assert nn.Parameter(cr.tensor([1, 2]), requires_grad=False).dtype == cr.int64


def test_parameter_deepcopy():
    p = nn.Parameter(cr.tensor([1.0, 2.0]))
    p.grad = cr.tensor([0.5, 0.5])
    q = copy.deepcopy(p)
    assert type(q) is nn.Parameter and q.requires_grad and not np.shares_memory(q._data, p._data)
    assert q.tolist() == p.tolist() and q.grad.tolist() == [0.5, 0.5]


# ---------------------------------------------------------------------------- registration
def test_attribute_assignment_registers_parameters_modules_and_buffers():
    net = Net()
    assert list(net._parameters) == ["scale"] and list(net._modules) == ["body", "heads"]
    assert list(net._buffers) == ["mean", "cache"]
    assert net.scale is net._parameters["scale"] and net.mean is net._buffers["mean"]
    assert "scale" not in net.__dict__ and "body" not in net.__dict__
    net.plain = cr.zeros(3)  # a plain tensor is an ordinary attribute, as in torch
    assert "plain" in net.__dict__ and "plain" not in net._buffers
    net.mean = cr.ones(4)  # assigning to a buffer's name replaces the buffer
    assert net._buffers["mean"].tolist() == [1.0] * 4
    net.scale = None
    assert net._parameters["scale"] is None and net.scale is None
    with pytest.raises(cr.ChainruleError, match="as parameter 'scale'"):
        net.scale = nn.Linear(1, 1)  # as torch: a registered parameter's name takes Parameters or None
    del net.scale
    net.scale = nn.Linear(1, 1)
    assert "scale" not in net._parameters and "scale" in net._modules
    net.body = nn.Parameter(cr.zeros(1))  # a parameter replaces a module of the same name
    assert "body" not in net._modules and "body" in net._parameters
    del net.scale, net.mean, net.plain
    assert "scale" not in net._modules and "mean" not in net._buffers and not hasattr(net, "plain")
    assert {"body", "heads", "cache"} <= set(dir(net)) and "scale" not in dir(net)


def test_registration_errors():
    class Early(nn.Module):
        def __init__(self) -> None:
            self.w = nn.Parameter(cr.zeros(1))

    with pytest.raises(cr.ChainruleError, match=r"before Module.__init__\(\)"):
        Early()

    class Forgot(nn.Module):
        def __init__(self) -> None:
            self.size = 3

        def forward(self, x):
            return x

    with pytest.raises(AttributeError, match=r"call super\(\).__init__\(\) first"):
        Forgot()(1)
    net = Net()
    with pytest.raises(cr.ChainruleError, match="as parameter 'scale'"):
        net.scale = cr.ones(2)
    with pytest.raises(cr.ChainruleError, match="as child module 'body'"):
        net.body = cr.ones(2)
    with pytest.raises(cr.ChainruleError, match="as buffer 'mean'"):
        net.mean = [1.0]
    with pytest.raises(cr.ChainruleError, match="already has an attribute 'scale'"):
        net.register_buffer("scale", cr.zeros(1))
    with pytest.raises(cr.ChainruleError, match='contain no "."'):
        net.register_parameter("a.b", nn.Parameter(cr.zeros(1)))
    with pytest.raises(cr.ChainruleError, match="Parameter or None"):
        net.register_parameter("d", cr.zeros(1))
    with pytest.raises(cr.ChainruleError, match="not a Module"):
        net.add_module("e", cr.zeros(1))
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'missing'"):
        net.missing  # noqa: B018
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(1)
    with pytest.raises(cr.ChainruleError, match="unexpected arguments"):
        nn.Module(3)


def test_traversal_names_and_order_match_torch():
    torch = require_torch()
    ours, theirs = Net(), torch_net(torch)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert [n for n, _ in ours.named_parameters(prefix="m", recurse=False)] == ["m.scale"]
    assert len(list(ours.parameters())) == 9 and len(list(ours.modules())) == 8
    assert [type(m).__name__ for m in ours.children()] == ["Sequential", "ModuleList"]
    assert list(ours.buffers(recurse=False))[0] is ours.mean


def test_shared_modules_and_parameters_are_listed_once():
    torch = require_torch()
    for lib in (nn, torch.nn):
        shared = lib.Linear(3, 3)
        model = lib.Sequential(shared, lib.ReLU(), shared)
        tied = lib.Sequential(lib.Linear(3, 3), lib.Linear(3, 3))
        tied[1].weight = tied[0].weight
        assert len(list(model.parameters())) == 2 and len(list(model.modules())) == 3
        assert [n for n, _ in tied.named_parameters()] == ["0.weight", "0.bias", "1.bias"]
        assert len(list(tied.named_parameters(remove_duplicate=False))) == 4
        assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_get_submodule_parameter_and_buffer():
    net = Net()
    assert net.get_submodule("body.2") is net.body[2] and net.get_submodule("") is net
    assert net.get_parameter("heads.1.bias") is net.heads[1].bias
    assert net.get_buffer("mean") is net.mean
    with pytest.raises(AttributeError, match="has no submodule 'nope'"):
        net.get_submodule("body.nope")
    with pytest.raises(AttributeError, match="has no parameter 'gain'"):
        net.get_parameter("body.0.gain")


def test_apply_visits_children_first():
    net = Net()
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "ReLU", "Linear", "Sequential", "Linear", "Linear", "ModuleList", "Net"]

    def init_zero(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)

    net.apply(init_zero)
    assert not np.any(net.body[0].weight.detach().numpy())


# ---------------------------------------------------------------------------- modes and gradients
def test_train_and_eval_propagate():
    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(0.5)))
    assert all(m.training for m in net.modules())
    assert net.eval() is net and not any(m.training for m in net.modules())
    assert net.train() is net and all(m.training for m in net.modules())
    net.train(False)
    assert not net[1][0].training
    with pytest.raises(cr.ChainruleError, match="True or False"):
        net.train("yes")


def test_zero_grad_and_requires_grad():
    net = Net()
    net(cr.randn(3, 4)).sum().backward()
    grads = {n: p.grad for n, p in net.named_parameters()}
    assert all(g is not None for g in grads.values())
    net.zero_grad(set_to_none=False)
    for name, p in net.named_parameters():
        assert p.grad is grads[name] and not np.any(p.grad.numpy())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.body.requires_grad_(False)
    net(cr.randn(3, 4)).sum().backward()
    assert all(p.grad is None for p in net.body.parameters())
    assert all(p.grad is not None for p in net.heads.parameters())


# ---------------------------------------------------------------------------- state dicts
def test_state_dict_keys_sharing_and_detached():
    torch = require_torch()
    net = Net()
    state = net.state_dict()
    assert isinstance(state, OrderedDict)
    assert list(state) == list(torch_net(torch).state_dict())  # persistent buffers only
    weight = state["body.0.weight"]
    assert type(weight) is cr.Tensor and not weight.requires_grad
    assert np.shares_memory(weight._data, net.body[0].weight._data)
    kept = net.state_dict(keep_vars=True)
    assert kept["scale"] is net.scale
    assert list(net.state_dict(prefix="model."))[:3] == ["model.scale", "model.mean", "model.body.0.weight"]


def test_state_dict_round_trip_copies_in_place():
    source, target = Net(), Net()
    with cr.no_grad():
        source.mean.fill_(0.5)
    params = dict(target.named_parameters())
    memory = {n: p._data for n, p in params.items()}
    result = target.load_state_dict(source.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    for (name, p), (_, q) in zip(source.named_parameters(), target.named_parameters()):
        assert q is params[name] and q._data is memory[name] and q.requires_grad  # same objects, same memory
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
    np.testing.assert_array_equal(target.mean.numpy(), 0.5)
    x = cr.randn(6, 4)
    np.testing.assert_array_equal(source(x).detach().numpy(), target(x).detach().numpy())
    # loading casts to the module's dtype, and takes NumPy arrays
    target.load_state_dict({k: v.numpy().astype(np.float64) for k, v in source.state_dict().items()})
    assert target.body[0].weight.dtype == cr.float32


def test_loading_a_torch_state_dict_gives_torch_outputs():
    torch = require_torch()
    theirs = torch_net(torch)
    ours = Net()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((7, 4)).astype(np.float32)
    assert_close(ours(cr.from_numpy(x)), theirs(torch.from_numpy(x)))
    # and back: our state dict loads into torch
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in Net().state_dict().items()})


def test_load_state_dict_errors_list_every_problem():
    net = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    state = net.state_dict()
    del state["2.bias"]
    state["0.weight"] = cr.zeros(4, 3)
    state["3.weight"] = cr.zeros(1)
    with pytest.raises(cr.ChainruleError) as error:
        net.load_state_dict(state)
    message = str(error.value)
    assert "for Sequential" in message and "strict=False" in message
    assert 'Missing key(s) in state_dict: "2.bias".' in message
    assert 'Unexpected key(s) in state_dict: "3.weight".' in message
    assert "size mismatch for 0.weight: copying a value of shape (4, 3)" in message
    assert "the shape in the current model is (2, 3)" in message
    before = net[2].weight.detach().numpy().copy()
    with pytest.raises(cr.ChainruleError, match="size mismatch"):  # shapes must match even when not strict
        net.load_state_dict(state, strict=False)
    np.testing.assert_array_equal(net[2].weight.detach().numpy(), before)  # nothing loaded on error
    state["0.weight"] = cr.ones(2, 3)
    missing, unexpected = net.load_state_dict(state, strict=False)
    assert (missing, unexpected) == (["2.bias"], ["3.weight"])
    np.testing.assert_array_equal(net[0].weight.detach().numpy(), 1.0)
    with pytest.raises(cr.ChainruleError, match='"0.bias": expected a Tensor or a NumPy array, got list'):
        net.load_state_dict({**net.state_dict(), "0.bias": [1.0, 2.0]})
    with pytest.raises(cr.ChainruleError, match="expected a dict"):
        net.load_state_dict([("0.bias", cr.zeros(2))])


def test_load_state_dict_error_matches_torchs_content():
    torch = require_torch()
    state = {"weight": np.zeros((3, 3), np.float32), "foo": np.zeros(1, np.float32)}
    with pytest.raises(RuntimeError) as theirs:
        torch.nn.Linear(2, 3).load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    with pytest.raises(cr.ChainruleError) as ours:
        nn.Linear(2, 3).load_state_dict(state)
    for line in ('Missing key(s) in state_dict: "bias".', 'Unexpected key(s) in state_dict: "foo".',
                 "size mismatch for weight"):
        assert line in str(theirs.value) and line in str(ours.value)


def test_load_state_dict_assign():
    net = nn.Linear(2, 2)
    new = {"weight": cr.ones(2, 2), "bias": cr.zeros(2)}
    net.load_state_dict(new, assign=True)
    assert isinstance(net.weight, nn.Parameter) and net.weight.requires_grad
    assert np.shares_memory(net.weight._data, new["weight"]._data)


# ---------------------------------------------------------------------------- dtype and device
def test_to_float64_keeps_parameter_objects_for_optimizers():
    net = Net()
    net.register_buffer("count", cr.tensor(3))
    optimizer = cr.optim.SGD(net.parameters(), lr=0.1)
    params = list(net.parameters())
    assert net.to(cr.float64) is net
    assert list(net.parameters()) == params and all(p.dtype == cr.float64 for p in params)
    assert net.mean.dtype == cr.float64 and net.count.dtype == cr.int64  # integer buffers stay
    x = cr.randn(2, 4, dtype=cr.float64)
    net(x).sum().backward()
    assert all(p.grad.dtype == cr.float64 for p in params)
    before = params[0].detach().numpy().copy()
    optimizer.step()
    assert not np.array_equal(before, params[0].detach().numpy())  # the optimizer updates the same objects
    assert net.float().mean.dtype == cr.float32 and params[0].dtype == cr.float32
    assert params[0].grad.dtype == cr.float32
    assert net.double().body[0].bias.dtype == cr.float64
    assert net.to("cpu") is net and net.to(device="cpu", dtype=cr.float32).scale.dtype == cr.float32
    assert net.to(cr.zeros(1, dtype=cr.float64)).scale.dtype == cr.float64
    assert net.cpu() is net


def test_to_rejects_integer_dtypes_and_other_devices():
    net = nn.Linear(2, 2)
    with pytest.raises(cr.ChainruleError, match="only floating dtypes"):
        net.to(cr.int64)
    with pytest.raises(cr.ChainruleError, match="CPU only"):
        net.to("cuda")
    with pytest.raises(cr.ChainruleError, match="CPU only"):
        net.cuda()
    with pytest.raises(cr.ChainruleError, match="memory_format"):
        net.to(memory_format="channels_last")


# ---------------------------------------------------------------------------- hooks
def test_forward_hooks():
    layer = nn.Linear(2, 2)
    calls = []
    pre = layer.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    post = layer.register_forward_hook(lambda m, args, out: calls.append(out.shape) or out + 1)
    out = layer(cr.ones(3, 2))
    np.testing.assert_allclose(out.detach().numpy(), np.broadcast_to(layer.bias.detach().numpy() + 1, (3, 2)))
    assert calls == [(3, 2)]
    pre.remove()
    post.remove()
    assert layer(cr.zeros(1, 2)).shape == (1, 2) and calls == [(3, 2)]
    with layer.register_forward_pre_hook(lambda m, args, kwargs: ((args[0] + 1,), kwargs), with_kwargs=True):
        np.testing.assert_allclose(layer(cr.zeros(1, 2)).detach().numpy(),
                                   F.linear(cr.ones(1, 2), layer.weight, layer.bias).detach().numpy())
    assert not layer._forward_pre_hooks
    order = []
    layer.register_forward_hook(lambda m, a, o: order.append("first"))
    layer.register_forward_hook(lambda m, a, o: order.append("prepended"), prepend=True)
    layer(cr.zeros(1, 2))
    assert order == ["prepended", "first"]


# ---------------------------------------------------------------------------- containers
def test_sequential_indexing_and_editing():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and list(seq) == [a, b, c] and seq[0] is a and seq[-1] is c
    assert isinstance(seq[1:], nn.Sequential) and list(seq[1:]) == [b, c]
    assert list(seq[1:]._modules) == ["1", "2"]  # slices keep their names, as in torch
    x = cr.randn(4, 2)
    np.testing.assert_array_equal(seq(x).detach().numpy(), c(b(a(x))).detach().numpy())
    with pytest.raises(IndexError, match="out of range"):
        seq[3]  # noqa: B018
    seq[1] = nn.Tanh()
    assert isinstance(seq[1], nn.Tanh)
    del seq[0]
    assert list(seq._modules) == ["0", "1"] and seq[1] is c
    seq.append(nn.Sigmoid()).insert(0, a)
    assert [type(m).__name__ for m in seq] == ["Linear", "Tanh", "Linear", "Sigmoid"]
    seq.insert(-1, nn.Identity())
    assert type(seq[3]).__name__ == "Identity"
    assert seq.pop(-1).__class__ is nn.Sigmoid and len(seq) == 4
    assert len(seq + nn.Sequential(nn.ReLU())) == 5
    seq.extend([nn.ReLU()])
    assert list(seq._modules) == ["0", "1", "2", "3", "4"]
    named = nn.Sequential(OrderedDict([("hidden", a), ("act", b)]))
    assert list(named._modules) == ["hidden", "act"] and named.hidden is a


def test_module_list_and_dict():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    assert isinstance(layers[:2], nn.ModuleList) and len(layers[:2]) == 2
    layers.append(nn.ReLU())
    layers += [nn.Tanh()]
    layers.insert(0, nn.Sigmoid())
    assert [type(m).__name__ for m in layers] == ["Sigmoid", "Linear", "Linear", "Linear", "ReLU", "Tanh"]
    del layers[1]
    assert list(layers._modules) == [str(i) for i in range(5)]
    assert isinstance(layers.pop(0), nn.Sigmoid) and len(layers) == 4
    with pytest.raises(IndexError):
        layers[10]  # noqa: B018
    with pytest.raises(cr.ChainruleError, match="iterable of modules"):
        layers.extend(nn.ReLU())
    assert "0" not in dir(layers)
    heads = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.ReLU()})
    heads["c"] = nn.Tanh()
    heads.update([("d", nn.Identity())])
    assert list(heads) == ["a", "b", "c", "d"] and "b" in heads and len(heads) == 4
    assert list(heads.keys()) == ["a", "b", "c", "d"] and isinstance(heads.pop("c"), nn.Tanh)
    assert [n for n, _ in heads.named_parameters()] == ["a.weight", "a.bias"]
    assert [type(v).__name__ for v in heads.values()] == ["Linear", "ReLU", "Identity"]
    del heads["d"]
    assert dict(heads.items()).keys() == {"a", "b"}
    heads.clear()
    assert len(heads) == 0


# ---------------------------------------------------------------------------- reprs
def _both(lib):
    """The same model built from ``lib`` (chainrule.nn or torch.nn)."""

    class Block(lib.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = lib.Linear(3, 3, bias=False)
            self.act = lib.GELU(approximate="tanh")

        def extra_repr(self) -> str:
            return "custom=1\nsecond line"

    return lib.Sequential(
        lib.Flatten(), lib.Linear(12, 8), lib.ReLU(), lib.Dropout(0.25),
        lib.Sequential(lib.Linear(8, 3), lib.LeakyReLU(0.2, inplace=True), lib.ELU(alpha=0.5), lib.SiLU()),
        lib.ModuleList([lib.Tanh(), lib.Tanh(), lib.Sigmoid(), lib.Identity()]),
        lib.ModuleDict({"soft": lib.Softmax(dim=1), "log": lib.LogSoftmax(dim=-1), "plus": lib.Softplus(2.0, 10.0)}),
        Block(), lib.Unflatten(1, (1, 3)), lib.ModuleList(), lib.ReLU(inplace=True))


def test_repr_matches_torch():
    torch = require_torch()
    assert repr(_both(nn)) == repr(_both(torch.nn))
    assert repr(nn.Module()) == repr(torch.nn.Module()) == "Module()"
