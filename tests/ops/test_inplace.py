"""In-place operations (``x += y``, ``x.add_(y)``, ``x[key] = v`` …) against PyTorch: updates under
``no_grad`` (what optimizers do), in-place changes inside a recorded graph with correct gradients
afterwards, the version checks that refuse stale saved values, views, and the errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from tests.helpers import assert_close, check_against_torch, rand, require_torch


def _pair(shape=(3, 4), dtype=cr.float64, seed=0, requires_grad=False):
    """A chainrule tensor and a torch tensor with the same values."""
    torch = require_torch()
    x = rand(shape, dtype, seed=seed, requires_grad=requires_grad)
    t = torch.from_numpy(x.detach().numpy().copy()).requires_grad_(requires_grad)
    return x, t


# ---------------------------------------------------------------------------- updates without a graph
# name: update(module, x, y), written once for chainrule and torch; x is (3, 4), y is (4,)
UPDATES = {
    "iadd": lambda m, x, y: x.__iadd__(y), "isub": lambda m, x, y: x.__isub__(y),
    "imul": lambda m, x, y: x.__imul__(y), "itruediv": lambda m, x, y: x.__itruediv__(y + 3),
    "iadd_scalar": lambda m, x, y: x.__iadd__(1.5), "ipow": lambda m, x, y: x.abs_().__ipow__(2),
    "add_alpha": lambda m, x, y: x.add_(y, alpha=-0.1), "sub_alpha": lambda m, x, y: x.sub_(y, alpha=2),
    "mul_": lambda m, x, y: x.mul_(0.9), "div_": lambda m, x, y: x.div_(y.abs() + 1),
    "zero_": lambda m, x, y: x.zero_(), "fill_": lambda m, x, y: x.fill_(2.5),
    "fill_tensor": lambda m, x, y: x.fill_(y[1]), "copy_": lambda m, x, y: x.copy_(y),
    "copy_other_dtype": lambda m, x, y: x.copy_(y.float()), "clamp_": lambda m, x, y: x.clamp_(-0.5, 0.5),
    "clamp_min": lambda m, x, y: x.clamp_(min=0.0), "neg_": lambda m, x, y: x.neg_(),
    "exp_": lambda m, x, y: x.exp_(), "sqrt_": lambda m, x, y: x.abs_().sqrt_(), "tanh_": lambda m, x, y: x.tanh_(),
    "sigmoid_": lambda m, x, y: x.sigmoid_(), "relu_": lambda m, x, y: x.relu_(),
    "sgd_step": lambda m, x, y: x.mul_(0.99).add_(y * y, alpha=-0.01),
}


@pytest.mark.parametrize("name", sorted(UPDATES))
@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
def test_update_of_leaf_under_no_grad(name, dtype):
    torch = require_torch()
    x, tx = _pair(dtype=dtype, requires_grad=True)
    y, ty = _pair((4,), dtype, seed=1)
    memory = x._data.ctypes.data
    with cr.no_grad():
        out = UPDATES[name](cr, x, y)
    with torch.no_grad():
        UPDATES[name](torch, tx, ty)
    assert out is x and x.requires_grad and x.is_leaf
    assert x._data.ctypes.data == memory  # the update wrote into the same memory
    assert x._version >= 1
    assert_close(x, tx)


@pytest.mark.parametrize("name", sorted(UPDATES))
def test_update_of_plain_tensor(name):
    torch = require_torch()
    x, tx = _pair()
    y, ty = _pair((4,), seed=1)
    UPDATES[name](cr, x, y)
    UPDATES[name](torch, tx, ty)
    assert not x.requires_grad
    assert_close(x, tx)


def test_update_keeps_parameter_gradient_usable():
    """The optimizer pattern: backward, update under no_grad, backward again through the new value."""
    w = cr.tensor([1.0, -2.0], requires_grad=True)
    (w * w).sum().backward()
    with cr.no_grad():
        w.sub_(w.grad, alpha=0.25)
    w.grad.zero_()
    (w * w).sum().backward()
    np.testing.assert_allclose(w.detach().numpy(), [0.5, -1.0])
    np.testing.assert_allclose(w.grad.numpy(), [1.0, -2.0])


# ---------------------------------------------------------------------------- in-place inside a graph
def _chain(m, x):
    y = x * 2
    y += x
    y *= 3
    return y


# name: fn(module, x, y) with in-place steps on non-leaf tensors; x is (3, 4), y is (4,)
GRAPH = {
    "iadd_imul": lambda m, x, y: _chain(m, x),
    "mixed": lambda m, x, y: (x * 1).add_(y, alpha=2).mul_(x).sub_(y).div_(y.abs() + 1),
    "unary": lambda m, x, y: (x * 1).neg_().abs_().add_(1).log_().exp_(),
    "tanh_": lambda m, x, y: (x * 1).tanh_() * x,
    "relu_": lambda m, x, y: (x - 0.1).relu_() * x,
    "sigmoid_": lambda m, x, y: (x + y).sigmoid_(),
    "clamp_": lambda m, x, y: (x * 1).clamp_(-0.5, 0.5) * x,
    "pow_": lambda m, x, y: (x * 1).pow_(2) + x,
    "copy_into_graph": lambda m, x, y: (x * 1).copy_(y) * x,
    "fill_then_use": lambda m, x, y: (x * 2).fill_(1.5) + x,
    "fill_tensor": lambda m, x, y: (x * 2).fill_(y[0] * 3) * x,
    "zero_": lambda m, x, y: (x * 2).zero_() + y,
    "plain_target_gets_graph": lambda m, x, y: m.zeros(3, 4, dtype=x.dtype).add_(x).mul_(y),
    "setitem_then_update": lambda m, x, y: _setitem_update(x, y),
}
# Sequences PyTorch refuses (it saves relu's output, and y.mul_(y) needs y's old value twice) but
# chainrule computes correctly, keeping a copy of the old value where a rule saved it: gradcheck only.
GRAPH_CHAINRULE_ONLY = {
    "relu_then_sigmoid": lambda m, x, y: (x - 0.1).relu_().sigmoid_(),
    "self_as_argument": lambda m, x, y: (x * 1).mul_(x * 1).mul_(y),
    "mul_self": lambda m, x, y: _mul_self(x),
}


def _mul_self(x):
    z = x * 1
    z.mul_(z)
    return z


def _setitem_update(x, y):
    z = x * 1
    z[1] = y
    z.mul_(x)
    z[[0, 2], 1:] = y[:3] * 2
    z[:, 0] = 0.0
    return z


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_inplace_in_graph_against_torch(name):
    torch = require_torch()
    fn = GRAPH[name]
    check_against_torch(lambda a, b: fn(cr, a, b), lambda a, b: fn(torch, a, b), [rand((3, 4)), rand((4,), seed=1)])


@pytest.mark.parametrize("name", sorted(GRAPH) + sorted(GRAPH_CHAINRULE_ONLY))
def test_inplace_in_graph_gradcheck(name):
    fn = GRAPH.get(name) or GRAPH_CHAINRULE_ONLY[name]
    assert cr.autograd.gradcheck(lambda a, b: fn(cr, a, b), (rand((3, 4)), rand((4,), seed=1)))


def test_chain_gradient_is_nine():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    _chain(cr, x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [9.0, 9.0, 9.0])


def test_copy_and_fill_over_infinite_values():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    y[0] = float("inf")
    np.testing.assert_array_equal(y.clone().copy_(cr.tensor([3.0, 4.0])).detach().numpy(), [3.0, 4.0])
    np.testing.assert_array_equal(y.clone().fill_(0.5).detach().numpy(), [0.5, 0.5])


def test_inplace_result_takes_over_the_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    node = y.grad_fn
    assert y.add_(1) is y
    assert y.grad_fn is not node and y.requires_grad and not y.is_leaf


# ---------------------------------------------------------------------------- version checks
def test_modified_saved_output_raises():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y += 1
    with pytest.raises(cr.ChainruleError, match=r"output of ExpBackward0, which it saved .* modified by an in-place"):
        y.sum().backward()


def test_modified_saved_input_raises():
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    c = a * 1
    d = c * c
    c += 1
    with pytest.raises(cr.ChainruleError, match=r"MulBackward0 saved .* modified by an in-place operation "
                                                r"\(version 0 when saved, 1 now\)"):
        d.sum().backward()


def test_modified_saved_input_through_a_view_raises():
    a = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    c = a * 1
    d = c.sin()  # saves c
    with cr.no_grad():
        c.T[0] += 1  # a view shares c's version counter
    with pytest.raises(cr.ChainruleError, match=r"SinBackward0 saved"):
        d.sum().backward()


def test_torch_agrees_on_what_raises():
    torch = require_torch()
    t = torch.tensor([1.0, 2.0], requires_grad=True)
    y = t.exp()
    y += 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_modification_nothing_saved_needs_is_fine():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y += 1
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = a * 3  # saves only the constant 3
    a2 = a * 1
    a2.add_(1)
    (b + a2).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [4.0, 4.0])


# ---------------------------------------------------------------------------- views
def test_view_update_changes_base_and_bumps_its_version():
    x = cr.zeros(2, 3)
    y = x.T
    y += 1
    assert x._version == 1 == y._version
    np.testing.assert_array_equal(x.numpy(), np.ones((2, 3)))
    x.mul_(2)
    assert y._version == 2
    np.testing.assert_array_equal(y.numpy(), np.full((3, 2), 2.0))


def test_view_of_view_shares_the_counter():
    x = cr.zeros(4, 6)
    v = x.reshape(2, 12)[1].reshape(3, 4)
    v.fill_(1.0)
    assert x._version == 1 and x.sum().item() == 12


def test_writing_into_expanded_view_raises():
    x = cr.zeros(3)
    y = x.expand(2, 3)
    with pytest.raises(cr.ChainruleError, match=r"add_: cannot write into an expanded \(broadcast\) view of "
                                                r"shape \(2, 3\).*\.clone\(\)"):
        y += 1
    with pytest.raises(cr.ChainruleError, match=r"setitem: cannot write into an expanded"):
        y[0] = 1.0
    y.clone().add_(1)  # the suggested fix works


def test_view_of_graph_tensor_in_place_raises_clearly():
    y = cr.tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(cr.ChainruleError, match=r"in-place change of a view .*\(base\[index\] = value\)"):
        y[0] += 1
    base = cr.zeros(2, 3)  # outside the graph: the base would miss the view's new graph
    with pytest.raises(cr.ChainruleError, match=r"add_: in-place change of a view \(shape \(3, 2\)\) of another"):
        base.T.add_(cr.ones(3, 2, requires_grad=True))
    assert base.sum().item() == 0
    with cr.no_grad():
        base.T.add_(cr.ones(3, 2, requires_grad=True))
    assert base.sum().item() == 6


# ---------------------------------------------------------------------------- errors
def test_leaf_requiring_grad_outside_no_grad_raises():
    torch = require_torch()
    x = cr.zeros(3, requires_grad=True)
    for update in (lambda: x.add_(1), lambda: x.__imul__(2), lambda: x.zero_(), lambda: x.__setitem__(0, 1.0)):
        with pytest.raises(cr.ChainruleError, match=r"a leaf tensor that requires grad .*no_grad\(\)"):
            update()
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        torch.zeros(3, requires_grad=True).add_(1)
    assert x._version == 0 and x.sum().item() == 0


@pytest.mark.parametrize("update,match", [
    (lambda x: x.__itruediv__(2), r"div_: cannot update a int64 tensor of shape \(3,\) in place .*'divide'"),
    (lambda x: x.mul_(1.5), r"mul_: cannot update a int64 tensor"),
    (lambda x: x.add_(x.double()), r"add_: cannot update a int64 tensor"),
    (lambda x: x.add_(x.reshape(3, 1)), r"add_: cannot update a int64 tensor of shape \(3,\) .*\[\(3, 1\)\]"),
])
def test_dtype_and_shape_errors(update, match):
    torch = require_torch()
    x = cr.tensor([1, 2, 3])
    with pytest.raises(cr.ChainruleError, match=match):
        update(x)
    assert x.tolist() == [1, 2, 3] and x._version == 0
    with pytest.raises(RuntimeError):  # torch refuses the same updates
        update(torch.tensor([1, 2, 3]))


def test_in_graph_shape_error():
    y = cr.zeros(3, requires_grad=True) * 1
    with pytest.raises(cr.ChainruleError, match=r"add_: the result has shape \(2, 3\), which cannot be written"):
        y.add_(cr.ones(2, 3))


def test_integer_updates_that_keep_the_dtype_work():
    torch = require_torch()
    x, t = cr.tensor([1, 2, 3]), torch.tensor([1, 2, 3])
    for v in (x, t):
        v += 2
        v *= 3
        v -= 1
        v.copy_(v // 2)
    assert x.dtype == cr.int64 and x.tolist() == t.tolist()


# ---------------------------------------------------------------------------- x[key] = value
# name: (key, value shape or a number): the forms of indexing, as keys into a (4, 5) tensor
SETITEMS = {
    "int": (1, (5,)), "neg_int": (-1, 2.5), "slice": (slice(1, 3), (2, 5)), "step": (slice(None, None, 2), (1, 5)),
    "int_int": ((2, 3), ()), "column": ((slice(None), 0), (4,)), "ellipsis": ((Ellipsis, 1), 0.5),
    "none": ((None, 0), (1, 5)), "leading_ones": (0, (1, 1, 5)),
    "list": ([3, 0], (2, 5)), "list_repeated": ([1, 2, 1], (3, 5)), "list_broadcast": ([0, 2], (5,)),
    "tensor_2d": (np.array([[0, 1], [3, 3]]), (5,)), "int32": (np.array([2, 0], np.int32), (2, 1)),
    "mask": (np.array([True, False, True, False]), (2, 5)), "mask_2d": (np.eye(4, 5, dtype=bool), (4,)),
    "mask_number": (np.eye(4, 5, dtype=bool), -1.0), "pair_of_lists": (([0, 1, 1], [4, 0, 0]), (3,)),
    "slice_list": ((slice(1, None), [0, 0, 2]), (3, 3)), "empty_mask": (np.zeros(4, bool), 7.0),
    "empty_list": ([], (5,)),
}


def _setitem_case(name, lib):
    key, value = SETITEMS[name]
    torch = require_torch()
    if isinstance(key, tuple):
        key = tuple(torch.from_numpy(k) if lib is torch and isinstance(k, np.ndarray) else k for k in key)
    elif isinstance(key, np.ndarray):
        key = torch.from_numpy(key) if lib is torch else cr.from_numpy(key)
    return key, value


def _set(m, x, v, key):
    y = x * 1
    y[key] = v
    return y * x


@pytest.mark.parametrize("name", sorted(SETITEMS))
def test_setitem_in_graph_against_torch(name):
    """Gradients flow to the old value (zero where overwritten) and to the value."""
    torch = require_torch()
    value = SETITEMS[name][1]
    inputs = [rand((4, 5))] + ([rand(value, seed=1)] if isinstance(value, tuple) else [])
    fn = (lambda m, x, *v: _set(m, x, v[0] if v else value, _setitem_case(name, m)[0]))
    check_against_torch(lambda *a: fn(cr, *a), lambda *a: fn(torch, *a), inputs)


@pytest.mark.parametrize("name", sorted(set(SETITEMS) - {"list_repeated", "pair_of_lists", "slice_list", "tensor_2d"}))
def test_setitem_gradcheck(name):
    key, value = _setitem_case(name, cr)
    inputs = (rand((4, 5)),) + ((rand(value, seed=1),) if isinstance(value, tuple) else ())
    assert cr.autograd.gradcheck(lambda x, *v: _set(cr, x, v[0] if v else value, key), inputs)


@pytest.mark.parametrize("name", sorted(SETITEMS))
def test_setitem_without_graph_against_torch(name):
    torch = require_torch()
    value = SETITEMS[name][1]
    x, tx = _pair((4, 5), requires_grad=True)
    v, tv = _pair(value, seed=1) if isinstance(value, tuple) else (value, value)
    with cr.no_grad():
        x[_setitem_case(name, cr)[0]] = v
    with torch.no_grad():
        tx[_setitem_case(name, torch)[0]] = tv
    assert x.is_leaf and x._version == 1
    assert_close(x, tx)
    plain, tplain = _pair((4, 5))
    plain[_setitem_case(name, cr)[0]] = v
    tplain[_setitem_case(name, torch)[0]] = tv
    assert_close(plain, tplain)


def test_setitem_second_derivatives():
    def fn(x, v):
        y = x * x
        y[[0, 2]] = v * v
        y[:, 1] = 2.0
        return y

    assert cr.autograd.gradgradcheck(fn, (rand((3, 4)), rand((4,), seed=1)))


def test_setitem_value_forms_and_dtypes():
    torch = require_torch()
    x, t = cr.zeros(3, 4), torch.zeros(3, 4)
    for key, value in [(0, [1.0, 2.0, 3.0, 4.0]), (1, np.arange(4.0)), (2, cr.tensor([1, 2, 3, 4])),
                       ((slice(None), 0), cr.tensor(5.0, dtype=cr.float64)), ((0, 0), True)]:
        x[key] = value
        t[key] = torch.as_tensor(value.numpy() if isinstance(value, cr.Tensor) else value)
    assert x.dtype == cr.float32
    assert_close(x, t)
    n = cr.zeros(3, dtype=cr.int64)
    n[0] = 2.7
    n[1:] = cr.tensor([1.9, -1.9])
    assert n.tolist() == [2, 1, -1] and n.dtype == cr.int64


def test_setitem_value_gets_gradient_through_dtype_conversion():
    x = cr.zeros(2, 3, requires_grad=True)
    v = cr.tensor([1.0, 2.0, 3.0], dtype=cr.float64, requires_grad=True)
    y = x * 1
    y[1] = v
    (y * 2).sum().backward()
    assert v.grad.dtype == cr.float64 and v.grad.tolist() == [2.0, 2.0, 2.0]
    np.testing.assert_array_equal(x.grad.numpy(), [[2, 2, 2], [0, 0, 0]])


def test_setitem_on_plain_tensor_with_grad_value_joins_the_graph():
    v = cr.tensor([1.0, 2.0], requires_grad=True)
    buffer = cr.zeros(3, 2)
    buffer[1] = v
    assert buffer.requires_grad and not buffer.is_leaf
    (buffer * buffer).sum().backward()
    np.testing.assert_array_equal(v.grad.numpy(), [2.0, 4.0])


def test_setitem_leaf_requiring_grad_raises_and_works_under_no_grad():
    x = cr.zeros(2, 3, requires_grad=True)
    with pytest.raises(cr.ChainruleError, match=r"setitem: a leaf tensor that requires grad \(shape \(2, 3\)\)"):
        x[0] = 1.0
    with cr.no_grad():
        x[0] = 1.0
        x[1, [0, 0]] = cr.tensor([2.0, 3.0])
    assert x.tolist() == [[1.0, 1.0, 1.0], [3.0, 0.0, 0.0]]
    assert x.is_leaf and x.requires_grad and x._version == 2


def test_setitem_through_views_and_version():
    x = cr.zeros(3, 4)
    col = x[:, 1]
    col[[0, 2]] = 5.0
    assert x[:, 1].tolist() == [5.0, 0.0, 5.0] and x._version == 1


def test_setitem_saved_tensor_check():
    a = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    c = a * 1
    d = c * c
    c[0] = 0.0
    with pytest.raises(cr.ChainruleError, match=r"MulBackward0 saved .* modified by an in-place operation"):
        d.sum().backward()


@pytest.mark.parametrize("key,value,match", [
    (5, 1.0, r"index 5 is out of bounds for dimension 0 with size 4"),
    ((0, 0, 0), 1.0, r"too many indices"),
    (np.array([True, False]), 1.0, r"shape of the mask \(2,\)"),
    (0, np.ones(3), r"setitem: cannot assign a value of shape \(3,\) to a selection of shape \(5,\) of a "
                    r"tensor of shape \(4, 5\)"),
    (cr.tensor([0.0]), 1.0, r"must be int64, int32 or bool tensors"),
])
def test_setitem_errors(key, value, match):
    x = rand((4, 5), requires_grad=False)
    with pytest.raises(cr.ChainruleError, match=match):
        x[key] = value
    y = rand((4, 5)) * 1
    with pytest.raises(cr.ChainruleError, match=match):
        y[key] = value


def test_index_put_methods():
    torch = require_torch()
    x, t = _pair((4, 5))
    idx = ([0, 0, 3], [1, 1, 2])
    v = cr.tensor([1.0, 2.0, 3.0], dtype=cr.float64)
    tv = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    for accumulate in (False, True):
        out = x.index_put(tuple(cr.tensor(i) for i in idx), v, accumulate)
        expected = t.index_put(tuple(torch.tensor(i) for i in idx), tv, accumulate)
        assert_close(out, expected)
    x.index_put_((cr.tensor(idx[0]),), cr.tensor(9.0, dtype=cr.float64))
    t.index_put_((torch.tensor(idx[0]),), torch.tensor(9.0, dtype=torch.float64))
    assert_close(x, t)


# ------------------------------------------------------------------ operations recorded before an in-place change
REBASE_CASES = {
    "consumer before mul_": lambda m, x: _consumer_before_mul(x),
    "index += on a graph tensor": lambda m, x: _index_add_pattern(x),
    "shift by setitem": lambda m, x: _shift_pattern(x),
}


def _consumer_before_mul(x):
    y = x * 1
    z = y * 2
    y.mul_(x)
    return z.sum() + y.sum()


def _index_add_pattern(x):
    y = x * 1
    y[[0, 1]] += 1
    return (y * y).sum()


def _shift_pattern(x):
    y = x * 1
    y[1:] = y[:-1] * 2
    return (y * x).sum()


@pytest.mark.parametrize("name", sorted(REBASE_CASES))
def test_operations_recorded_before_an_in_place_change_use_the_old_producer(name):
    torch = require_torch()
    fn = REBASE_CASES[name]
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    tx = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    fn(cr, x).backward()
    fn(torch, tx).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)
