"""Factories: dtype inference, shapes, memory sharing and values, against torch's factories."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from tests.helpers import require_torch


def _same(make, values=True):
    """Build with chainrule and torch; compare dtype, shape and (optionally) values."""
    torch = require_torch()
    c, t = make(cr), make(torch)
    assert c.dtype.name == str(t.dtype).split(".")[1], (c.dtype, t.dtype)
    assert tuple(c.shape) == tuple(t.shape)
    if values:
        if c.is_floating_point():
            np.testing.assert_allclose(c.numpy(), t.numpy(), rtol=1e-6, atol=1e-7)
        else:
            np.testing.assert_array_equal(c.numpy(), t.numpy())
    return c


# ---------------------------------------------------------------------------- tensor(): dtype inference
TENSOR_DATA = {
    "floats": lambda m: m.tensor([1.0, 2.0]),
    "ints": lambda m: m.tensor([1, 2]),
    "bools": lambda m: m.tensor([True, False]),
    "ints and floats": lambda m: m.tensor([1, 2.5]),
    "bools and ints": lambda m: m.tensor([True, 2]),
    "nested": lambda m: m.tensor([[1.0, 2.0], [3.0, 4.0]]),
    "tuple": lambda m: m.tensor((1, 2, 3)),
    "float scalar": lambda m: m.tensor(3.5),
    "int scalar": lambda m: m.tensor(3),
    "bool scalar": lambda m: m.tensor(True),
    "empty": lambda m: m.tensor([]),
    "nested empty": lambda m: m.tensor([[], []]),
    "numpy float64": lambda m: m.tensor(np.array([1.0, 2.0])),
    "numpy int32": lambda m: m.tensor(np.array([1, 2], dtype=np.int32)),
    "numpy float16": lambda m: m.tensor(np.array([1, 2], dtype=np.float16)),
    "numpy float64 scalar": lambda m: m.tensor(np.float64(1.5)),
    "numpy int32 scalar": lambda m: m.tensor(np.int32(3)),
    "list of numpy float64 scalars": lambda m: m.tensor([np.float64(1.0), np.float64(2.0)]),
    "list of numpy float32 and float": lambda m: m.tensor([np.float32(1.0), 2.5]),
    "list of numpy int32 and int": lambda m: m.tensor([np.int32(1), 2]),
    "list of numpy int32": lambda m: m.tensor([np.int32(1), np.int32(2)]),
    "list of numpy float16 and float": lambda m: m.tensor([np.float16(1.0), 2.5]),
    "list of arrays": lambda m: m.tensor([np.array([1.0, 2.0]), np.array([3.0, 4.0])]),
    "array and list": lambda m: m.tensor([np.array([1, 2], dtype=np.int32), [3, 4]]),
    "list of 0-dim tensors": lambda m: m.tensor([m.tensor(1.0), m.tensor(2.0)]),
    "list of float64 tensor and float": lambda m: m.tensor([m.tensor(1.0, dtype=m.float64), 2.0]),
    "list of int32 tensor and int": lambda m: m.tensor([1, m.tensor(2, dtype=m.int32)]),
    "explicit dtype": lambda m: m.tensor([1, 2], dtype=m.float64),
    "explicit dtype float": lambda m: m.tensor([1, 2], dtype=float),
    "explicit dtype int": lambda m: m.tensor([1.7, 2.2], dtype=int),
    "from float64 tensor": lambda m: m.tensor(m.tensor([1.0, 2.0], dtype=m.float64)),
}


@pytest.mark.parametrize("case", sorted(TENSOR_DATA))
def test_tensor_dtype_inference_matches_torch(case):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns that a list of ndarrays is slow
        _same(TENSOR_DATA[case])


def test_tensor_copies_its_data():
    arr = np.array([1.0, 2.0])
    t = cr.tensor(arr)
    arr[0] = 9.0
    assert t.tolist() == [1.0, 2.0]
    src = cr.tensor([1.0, 2.0], requires_grad=True)
    copy = cr.tensor(src)
    assert not copy.requires_grad and copy.is_leaf
    assert not np.shares_memory(copy.numpy(), src.detach().numpy())


def test_tensor_requires_grad_and_errors():
    assert cr.tensor([1.0], requires_grad=True).requires_grad
    with pytest.raises(cr.ChainruleError, match="not rectangular"):
        cr.tensor([[1, 2], [3]])
    with pytest.raises(cr.ChainruleError, match="complex numbers are not supported"):
        cr.tensor([1 + 2j])
    with pytest.raises(cr.ChainruleError, match="cannot make a tensor from values of type str"):
        cr.tensor(["a", "b"])
    with pytest.raises(cr.ChainruleError, match="NoneType"):
        cr.tensor([None, 1.0])


def test_tensor_class_constructor_makes_default_float():
    assert cr.Tensor([1, 2]).dtype == cr.float32
    assert cr.Tensor([[1, 2]]).shape == (1, 2)


# ---------------------------------------------------------------------------- memory sharing
def test_from_numpy_shares_memory_both_ways():
    arr = np.zeros(3, dtype=np.float64)
    t = cr.from_numpy(arr)
    assert t.dtype == cr.float64
    arr[0] = 1.0
    t.numpy()[1] = 2.0
    assert t.tolist() == [1.0, 2.0, 0.0] and arr.tolist() == [1.0, 2.0, 0.0]
    strided = np.arange(12.0).reshape(3, 4).T  # a non-contiguous view is shared too
    assert np.shares_memory(cr.from_numpy(strided).numpy(), strided)
    with pytest.raises(cr.ChainruleError, match="expected a numpy.ndarray, got list"):
        cr.from_numpy([1.0, 2.0])


def test_as_tensor_shares_when_it_can():
    arr = np.array([1.0, 2.0], dtype=np.float32)
    t = cr.as_tensor(arr)
    arr[0] = 5.0
    assert t.tolist()[0] == 5.0
    assert cr.as_tensor(t) is t
    converted = cr.as_tensor(arr, dtype=cr.float64)  # a different dtype needs a copy
    assert converted.dtype == cr.float64 and not np.shares_memory(converted.numpy(), arr)
    assert cr.as_tensor([1, 2]).dtype == cr.int64
    assert cr.as_tensor(t, dtype=cr.float64).dtype == cr.float64
    with pytest.raises(cr.ChainruleError, match="device"):
        cr.as_tensor(arr, device="cuda")


# ---------------------------------------------------------------------------- shape factories
SHAPED = {
    "zeros": lambda m: m.zeros(2, 3),
    "zeros tuple": lambda m: m.zeros((2, 3)),
    "zeros list": lambda m: m.zeros([2, 3]),
    "zeros Size": lambda m: m.zeros(m.ones(2, 3).shape),
    "zeros 0-dim": lambda m: m.zeros(()),
    "zeros empty": lambda m: m.zeros(0, 4),
    "zeros int64": lambda m: m.zeros(2, dtype=m.int64),
    "zeros bool": lambda m: m.zeros(2, dtype=m.bool),
    "ones": lambda m: m.ones(4),
    "ones float64": lambda m: m.ones(2, 2, dtype=m.float64),
    "full int": lambda m: m.full((2, 2), 3),
    "full float": lambda m: m.full((2, 2), 3.5),
    "full bool": lambda m: m.full((2, 2), True),
    "full numpy float64 value": lambda m: m.full((2,), np.float64(1.5)),
    "full numpy int32 value": lambda m: m.full((2,), np.int32(3)),
    "full tensor value": lambda m: m.full((2,), m.tensor(3.0)),
    "full with dtype": lambda m: m.full((2, 2), 3, dtype=m.float64),
    "full list size": lambda m: m.full([3], 1.0),
    "zeros_like": lambda m: m.zeros_like(m.tensor([1, 2])),
    "ones_like float64": lambda m: m.ones_like(m.tensor([1.0, 2.0], dtype=m.float64)),
    "ones_like with dtype": lambda m: m.ones_like(m.tensor([1, 2]), dtype=m.float32),
    "full_like": lambda m: m.full_like(m.tensor([1, 2]), 7),
    "full_like truncates into int": lambda m: m.full_like(m.tensor([1, 2]), 7.7),
    "full_like float": lambda m: m.full_like(m.zeros(2, 2), 0.25),
    "eye": lambda m: m.eye(3),
    "eye rectangular": lambda m: m.eye(2, 4),
    "eye int64": lambda m: m.eye(3, dtype=m.int64),
    "eye empty": lambda m: m.eye(0),
}


@pytest.mark.parametrize("case", sorted(SHAPED))
def test_shape_factories_match_torch(case):
    _same(SHAPED[case])


@pytest.mark.parametrize("make", [lambda m: m.empty(2, 3), lambda m: m.empty((4,), dtype=m.float64),
                                  lambda m: m.empty_like(m.tensor([1, 2])), lambda m: m.empty(0)])
def test_empty_has_torchs_shape_and_dtype(make):
    _same(make, values=False)


def test_factories_requires_grad():
    for t in (cr.zeros(2, requires_grad=True), cr.ones(2, requires_grad=True), cr.full((2,), 1.0, requires_grad=True),
              cr.randn(2, requires_grad=True), cr.rand(2, requires_grad=True), cr.eye(2, requires_grad=True),
              cr.linspace(0, 1, 3, requires_grad=True), cr.arange(0.0, 2.0, requires_grad=True),
              cr.zeros_like(cr.ones(2), requires_grad=True), cr.randn_like(cr.ones(2), requires_grad=True)):
        assert t.requires_grad and t.is_leaf
    with pytest.raises(cr.ChainruleError, match="only floating point"):
        cr.zeros(2, dtype=cr.int64, requires_grad=True)


def test_size_errors():
    with pytest.raises(cr.ChainruleError, match="negative dimension"):
        cr.zeros(-1)
    with pytest.raises(cr.ChainruleError, match="expected integers"):
        cr.zeros(2, 3.5)
    with pytest.raises(cr.ChainruleError, match="expected integers"):
        cr.ones("a")


# ---------------------------------------------------------------------------- arange, linspace
ARANGE_ARGS = [(5,), (1, 5), (0, 10, 3), (10, 0, -3), (5, 5), (0, 1, 0.1), (0.0, 1.0, 0.1), (0, 0.3, 0.1),
               (1, 2.5, 0.5), (-1, 1, 0.3), (0, 1, 1 / 3), (0.5, 4), (1.0, 0.0, -0.25), (0, 5, 1.0),
               (1.5, 10.1, 0.7), (10, 0, -0.7), (0, 1e-3, 1e-4), (np.int64(4),), (np.float32(2.5),)]


@pytest.mark.parametrize("args", ARANGE_ARGS, ids=str)
@pytest.mark.parametrize("dtype", [None, "float64", "int64"])
def test_arange_matches_torch(args, dtype):
    torch = require_torch()
    if dtype == "int64" and len(args) == 3 and 0 < abs(args[2]) < 1:
        with pytest.raises((RuntimeError, ValueError), match="step must be nonzero"):  # torch truncates it to 0
            torch.arange(*args, dtype=torch.int64)
        with pytest.raises(cr.ChainruleError, match="step must be nonzero"):
            cr.arange(*args, dtype=cr.int64)
        return
    c = cr.arange(*args, **({} if dtype is None else {"dtype": getattr(cr, dtype)}))
    t = torch.arange(*args, **({} if dtype is None else {"dtype": getattr(torch, dtype)}))
    assert c.dtype.name == str(t.dtype).split(".")[1] and c.shape == tuple(t.shape)
    np.testing.assert_allclose(c.numpy(), t.numpy(), rtol=1e-6, atol=1e-12)


def test_arange_accepts_tensor_bounds():
    torch = require_torch()
    for make in (lambda m: m.arange(m.tensor(3)), lambda m: m.arange(m.tensor(1.5)),
                 lambda m: m.arange(0, m.tensor(6), 2)):
        _same(make)


def test_arange_errors_like_torch():
    torch = require_torch()
    for args, message in [((0, 5, 0), "step must be nonzero"), ((1, 0), "sign of step"),
                          ((0, 5, -1), "sign of step"), ((0, float("inf")), "finite"), ((0, 1, float("nan")), "finite")]:
        with pytest.raises(RuntimeError):
            torch.arange(*args)
        with pytest.raises(cr.ChainruleError, match=message):
            cr.arange(*args)


LINSPACE_ARGS = [(0, 1, 5), (0, 1, 7), (-3.3, 7.1, 13), (0, 10, 11), (1, 0, 4), (0.1, 0.9, 100), (0, 1, 1),
                 (-1, 1, 0), (0.0, 1e-3, 3)]


@pytest.mark.parametrize("args", LINSPACE_ARGS, ids=str)
@pytest.mark.parametrize("dtype", [None, "float64", "int64"])
def test_linspace_matches_torch(args, dtype):
    _same(lambda m: m.linspace(*args, **({} if dtype is None else {"dtype": getattr(m, dtype)})))


def test_linspace_negative_steps():
    with pytest.raises(cr.ChainruleError, match="non-negative"):
        cr.linspace(0, 1, -1)


# ---------------------------------------------------------------------------- random factories: shapes and dtypes
RANDOM = {
    "rand": lambda m: m.rand(2, 3),
    "rand tuple": lambda m: m.rand((2, 3)),
    "rand float64": lambda m: m.rand(4, dtype=m.float64),
    "rand float16": lambda m: m.rand(4, dtype=m.float16),
    "randn": lambda m: m.randn(2, 3),
    "randn 0-dim": lambda m: m.randn(()),
    "randn float64": lambda m: m.randn(3, dtype=m.float64),
    "randint": lambda m: m.randint(0, 10, (3,)),
    "randint high only": lambda m: m.randint(10, (2, 3)),
    "randint keywords": lambda m: m.randint(high=5, size=(3,)),
    "randint int32": lambda m: m.randint(0, 10, (3,), dtype=m.int32),
    "randint float32": lambda m: m.randint(0, 10, (3,), dtype=m.float32),
    "randperm": lambda m: m.randperm(5),
    "randperm empty": lambda m: m.randperm(0),
    "randperm int32": lambda m: m.randperm(4, dtype=m.int32),
    "rand_like": lambda m: m.rand_like(m.ones(2, dtype=m.float64)),
    "randn_like": lambda m: m.randn_like(m.ones(2, 2)),
    "randint_like": lambda m: m.randint_like(m.ones(2), 0, 5),
    "randint_like high only": lambda m: m.randint_like(m.ones(3, dtype=m.int64), 5),
    "normal": lambda m: m.normal(0.0, 1.0, (2, 3)),
}


@pytest.mark.parametrize("case", sorted(RANDOM))
def test_random_factories_have_torchs_shape_and_dtype(case):
    _same(RANDOM[case], values=False)


def test_random_values_are_in_range():
    values = cr.rand(10000).numpy()
    assert values.min() >= 0.0 and values.max() < 1.0 and abs(values.mean() - 0.5) < 0.02
    n = cr.randn(20000, dtype=cr.float64).numpy()
    assert abs(n.mean()) < 0.03 and abs(n.std() - 1.0) < 0.03
    k = cr.randint(3, 7, (5000,)).numpy()
    assert set(np.unique(k)) == {3, 4, 5, 6}
    assert sorted(cr.randperm(50).tolist()) == list(range(50))
    g = cr.normal(2.0, 0.5, (20000,)).numpy()
    assert abs(g.mean() - 2.0) < 0.03 and abs(g.std() - 0.5) < 0.03


def test_random_factory_errors():
    with pytest.raises(cr.ChainruleError, match=r"high \(5\) must be greater than low \(5\)"):
        cr.randint(5, 5, (2,))
    with pytest.raises(cr.ChainruleError, match="pass a size"):
        cr.randint(0, 10)
    with pytest.raises(cr.ChainruleError, match="float dtype"):
        cr.rand(2, dtype=cr.int64)
    with pytest.raises(cr.ChainruleError, match="float dtype"):
        cr.randn(2, dtype=cr.bool)
    with pytest.raises(cr.ChainruleError, match="non-negative"):
        cr.randperm(-1)
