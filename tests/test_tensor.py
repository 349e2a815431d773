"""The Tensor API: metadata, conversions, devices, repr (against torch's text) and its errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from tests.helpers import require_torch


# ---------------------------------------------------------------------------- metadata
def test_shape_size_ndim_numel():
    x = cr.zeros(2, 3, 4)
    assert isinstance(x.shape, cr.Size) and isinstance(x.shape, tuple)
    assert x.shape == (2, 3, 4) and x.size() == (2, 3, 4) and isinstance(x.size(), cr.Size)
    assert x.size(0) == 2 and x.size(-1) == 4 and x.size(1) == 3
    assert x.ndim == 3 and x.dim() == 3 and x.numel() == 24 and x.shape.numel() == 24
    assert repr(x.shape) == "chainrule.Size([2, 3, 4])"
    scalar = cr.tensor(1.5)
    assert scalar.shape == () and scalar.ndim == 0 and scalar.numel() == 1
    assert cr.zeros(0, 3).numel() == 0
    with pytest.raises(cr.ChainruleError, match=r"size: dimension 3 is out of range .*\[-3, 2\]"):
        x.size(3)


def test_dtype_device_and_is_floating_point():
    x = cr.tensor([1.0, 2.0])
    assert x.dtype == cr.float32 and x.is_floating_point()
    assert not cr.tensor([1]).is_floating_point()
    assert x.device == cr.device("cpu") and x.device == "cpu" and str(x.device) == "cpu"
    assert repr(x.device) == "device(type='cpu')"
    assert x.element_size() == 4 and x.double().element_size() == 8


def test_transpose_property():
    torch = require_torch()
    data = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(cr.tensor(data).T.numpy(), torch.tensor(data).T.numpy())
    assert cr.tensor(data).T.shape == (3, 2)


def test_leaf_status_requires_grad_and_grad_fn():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    c = cr.tensor([1.0, 2.0])
    assert x.is_leaf and c.is_leaf and x.grad_fn is None and x.grad is None
    y = x * 2
    assert not y.is_leaf and y.requires_grad
    assert (c * 2).is_leaf and not (c * 2).requires_grad
    names = {type(f).__name__ if not hasattr(f, "name") else f.name()
             for f in ((x * 2).grad_fn, (x + 1).grad_fn, (x / 2).grad_fn, x.exp().grad_fn, x.sum().grad_fn)}
    assert names == {"MulBackward0", "AddBackward0", "DivBackward0", "ExpBackward0", "SumBackward0"}
    assert repr((x * 2).grad_fn) == "<MulBackward0>"
    assert (x @ x).grad_fn.name() == "MatmulBackward0"


def test_grad_fn_next_functions():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = (y + x).sum()
    add_node = z.grad_fn.next_functions[0][0]
    assert add_node.name() == "AddBackward0"
    assert add_node.next_functions[0][0].name() == "MulBackward0"
    assert add_node.next_functions[1][0] is None  # x is a leaf


def test_data_is_a_detached_view():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    d = x.data
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    assert np.shares_memory(d.numpy(), x.detach().numpy())
    d.numpy()[0] = 10.0
    assert x.tolist() == [10.0, 2.0, 3.0]
    x.data = cr.tensor([4.0, 5.0, 6.0])  # assigning .data swaps the values, keeps the leaf
    assert x.tolist() == [4.0, 5.0, 6.0] and x.requires_grad and x.is_leaf


def test_detach_shares_memory_and_leaves_the_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert np.shares_memory(d.numpy(), y.detach().numpy())
    (y * d).sum().backward()  # d is a constant: d(y*d)/dx = 3 * d
    np.testing.assert_array_equal(x.grad.numpy(), [9.0, 18.0])


# ---------------------------------------------------------------------------- conversions
def test_numpy_shares_memory():
    x = cr.tensor([1.0, 2.0])
    a = x.numpy()
    a[1] = 7.0
    assert x.tolist() == [1.0, 7.0]
    arr = np.array([1.0, 2.0])
    assert cr.from_numpy(arr).numpy() is arr


def test_numpy_refuses_tensors_that_require_grad():
    torch = require_torch()
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError):
        torch.tensor([1.0], requires_grad=True).numpy()
    with pytest.raises(cr.ChainruleError, match=r"requires grad; call \.detach\(\)\.numpy\(\)"):
        x.numpy()
    forced = x.numpy(force=True)
    forced[0] = 5.0
    assert x.tolist() == [1.0, 2.0]  # force=True copies
    np.testing.assert_array_equal(x.detach().numpy(), [1.0, 2.0])


def test_array_protocol():
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    a = np.asarray(x)
    assert a.dtype == np.float32 and np.shares_memory(a, x.numpy())
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    assert not np.shares_memory(np.array(x), x.numpy())  # np.array copies
    np.testing.assert_array_equal(np.asarray(cr.tensor(3)), np.array(3))


def test_array_protocol_refuses_tensors_that_require_grad():
    # as torch: np.asarray would silently drop the tensor out of the graph
    torch = require_torch()
    with pytest.raises(RuntimeError):
        np.asarray(torch.tensor([1.0], requires_grad=True))
    with pytest.raises(RuntimeError):
        np.asarray(cr.tensor([1.0], requires_grad=True))


def test_item_and_tolist_match_torch():
    torch = require_torch()
    for data in (2.5, 3, True, [[1.5, 2.0], [3.0, 4.0]], [[1, 2]], [True, False], []):
        c, t = cr.tensor(data), torch.tensor(data)
        assert c.tolist() == t.tolist()
        assert type(c.tolist()) is type(t.tolist())
        if c.numel() == 1:
            assert c.item() == t.item() and type(c.item()) is type(t.item())
    assert cr.tensor([[7.5]]).item() == 7.5
    with pytest.raises(cr.ChainruleError, match=r"only one-element tensors .* got shape \(3,\)"):
        cr.tensor([1.0, 2.0, 3.0]).item()


def test_python_number_protocols():
    assert float(cr.tensor([2.5])) == 2.5 and int(cr.tensor(3.7)) == 3
    assert bool(cr.tensor([1])) and not bool(cr.tensor(0.0))
    assert [10, 20, 30][cr.tensor(1)] == 20
    assert len(cr.zeros(4, 2)) == 4 and [t.shape for t in cr.zeros(2, 3)] == [(3,), (3,)]
    with pytest.raises(cr.ChainruleError, match="ambiguous"):
        bool(cr.tensor([1, 2]))
    with pytest.raises(cr.ChainruleError, match="zero-dimensional"):
        len(cr.tensor(1.0))


def test_to_dtype_and_shortcuts():
    torch = require_torch()
    x = cr.tensor([1.7, -2.2, 0.0])
    t = torch.tensor([1.7, -2.2, 0.0])
    for name in ("float", "double", "long", "int", "half", "bool"):
        c, e = getattr(x, name)(), getattr(t, name)()
        assert c.dtype.name == str(e.dtype).split(".")[1], name
        np.testing.assert_array_equal(c.numpy(), e.numpy())
    assert x.to(cr.float64).dtype == cr.float64
    assert x.to(dtype=cr.int32).dtype == cr.int32
    assert x.to(cr.tensor([1], dtype=cr.int64)).dtype == cr.int64  # to(other) takes other's dtype
    assert x.to(cr.float32) is x and x.float() is x  # no conversion: the same tensor, as torch
    assert x.to(cr.float32, copy=True) is not x
    assert x.type_as(cr.tensor([1.0], dtype=cr.float64)).dtype == cr.float64


def test_to_keeps_the_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x.to(cr.float64)
    assert y.grad_fn is not None and y.dtype == cr.float64
    (y * y).sum().backward()
    assert x.grad.dtype == cr.float32
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


def test_cpu_device_accepted_everywhere():
    x = cr.tensor([1.0], device="cpu")
    assert x.to("cpu") is x and x.to(device="cpu") is x and x.cpu() is x
    assert x.to("cpu", cr.float64).dtype == cr.float64
    assert cr.zeros(2, device=cr.device("cpu")).shape == (2,)
    assert cr.ones(2, device="cpu:0").shape == (2,)


@pytest.mark.parametrize("make", [
    lambda: cr.tensor([1.0]).to("cuda"),
    lambda: cr.tensor([1.0]).to(device="cuda:0"),
    lambda: cr.tensor([1.0], device="cuda"),
    lambda: cr.zeros(2, device="cuda"),
    lambda: cr.randn(2, device="mps"),
    lambda: cr.device("cuda"),
])
def test_other_devices_raise_clearly(make):
    with pytest.raises(cr.ChainruleError, match=r"device: '(cuda|cuda:0|mps)' is not available.*CPU"):
        make()


# ---------------------------------------------------------------------------- requires_grad
def test_requires_grad_on_integer_tensors_is_an_error():
    torch = require_torch()
    with pytest.raises(RuntimeError, match="floating point"):
        torch.tensor([1, 2]).requires_grad_()
    with pytest.raises(cr.ChainruleError, match=r"only floating point tensors .*int64.*\.float\(\)"):
        cr.tensor([1, 2]).requires_grad_()
    with pytest.raises(cr.ChainruleError, match="only floating point tensors"):
        cr.tensor([1, 2], requires_grad=True)
    with pytest.raises(cr.ChainruleError, match="only floating point tensors"):
        cr.zeros(2, dtype=cr.bool, requires_grad=True)
    assert cr.tensor([1, 2]).requires_grad_(False).requires_grad is False


def test_requires_grad_flag():
    x = cr.tensor([1.0])
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    y = cr.tensor([1.0], requires_grad=True) * 2
    with pytest.raises(cr.ChainruleError, match=r"produced by an operation \(MulBackward0\).*detach"):
        y.requires_grad_(False)


def test_matmul_shape_mismatch_message():
    with pytest.raises(cr.ChainruleError, match=r"matmul: cannot multiply \(3, 4\) by \(5, 2\): inner dimensions 4 and 5 differ"):
        cr.ones(3, 4) @ cr.ones(5, 2)


def test_pickling_is_refused():
    import pickle

    with pytest.raises(cr.ChainruleError, match="safetensors"):
        pickle.dumps(cr.zeros(2))


# ---------------------------------------------------------------------------- repr, against torch's text
def _reprs(make):
    torch = require_torch()
    return repr(make(cr)).replace("chainrule.", "torch."), repr(make(torch))


REPR_CASES = {
    "float32": lambda m: m.tensor([1.5, 2.25, -3.0]),
    "float32 integral": lambda m: m.tensor([1.0, 2.0, 3.0]),
    "float32 2d": lambda m: m.tensor([[1.0, 2.5], [3.0, 4.0]]),
    "float32 0-dim": lambda m: m.tensor(3.5),
    "float32 small and large": lambda m: m.tensor([1e-5, 1.0]),
    "float32 wide range": lambda m: m.tensor([123456.0, 1.5]),
    "float32 negative": lambda m: m.tensor([-1.0, 100.0]),
    "float32 precision": lambda m: m.tensor([0.1, 0.123456789]),
    "float32 zeros": lambda m: m.zeros(3),
    "float64": lambda m: m.tensor([1.0, 2.0], dtype=m.float64),
    "float64 2d": lambda m: m.tensor([[1.5, 2.0], [3.0, 4.0]], dtype=m.float64),
    "float16": lambda m: m.tensor([1.0, 2.5], dtype=m.float16),
    "int64": lambda m: m.tensor([1, 2, 3]),
    "int64 2d": lambda m: m.tensor([[1, -20], [300, 4]]),
    "int64 0-dim": lambda m: m.tensor(3),
    "int32": lambda m: m.tensor([1, 2], dtype=m.int32),
    "uint8": lambda m: m.tensor([0, 255], dtype=m.uint8),
    "bool": lambda m: m.tensor([True, False]),
    "bool 0-dim": lambda m: m.tensor(True),
    "requires_grad": lambda m: m.tensor([1.0, 2.0], requires_grad=True),
    "requires_grad float64": lambda m: m.tensor([1.5], dtype=m.float64, requires_grad=True),
    "grad_fn": lambda m: m.tensor([1.0, 2.0], requires_grad=True) * 2,
    "grad_fn 0-dim": lambda m: m.tensor(2.0, requires_grad=True).exp(),
    "empty": lambda m: m.tensor([]),
    "empty 2d": lambda m: m.zeros(2, 0),
    "empty float64": lambda m: m.zeros(0, dtype=m.float64),
    "3d": lambda m: m.arange(24).reshape(2, 3, 4),
    "nan inf": lambda m: m.tensor([float("nan"), float("inf"), 1.5]),
    "nan inf integral": lambda m: m.tensor([float("nan"), float("-inf"), 1.0]),
    "large integral": lambda m: m.tensor([1e10, 1.0]),
    "empty int64": lambda m: m.tensor([], dtype=m.int64),
    "long row wraps": lambda m: m.arange(40.0) / 3,
    "summarised": lambda m: m.arange(2000),
    "summarised 2d": lambda m: m.arange(3000.0).reshape(60, 50) / 7,
    "suffix wraps": lambda m: (m.arange(10.0, dtype=m.float64) / 3).requires_grad_(),
}


@pytest.mark.parametrize("case", sorted(REPR_CASES))
def test_repr_matches_torch(case):
    ours, theirs = _reprs(REPR_CASES[case])
    assert ours == theirs
