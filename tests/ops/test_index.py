"""Indexing: ``x[key]`` in every form, gather/scatter and friends, masks, nonzero — gradcheck
(float64), values and gradients against PyTorch, second derivatives, views, properties against
NumPy, and error messages."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from tests.helpers import assert_close, check_against_torch, rand, require_torch

SHAPE = (4, 5, 3)
MASK_4 = np.array([True, False, True, True])
MASK_45 = np.random.default_rng(3).random((4, 5)) > 0.5


def _key_for(key, lib):
    """The same key for chainrule (index arrays as cr tensors) or torch (torch tensors)."""
    if isinstance(key, tuple):
        return tuple(_key_for(k, lib) for k in key)
    if isinstance(key, np.ndarray):
        return cr.from_numpy(key) if lib == "cr" else require_torch().from_numpy(key)
    return key


# id: key into a (4, 5, 3) tensor
KEYS = {
    "int": 1, "neg_int": -1, "slice": slice(1, 3), "step": slice(None, None, 2),
    "int_slice": (slice(None), 1), "ellipsis_int": (Ellipsis, 0), "none": (None, 1),
    "none_ellipsis": (0, None, Ellipsis, 1), "all_ints": (3, 4, 2), "empty_slice": slice(2, 2),
    "int_list_repeats": [0, 2, 2, 0], "neg_list": [-1, 0, -1], "int_tensor_2d": np.array([[0, 1], [1, 3]]),
    "int32_tensor": np.array([3, 3, 1], dtype=np.int32), "mask_1d": MASK_4, "mask_2d": MASK_45,
    "mask_none": np.zeros(4, dtype=bool), "empty_list": [],
    "slice_array": (slice(None), [0, 0, 4]), "separated_arrays": ([0, 1], slice(None), [2, 2]),
    "broadcast_arrays": (np.array([[0], [3]]), [1, 2, 1]), "ellipsis_array": (Ellipsis, [0, 2, 2]),
    "array_int": ([2, 2], 0), "mask_then_slice": (MASK_4, slice(1, None)),
    "slice_mask": (slice(None), np.array([True, False, False, True, True])),
    "int_tensor_0d": np.array(2), "bool_scalar": (True, 1), "array_none": ([1, 1], None),
}
BASIC = {"int", "neg_int", "slice", "step", "int_slice", "ellipsis_int", "none", "none_ellipsis",
         "all_ints", "empty_slice", "int_tensor_0d"}


@pytest.mark.parametrize("name", sorted(KEYS))
@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
def test_getitem_against_torch(name, dtype):
    key = KEYS[name]
    x = rand(SHAPE, dtype, contiguous=dtype == cr.float64)
    check_against_torch(lambda a: a[_key_for(key, "cr")], lambda t: t[_key_for(key, "torch")], [x])


@pytest.mark.parametrize("name", sorted(KEYS))
def test_getitem_gradcheck(name):
    assert cr.autograd.gradcheck(lambda a: a[_key_for(KEYS[name], "cr")], (rand(SHAPE, contiguous=False),))


# Negative steps are NumPy's (PyTorch refuses them): checked against NumPy values and gradients.
NEGATIVE_STEPS = [slice(None, None, -1), (slice(None), slice(4, 0, -2)), (Ellipsis, slice(None, None, -2)),
                  (slice(3, None, -3), [0, 0, 2]), (slice(0, 3, -1),)]


@pytest.mark.parametrize("key", NEGATIVE_STEPS, ids=[str(k) for k in NEGATIVE_STEPS])
def test_negative_steps_against_numpy(key):
    x = rand(SHAPE)
    y = x[key]
    np.testing.assert_array_equal(y.detach().numpy(), x.detach().numpy()[key])
    w = np.random.default_rng(0).standard_normal(y.shape)
    (y * cr.from_numpy(w)).sum().backward()
    expected = np.zeros(SHAPE)
    np.add.at(expected, key, w)
    np.testing.assert_allclose(x.grad.numpy(), expected)
    assert cr.autograd.gradcheck(lambda a: a[key], (rand(SHAPE),))


def test_index_forms_agree():
    """Lists, NumPy arrays and chainrule tensors as indices give the same result."""
    x = rand(SHAPE, requires_grad=False)
    expected = x[cr.tensor([[0, 1], [1, 3]]), 2]
    for key in ([[0, 1], [1, 3]], np.array([[0, 1], [1, 3]]), cr.tensor([[0, 1], [1, 3]], dtype=cr.int32)):
        np.testing.assert_array_equal(x[key, 2].numpy(), expected.numpy())
    np.testing.assert_array_equal(x[cr.from_numpy(MASK_4)].numpy(), x[MASK_4].numpy())
    np.testing.assert_array_equal(x[MASK_4.tolist()].numpy(), x[MASK_4].numpy())


def test_repeated_indices_accumulate():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 1.0])


@pytest.mark.parametrize("key", [[0, 0, 2, 0], ([1, 1], slice(None), [0, 0]), (MASK_4, [1, 1, 1]),
                                 (slice(None, None, -2), None, 1)],
                         ids=["repeats", "separated_repeats", "mask_and_repeats", "basic"])
def test_getitem_second_derivatives(key):
    assert cr.autograd.gradgradcheck(lambda a: a[key] ** 2, (rand(SHAPE),))


# ---------------------------------------------------------------------------- views
@pytest.mark.parametrize("key", [1, (slice(None), 2), (Ellipsis, slice(None, None, -1)), (None, 0, 1),
                                 (3, 4, 2)])
def test_basic_indexing_is_a_view(key):
    x = cr.zeros(*SHAPE)
    v = x[key]
    assert np.shares_memory(v.numpy(), x.numpy())
    before = x._version
    v += 1
    assert x._version == before + 1 == v._version
    np.testing.assert_array_equal(x.numpy()[key], np.ones(v.shape))
    assert x.sum().item() == v.numel()


@pytest.mark.parametrize("key", [[0, 1], (MASK_4,), (slice(None), [1])])
def test_advanced_indexing_copies(key):
    x = cr.zeros(*SHAPE)
    v = x[key]
    assert not np.shares_memory(v.numpy(), x.numpy())
    v += 1
    assert x.sum().item() == 0 and x._version == 0


def test_scalar_index_of_vector_is_a_0d_view():
    x = cr.tensor([1.0, 2.0])
    v = x[1]
    assert v.shape == () and isinstance(v.numpy(), np.ndarray)
    v.fill_(5.0)
    assert x.tolist() == [1.0, 5.0]


# ---------------------------------------------------------------------------- properties against NumPy
@st.composite
def basic_keys(draw):
    """A shape and a key of ints, slices (any step), None and at most one Ellipsis for it."""
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=1, max_size=3)))
    ndim = len(shape)
    used = draw(st.integers(0, ndim))
    ellipsis = draw(st.booleans())
    split = draw(st.integers(0, used)) if ellipsis else used  # items before the Ellipsis index the first dims
    dims = list(range(split)) + list(range(ndim - (used - split), ndim))
    items = []
    for d in dims:
        if shape[d] and draw(st.booleans()):
            items.append(draw(st.integers(-shape[d], shape[d] - 1)))
        else:
            bound = st.none() | st.integers(-7, 7)
            items.append(slice(draw(bound), draw(bound), draw(st.none() | st.sampled_from([-3, -2, -1, 1, 2, 3]))))
        if draw(st.integers(0, 4)) == 0:
            items.append(None)
    if ellipsis:
        position = [i for i, item in enumerate(items) if item is not None][split - 1] + 1 if split else 0
        items.insert(position, Ellipsis)
    return shape, tuple(items)


@settings(max_examples=80, deadline=None)
@given(basic_keys())
def test_basic_slicing_matches_numpy(case):
    shape, key = case
    data = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    x = cr.tensor(data, requires_grad=True)
    y = x[key]
    np.testing.assert_array_equal(y.detach().numpy(), data[key])
    if y.numel():
        assert np.shares_memory(y.detach().numpy(), x.detach().numpy())
    w = np.arange(1, y.numel() + 1, dtype=np.float64).reshape(y.shape)
    y.backward(cr.from_numpy(w))
    expected = np.zeros(shape)
    expected[key] = w
    np.testing.assert_array_equal(x.grad.numpy(), expected)


# ---------------------------------------------------------------------------- getitem errors
def _raises(match, fn, exc=cr.ChainruleError):
    with pytest.raises(exc, match=match):
        fn()


@pytest.mark.parametrize("key,match", [
    (5, r"index 5 is out of bounds for dimension 0 with size 4"),
    (-5, r"index -5 is out of bounds for dimension 0 with size 4"),
    ((slice(None), 7), r"index 7 is out of bounds for dimension 1 with size 5"),
    ([0, 4], r"index 4 is out of bounds for dimension 0 with size 4"),
    ((Ellipsis, [3, -4]), r"index -4 is out of bounds for dimension 2 with size 3"),
    ((0, 0, 0, 0), r"too many indices for a tensor of dimension 3"),
    ((Ellipsis, 0, Ellipsis), r"single ellipsis"),
    (np.array([True, False]), r"shape of the mask \(2,\) at dimension 0 does not match"),
    (([0, 1], [0, 1, 2]), r"cannot be broadcast together: shapes \(2,\), \(3,\)"),
    (1.0, r"only integers, slices .* \(got float\)"),
    ([0.5, 1.0], r"must hold integers or bools, got dtype float64"),
    ("a", r"\(got str\)"),
])
def test_getitem_errors(key, match):
    x = cr.zeros(*SHAPE)
    _raises(match, lambda: x[key], IndexError)
    _raises(match, lambda: x[key])


@pytest.mark.parametrize("dtype,hint", [(cr.float32, r"\.long\(\)"), (cr.uint8, r"\.bool\(\)"),
                                        (cr.int16, r"\.long\(\)")])
def test_index_tensor_dtype_errors(dtype, hint):
    x = cr.zeros(3)
    _raises(rf"must be int64, int32 or bool tensors, got dtype chainrule\.{dtype.numpy.name}.*{hint}",
            lambda: x[cr.tensor([0, 1]).to(dtype)], IndexError)


def test_normalize_key():
    from chainrule.ops.index import normalize_key

    key = normalize_key((cr.tensor([0, 2]), slice(1, None), None), (3, 4))
    assert isinstance(key[0], np.ndarray) and key[0].tolist() == [0, 2]
    assert key[1:] == (slice(1, None), None, Ellipsis)
    assert normalize_key(cr.tensor(1), (3,)) == (1, Ellipsis)
    assert normalize_key(np.int64(-1), (3,)) == (-1, Ellipsis)
    data = np.arange(12).reshape(3, 4)
    for key in [(MASK_4[:3], 1), ([[0], [2]], [1, 3]), (Ellipsis, -1), True]:
        np.testing.assert_array_equal(data[normalize_key(key, data.shape)], data[key])


# ---------------------------------------------------------------------------- gather, scatter, …
I64 = np.int64
GATHER_INDEX = np.array([[0, 0, 2], [1, 4, 4], [3, 3, 3], [0, 1, 2]], dtype=I64)  # into dim 1 of (4, 5)


def _t(array, lib):
    """An index array as a chainrule or torch tensor."""
    return cr.from_numpy(np.asarray(array)) if lib is cr else lib.from_numpy(np.asarray(array))


# name: (fn(module, *inputs), input shapes) — written once for chainrule and torch
OPS = {
    "gather_dim1": (lambda m, x: m.gather(x, 1, _t(GATHER_INDEX, m)), [(4, 5)]),
    "gather_dim0_small_index": (lambda m, x: m.gather(x, 0, _t([[3, 0], [3, 3]], m)), [(4, 5)]),
    "gather_neg_dim": (lambda m, x: x.gather(-1, _t(GATHER_INDEX[:2, :2], m)), [(4, 5)]),
    "gather_int32": (lambda m, x: m.gather(x, 1, _t(GATHER_INDEX.astype(np.int32), m)), [(4, 5)]),
    "gather_3d": (lambda m, x: m.gather(x, 1, _t(np.zeros((2, 4, 3), I64) + [0, 2, 1], m)), [(2, 5, 3)]),
    "gather_empty": (lambda m, x: m.gather(x, 1, _t(np.zeros((4, 0), I64), m)), [(4, 5)]),
    "gather_0d": (lambda m, x: m.gather(x, 0, _t(np.array(0), m)), [()]),
    "scatter_add": (lambda m, x, s: m.scatter_add(x, 1, _t(GATHER_INDEX, m), s), [(4, 5), (4, 3)]),
    "scatter_add_big_src": (lambda m, x, s: x.scatter_add(0, _t([[1, 1, 0, 3, 3]], m), s), [(4, 5), (2, 6)]),
    "scatter_add_0d": (lambda m, x, s: m.scatter_add(x, 0, _t(np.array(0), m), s), [(), ()]),
    "scatter_src": (lambda m, x, s: m.scatter(x, 1, _t([[0, 2], [4, 3], [1, 2], [0, 3]], m), s), [(4, 5), (4, 2)]),
    "scatter_src_repeats": (lambda m, x, s: m.scatter(x, 0, _t([[1, 1, 2], [0, 1, 2]], m), s), [(4, 5), (2, 3)]),
    "scatter_value": (lambda m, x: x.scatter(0, _t([[1, 2, 3, 0, 1]], m), 2.5), [(4, 5)]),
    "scatter_reduce_add": (lambda m, x, s: m.scatter(x, 1, _t(GATHER_INDEX, m), s, reduce="add"), [(4, 5), (4, 3)]),
    "index_select": (lambda m, x: m.index_select(x, 1, _t([4, 0, 0, 2], m)), [(4, 5)]),
    "index_select_neg_dim": (lambda m, x: x.index_select(-1, _t(np.array([2, 2], np.int32), m)), [(2, 4, 3)]),
    "index_select_0d_index": (lambda m, x: m.index_select(x, 0, _t(np.array(3), m)), [(4, 5)]),
    "index_select_empty": (lambda m, x: m.index_select(x, 0, _t(np.zeros(0, I64), m)), [(4, 5)]),
    "index_add": (lambda m, x, s: m.index_add(x, 1, _t([4, 0, 4], m), s), [(4, 5), (4, 3)]),
    "index_add_alpha": (lambda m, x, s: x.index_add(0, _t([1, 1], m), s, alpha=-2.0), [(4, 5), (2, 5)]),
    "masked_fill": (lambda m, x: m.masked_fill(x, _t(MASK_45, m), -1.5), [(4, 5)]),
    "masked_fill_broadcast": (lambda m, x: x.masked_fill(_t(MASK_45[0], m), 3.0), [(4, 5)]),
    "masked_fill_grows": (lambda m, x: m.masked_fill(x, _t(MASK_45[None], m), 3.0), [(5,)]),
    "masked_fill_tensor_value": (lambda m, x, v: m.masked_fill(x, _t(MASK_45, m), v), [(4, 5), ()]),
    "masked_select": (lambda m, x: m.masked_select(x, _t(MASK_45, m)), [(4, 5)]),
    "masked_select_broadcast": (lambda m, x: x.masked_select(_t(MASK_45, m)), [(5,)]),
    "masked_select_none": (lambda m, x: m.masked_select(x, _t(np.zeros((4, 5), bool), m)), [(4, 5)]),
    "take_along_dim": (lambda m, x: m.take_along_dim(x, _t(GATHER_INDEX[:, :1] - 4, m), 1), [(4, 5)]),
    "take_along_dim_broadcast": (lambda m, x: m.take_along_dim(x, _t([[[0], [2], [-1]]], m), dim=2), [(2, 1, 4)]),
    "take_along_dim_flat": (lambda m, x: x.take_along_dim(_t([[0, 19], [7, 7]], m)), [(4, 5)]),
    "index_put": (lambda m, x, v: m.index_put(x, (_t([0, 3, 0], m), _t([1, 1, 2], m)), v), [(4, 5), (3,)]),
    "index_put_repeats": (lambda m, x, v: m.index_put(x, (_t([0, 3, 0], m), _t([1, 1, 1], m)), v), [(4, 5), (3,)]),
    "index_put_accumulate": (lambda m, x, v: x.index_put((_t([0, 3, 0], m),), v, accumulate=True), [(4, 5), (5,)]),
    "index_put_broadcast_value": (lambda m, x, v: m.index_put(x, (_t(MASK_45, m),), v), [(4, 5), ()]),
}
# Writes to repeated positions: the last write wins, and every written value gets the gradient at its
# position (PyTorch's rule, not the derivative of last-write-wins): checked against torch, not gradcheck.
REPEATED_WRITES = {"scatter_src_repeats", "index_put_repeats"}
# PyTorch has no (or a broken) gradient for these: values against torch, gradients by gradcheck.
TORCH_VALUES_ONLY = {"scatter_add_big_src", "scatter_reduce_add"}
# Non-contiguous inputs: the first input is a transposed view.
NON_CONTIGUOUS = {"gather_dim1", "scatter_add", "index_add", "masked_fill", "index_put_accumulate", "take_along_dim"}


def _inputs(shapes, dtype, name):
    return [rand(s, dtype, seed=i, contiguous=not (i == 0 and name in NON_CONTIGUOUS)) for i, s in enumerate(shapes)]


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
def test_ops_against_torch(name, dtype):
    torch = require_torch()
    fn, shapes = OPS[name]
    inputs = _inputs(shapes, dtype, name)
    if name in TORCH_VALUES_ONLY:
        inputs = [x.detach() for x in inputs]
    check_against_torch(lambda *xs: fn(cr, *xs), lambda *ts: fn(torch, *ts), inputs)


@pytest.mark.parametrize("name", sorted(set(OPS) - REPEATED_WRITES))
def test_ops_gradcheck(name):
    fn, shapes = OPS[name]
    assert cr.autograd.gradcheck(lambda *xs: fn(cr, *xs), tuple(_inputs(shapes, cr.float64, name)))


@pytest.mark.parametrize("name", ["gather_dim1", "scatter_add", "masked_fill", "masked_fill_tensor_value",
                                  "index_add", "scatter_src", "index_put", "take_along_dim_broadcast"])
def test_ops_second_derivatives(name):
    fn, shapes = OPS[name]
    inputs = tuple(rand(s, seed=i) for i, s in enumerate(shapes))
    assert cr.autograd.gradgradcheck(lambda *xs: fn(cr, *xs) ** 2, inputs)


def test_masked_fill_keeps_integer_dtype():
    torch = require_torch()
    x = cr.arange(6).reshape(2, 3)
    out = x.masked_fill(cr.from_numpy(MASK_45[0, :3]), 1.7)
    assert out.dtype == cr.int64
    assert_close(out, torch.arange(6).reshape(2, 3).masked_fill(torch.from_numpy(MASK_45[0, :3]), 1.7))


def test_masked_fill_value_gradient():
    x = cr.zeros(2, 3, requires_grad=True)
    v = cr.tensor(2.0, requires_grad=True)
    x.masked_fill(cr.tensor([True, False, True]), v).sum().backward()
    assert v.grad.item() == 4.0
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0], [0, 1, 0]])


@pytest.mark.parametrize("data", [[[0.0, 1.0], [2.0, 0.0]], [0, 3, 0, 4], [[False]], 5.0, 0, []])
def test_nonzero_argwhere_where(data):
    torch = require_torch()
    x, t = cr.tensor(data), torch.tensor(data)
    assert_close(cr.nonzero(x), torch.nonzero(t))
    assert_close(x.argwhere(), torch.argwhere(t))
    for ours, theirs in zip(x.nonzero(as_tuple=True), torch.nonzero(t, as_tuple=True)):
        assert_close(ours, theirs)
    assert len(cr.where(x)) == len(torch.where(t))
    for ours, theirs in zip(cr.where(x), torch.where(t)):
        assert ours.dtype == cr.int64
        assert_close(ours, theirs)
    assert x.nonzero().dtype == cr.int64


def test_nonzero_as_index_roundtrip():
    x = rand((4, 5), requires_grad=False)
    mask = x > 0
    np.testing.assert_array_equal(x[cr.nonzero(mask, as_tuple=True)].numpy(), x[mask].numpy())


def test_numpy_dispatch():
    x = rand((4, 5))
    idx = np.array([[0], [4], [2], [2]])
    y = np.take_along_axis(x, idx, axis=1)
    assert isinstance(y, cr.Tensor) and y.requires_grad
    np.testing.assert_array_equal(y.detach().numpy(), np.take_along_axis(x.detach().numpy(), idx, axis=1))
    rows, cols = np.nonzero(x > 0)
    np.testing.assert_array_equal(rows.numpy(), np.nonzero(x.detach().numpy() > 0)[0])
    assert np.argwhere(x > 0).shape == (int((x > 0).sum().item()), 2)


# ---------------------------------------------------------------------------- in-place index ops
INPLACE = {
    "scatter_add_": lambda m, x, s: x.scatter_add_(1, _t(GATHER_INDEX, m), s),
    "scatter_": lambda m, x, s: x.scatter_(1, _t([[0, 2], [4, 3], [1, 1], [0, 0]], m), s[:, :2]),
    "scatter_value_": lambda m, x, s: x.scatter_(0, _t([[1, 2, 3, 0, 1]], m), 2.5),
    "scatter_reduce_": lambda m, x, s: x.scatter_(1, _t(GATHER_INDEX, m), s, reduce="add"),
    "index_add_": lambda m, x, s: x.index_add_(1, _t([4, 0, 4], m), s, alpha=3.0),
    "masked_fill_": lambda m, x, s: x.masked_fill_(_t(MASK_45, m), s[0, 0]),
    "index_put_": lambda m, x, s: x.index_put_((_t([0, 0, 2], m), _t([1, 1, 4], m)), s[0]),
    "index_put_accumulate_": lambda m, x, s: x.index_put_((_t([0, 0, 2], m), _t([1, 1, 4], m)), s[0], True),
}


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_index_ops_without_grad(name):
    torch = require_torch()
    x, s = rand((4, 5), requires_grad=False), rand((4, 3), seed=1, requires_grad=False)
    tx, ts = torch.from_numpy(x.numpy().copy()), torch.from_numpy(s.numpy().copy())
    out = INPLACE[name](cr, x, s)
    INPLACE[name](torch, tx, ts)
    assert out is x and x._version == 1
    assert_close(x, tx)


@pytest.mark.parametrize("name", sorted(set(INPLACE) - {"scatter_reduce_"}))  # torch: no derivative
def test_inplace_index_ops_on_graph(name):
    torch = require_torch()

    def run(m, a, s):
        y = a * 2
        INPLACE[name](m, y, s * 1)
        return y * y

    check_against_torch(lambda a, s: run(cr, a, s), lambda a, s: run(torch, a, s),
                        [rand((4, 5)), rand((4, 3), seed=1)])


@pytest.mark.parametrize("name", ["scatter_add_", "scatter_value_", "scatter_reduce_", "index_add_", "masked_fill_",
                                  "index_put_accumulate_"])
def test_inplace_index_ops_gradcheck(name):
    def run(a, s):
        y = a * 2
        INPLACE[name](cr, y, s * 1)
        return y

    assert cr.autograd.gradcheck(run, (rand((4, 5)), rand((4, 3), seed=1)))


def test_inplace_index_op_on_leaf_requiring_grad_raises():
    x = rand((4, 5))
    _raises(r"scatter_add_: a leaf tensor that requires grad",
            lambda: x.scatter_add_(1, cr.tensor([[0]]), rand((1, 1))))
    with cr.no_grad():
        x.masked_fill_(cr.from_numpy(MASK_45), 0.0)
    assert (x.detach().numpy()[MASK_45] == 0).all()


# ---------------------------------------------------------------------------- errors (as PyTorch checks them)
X = cr.zeros(4, 5)
IDX = cr.tensor([[0, 1]])
F64 = cr.float64
# id: (call, the message it raises)
ERRORS = {
    "gather_float_index": (lambda: cr.gather(X, 1, IDX.float()),
                           r"gather: index must be an int64 \(or int32\) tensor, got dtype float32"),
    "gather_int16_index": (lambda: cr.gather(X, 1, IDX.to(cr.int16)), r"got dtype int16; convert with \.long\(\)"),
    "gather_ndim": (lambda: cr.gather(X, 1, cr.tensor([0, 1])), r"gather: index \(shape \(2,\)\) must have as many"),
    "gather_bounds": (lambda: cr.gather(X, 1, cr.tensor([[0, 5]])),
                      r"gather: index 5 is out of bounds for dimension 1 with size 5"),
    "gather_negative": (lambda: cr.gather(X, 1, cr.tensor([[-1]])), r"gather: index -1 is out of bounds for dimension 1"),
    "gather_index_too_big": (lambda: cr.gather(X, 1, cr.tensor([[0]] * 5)),
                             r"must be no larger than the input \(4, 5\) apart from dimension 1"),
    "gather_dim": (lambda: cr.gather(X, 2, IDX), r"gather: dimension 2 is out of range for a tensor with 2 dimensions"),
    "gather_0d_input": (lambda: cr.gather(cr.tensor(1.0), 0, cr.tensor([0, 0])), r"a 0-d input takes exactly one index"),
    "scatter_add_small_src": (lambda: cr.scatter_add(X, 1, IDX, cr.zeros(1, 1)), r"no larger than src \(1, 1\)"),
    "scatter_add_dtype": (lambda: cr.scatter_add(X, 1, IDX, cr.zeros(1, 2, dtype=F64)),
                          r"src has dtype chainrule.float64 but the input has dtype chainrule.float32"),
    "scatter_src_and_value": (lambda: cr.scatter(X, 1, IDX, 1.0, value=2.0), r"pass exactly one of src"),
    "scatter_reduce": (lambda: cr.scatter(X, 1, IDX, 1.0, reduce="multiply"), r"reduce must be None or 'add'"),
    "index_select_matrix": (lambda: cr.index_select(X, 0, cr.tensor([[0]])), r"index_select: index must be a vector"),
    "index_select_bounds": (lambda: cr.index_select(X, 0, cr.tensor([4])),
                            r"index_select: index 4 is out of bounds for dimension 0"),
    "index_add_shape": (lambda: cr.index_add(X, 1, cr.tensor([0, 0]), cr.zeros(4, 3)),
                        r"index_add: source has shape \(4, 3\), expected \(4, 2\)"),
    "index_add_dtype": (lambda: cr.index_add(X, 0, cr.tensor([0]), cr.zeros(1, 5, dtype=F64)),
                        r"values have dtype chainrule.float64 but the tensor has dtype chainrule.float32"),
    "index_put_dtype": (lambda: cr.index_put(X, (cr.tensor([0]),), cr.zeros(5, dtype=F64)),
                        r"index_put: the values have dtype chainrule.float64"),
    "index_put_shape": (lambda: cr.index_put(X, (cr.tensor([0, 1]),), cr.zeros(3, 5)),
                        r"cannot assign a value of shape \(3, 5\) to a selection of shape \(2, 5\)"),
    "masked_fill_int_mask": (lambda: cr.masked_fill(X, cr.tensor([1, 0, 1, 0, 0]), 1.0),
                             r"masked_fill: mask must be a bool tensor, got dtype int64"),
    "masked_fill_mask_shape": (lambda: cr.masked_fill(X, cr.tensor([True, False]), 1.0),
                               r"mask of shape \(2,\) does not broadcast with the input of shape \(4, 5\)"),
    "masked_fill_vector_value": (lambda: cr.masked_fill(X, cr.tensor([True] * 5), cr.ones(1)),
                                 r"value must be a number or a 0-d tensor, got shape \(1,\)"),
    "masked_fill_array_value": (lambda: cr.masked_fill(X, cr.tensor([True] * 5), [1.0, 2.0]),
                                r"value must be a number or a 0-d tensor"),
    "masked_select_float_mask": (lambda: cr.masked_select(X, cr.ones(5)), r"masked_select: mask must be a bool tensor"),
    "take_along_dim_int32": (lambda: cr.take_along_dim(X, cr.tensor([[0]], dtype=cr.int32), 1),
                             r"take_along_dim: indices must be an int64 tensor"),
    "take_along_dim_ndim": (lambda: cr.take_along_dim(X, cr.tensor([0]), 1), r"must have the same number of dimensions"),
    "take_along_dim_broadcast": (lambda: cr.take_along_dim(X, cr.tensor([[0]] * 3), 1),
                                 r"do not broadcast apart from dimension 1"),
    "take_along_dim_bounds": (lambda: cr.take_along_dim(X, cr.tensor([[5]]), 1),
                              r"index 5 is out of bounds for dimension 1 with size 5"),
    "take_along_dim_0d": (lambda: cr.take_along_dim(cr.tensor(1.0), cr.tensor(0), 0), r"pass dim=None"),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors(name):
    fn, match = ERRORS[name]
    _raises(match, fn)
