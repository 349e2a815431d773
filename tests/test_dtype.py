"""Dtypes and type promotion, against ``torch.promote_types``/``torch.result_type`` and torch's results.

The operand grid covers dimensioned tensors, zero-dimensional tensors, Python scalars, NumPy arrays and
NumPy scalars. PyTorch's own handling of NumPy operands is an accident of NumPy's dispatch (an
``ndarray`` on the left computes in NumPy and promotes float32 to float64), so the oracle is the rule
chainrule documents: an ``ndarray`` behaves as a tensor of its dtype and a NumPy scalar as the Python
scalar of its kind — what torch does for ``torch.from_numpy(a)`` and ``a.item()``.
"""

from __future__ import annotations

import itertools
import operator

import numpy as np
import pytest

import chainrule as cr
from tests.helpers import require_torch

NAMES = ["float16", "float32", "float64", "uint8", "int8", "int16", "int32", "int64", "bool"]


def _torch_dtype_name(t):
    return str(t.dtype).split(".")[1]


# ---------------------------------------------------------------------------- the dtype objects
def test_dtype_aliases_and_attributes():
    torch = require_torch()
    assert cr.float is cr.float32 and cr.double is cr.float64 and cr.half is cr.float16
    assert cr.long is cr.int64 and cr.int is cr.int32 and cr.short is cr.int16
    for name in NAMES:
        d, t = getattr(cr, name), getattr(torch, name)
        assert repr(d) == f"chainrule.{name}"
        assert d.is_floating_point == t.is_floating_point, name
        assert d.is_signed == t.is_signed, name
        assert d.itemsize == t.itemsize, name
        assert d == np.dtype(name) and d == name and hash(d) == hash(np.dtype(name))
    assert cr.float32 != cr.float64 and cr.float32 != "int64" and cr.float32 != object()


def test_python_types_as_dtype_arguments():
    torch = require_torch()
    for py in (float, int, bool):
        assert cr.tensor([1, 0]).to(py).dtype.name == _torch_dtype_name(torch.tensor([1, 0]).to(py))
        assert cr.zeros(2, dtype=py).dtype.name == _torch_dtype_name(torch.zeros(2, dtype=py))
    assert cr.tensor([1], dtype="float64").dtype == cr.float64
    assert cr.tensor([1], dtype=np.float32).dtype == cr.float32


def test_unsupported_dtypes_raise_clearly():
    with pytest.raises(cr.ChainruleError, match="complex64 is not supported"):
        cr.tensor([1], dtype="complex64")
    with pytest.raises(cr.ChainruleError, match="'foo' is not a dtype"):
        cr.zeros(2, dtype="foo")
    with pytest.raises(cr.ChainruleError, match="uint16 is not supported"):
        cr.from_numpy(np.zeros(2, np.uint16))


def test_default_dtype_round_trip():
    assert cr.get_default_dtype() is cr.float32
    cr.set_default_dtype(cr.float64)
    try:
        assert cr.tensor([1.5]).dtype == cr.float64
        assert cr.zeros(2).dtype == cr.float64 and cr.arange(0.5, 2).dtype == cr.float64
        assert (cr.tensor([1, 2]) / 2).dtype == cr.float64
        assert (cr.tensor([1, 2]) * 0.5).dtype == cr.float64
    finally:
        cr.set_default_dtype(cr.float32)
    assert cr.tensor([1.5]).dtype == cr.float32
    with pytest.raises(cr.ChainruleError, match="not a floating dtype"):
        cr.set_default_dtype(cr.int64)


@pytest.mark.parametrize("a,b", list(itertools.product(NAMES, NAMES)))
def test_promote_types_matches_torch(a, b):
    torch = require_torch()
    expected = _torch_dtype_name(torch.empty(0, dtype=torch.promote_types(getattr(torch, a), getattr(torch, b))))
    assert cr.promote_types(getattr(cr, a), getattr(cr, b)).name == expected


# ---------------------------------------------------------------------------- the operand grid
def _operand_kinds():
    """name -> (chainrule operand, torch operand), built fresh on each call."""
    kinds = {}
    for name in ("float16", "float32", "float64", "int32", "int64", "bool"):
        kinds[f"tensor_{name}"] = (lambda n=name: cr.tensor(np.array([1, 2, 3]).astype(n)),
                                   lambda torch, n=name: torch.tensor(np.array([1, 2, 3]).astype(n)))
        kinds[f"0dim_{name}"] = (lambda n=name: cr.tensor(np.array(2).astype(n)),
                                 lambda torch, n=name: torch.tensor(np.array(2).astype(n)))
    for name, value in (("int", 2), ("float", 2.5), ("bool", True)):
        kinds[f"python_{name}"] = (lambda v=value: v, lambda torch, v=value: v)
    for name in ("float64", "float32", "int64", "int32", "bool"):
        kinds[f"ndarray_{name}"] = (lambda n=name: np.array([1, 2, 3]).astype(n),
                                    lambda torch, n=name: torch.from_numpy(np.array([1, 2, 3]).astype(n)))
        kinds[f"npscalar_{name}"] = (lambda n=name: np.dtype(n).type(2),
                                     lambda torch, n=name: np.dtype(n).type(2).item())
    return kinds


KINDS = _operand_kinds()
OPS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
       "floordiv": operator.floordiv, "lt": operator.lt, "eq": operator.eq}
# torch refuses bool // bool and any subtraction with a bool tensor; those pairs are skipped here
PAIRS = [(a, b) for a, b in itertools.product(KINDS, KINDS)
         if a.startswith(("tensor", "0dim")) or b.startswith(("tensor", "0dim"))]


@pytest.mark.parametrize("op", sorted(OPS))
def test_result_dtype_grid_matches_torch(op):
    torch = require_torch()
    fn = OPS[op]
    mismatches = []
    for a, b in PAIRS:
        try:
            expected = _torch_dtype_name(fn(KINDS[a][1](torch), KINDS[b][1](torch)))
        except RuntimeError:
            continue  # e.g. floor division of bools: torch refuses
        out = fn(KINDS[a][0](), KINDS[b][0]())
        got = out.dtype.name if isinstance(out, cr.Tensor) else f"{type(out).__name__} {getattr(out, 'dtype', '')}"
        if got != expected:
            mismatches.append(f"{a} {op} {b}: chainrule {got}, torch {expected}")
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.parametrize("a,b", [(a, b) for a, b in PAIRS if "ndarray" not in a + b and "npscalar" not in a + b])
def test_result_type_function_matches_torch(a, b):
    torch = require_torch()
    expected = torch.result_type(KINDS[a][1](torch), KINDS[b][1](torch))
    assert cr.result_type(KINDS[a][0](), KINDS[b][0]()).name == str(expected).split(".")[1]


def test_python_scalars_never_upcast_float32():
    x = cr.ones(3)
    for scalar in (2, 2.5, True, 10 ** 12, 1e30, np.float64(2.5), np.int64(3), np.float32(1.5)):
        assert (x * scalar).dtype == cr.float32, type(scalar)
        assert (scalar + x).dtype == cr.float32, type(scalar)
        assert (x / scalar).dtype == cr.float32, type(scalar)
        assert (scalar - x).dtype == cr.float32, type(scalar)
    assert (cr.tensor(2.0, dtype=cr.float64) * x).dtype == cr.float32  # a 0-dim tensor does not either
    assert (cr.ones(3, dtype=cr.float16) * 2.5).dtype == cr.float16


def test_numpy_float64_scalar_gives_float32_values():
    # np.float64 is a subclass of Python float: NumPy 2 would compute float32 * np.float64 in float64
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * np.float64(0.1)
    assert y.dtype == cr.float32 and y.detach().numpy().dtype == np.float32
    assert (np.float64(0.1) * x).dtype == cr.float32
    y.sum().backward()
    assert x.grad.dtype == cr.float32


def test_integer_true_division_gives_default_float():
    torch = require_torch()
    for a, b in [([1, 2], [2, 4]), ([True, False], [True, True])]:
        out = cr.tensor(a) / cr.tensor(b)
        expected = torch.tensor(a) / torch.tensor(b)
        assert out.dtype == cr.float32 and _torch_dtype_name(expected) == "float32"
        np.testing.assert_array_equal(out.numpy(), expected.numpy())
    assert (cr.tensor([1, 2], dtype=cr.int32) / 2).dtype == cr.float32
    assert (7 / cr.tensor([2])).dtype == cr.float32


def test_integer_floor_division_values_match_torch():
    torch = require_torch()
    a, b = [-7, 7, -8, 9], [2, -2, 3, 4]
    np.testing.assert_array_equal((cr.tensor(a) // cr.tensor(b)).numpy(), (torch.tensor(a) // torch.tensor(b)).numpy())
    np.testing.assert_array_equal((cr.tensor(a) // 2).numpy(), (torch.tensor(a) // 2).numpy())


def test_bool_floor_division_is_not_float64():
    # torch refuses bool // bool; chainrule must at least not leak NumPy's float64 into the result
    try:
        out = cr.tensor([True, False]) // cr.tensor([True, True])
    except cr.ChainruleError:
        return
    assert out.dtype != cr.float64


def test_bool_subtraction_raises_a_chainrule_error():
    torch = require_torch()
    with pytest.raises(RuntimeError, match="bool tensors? is not supported"):
        torch.tensor([True]) - torch.tensor([False])
    with pytest.raises(cr.ChainruleError, match="bool"):
        cr.tensor([True]) - cr.tensor([False])


def test_float64_never_creeps_into_float32_gradients():
    torch = require_torch()
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    c64 = cr.tensor([0.5, 3.0], dtype=cr.float64)
    y = a * c64 + a * np.array([1.0, 2.0])  # float64 constants make float64 results, as in torch
    ta = torch.tensor([1.0, 2.0], requires_grad=True)
    ty = ta * torch.tensor([0.5, 3.0], dtype=torch.float64) + ta * torch.from_numpy(np.array([1.0, 2.0]))
    assert y.dtype.name == _torch_dtype_name(ty) == "float64"
    y.sum().backward()
    ty.sum().backward()
    assert a.grad.dtype == cr.float32 and a.grad.numpy().dtype == np.float32  # grads take the leaf's dtype
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy())


def test_float32_chain_with_scalars_stays_float32():
    b = cr.tensor([1.0, 2.0], requires_grad=True)
    z = ((b * 0.5 + np.float64(1.0)) ** 2 / 3).exp().sum()
    assert z.dtype == cr.float32
    z.backward()
    assert b.grad.numpy().dtype == np.float32
