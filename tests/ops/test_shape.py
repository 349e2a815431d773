"""The shape op table: gradcheck (float64), values and gradients against PyTorch, second
derivatives, views sharing memory and version counters, NumPy dispatch and error messages."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from tests.helpers import check_against_torch, rand, require_torch


def _pad(m, x, pad, mode="constant", value=None):
    """``pad`` under each library's name: ``cr.pad`` and ``torch.nn.functional.pad``."""
    fn = m.pad if m is cr else m.nn.functional.pad
    return fn(x, pad, mode=mode) if value is None else fn(x, pad, mode=mode, value=value)


# name: (fn(module, *inputs) written once for chainrule and torch, [input shapes, one tuple per case])
OPS = {
    "reshape": (lambda m, x: x.reshape(x.shape[-1], -1), [((3, 4),), ((1, 5),), ((0, 3),), ((2, 3, 2),)]),
    "reshape_fn": (lambda m, x: m.reshape(x, (-1,)), [((3, 4),), ((),), ((2, 0),)]),
    "view": (lambda m, x: x.view(-1, x.shape[-1]), [((2, 3, 4),), ((1, 1),), ((0, 2),)]),
    "view_as": (lambda m, x: x.view_as(m.zeros(x.numel())), [((3, 4),)]),
    "reshape_as": (lambda m, x: x.reshape_as(m.zeros(x.numel(), 1)), [((3, 4),)]),
    "flatten": (lambda m, x: m.flatten(x), [((3, 4),), ((2, 1, 3),), ((),), ((0, 4),)]),
    "flatten_mid": (lambda m, x: x.flatten(1, -1), [((2, 3, 4),), ((2, 1, 1),), ((2, 0, 3),)]),
    "unflatten": (lambda m, x: x.unflatten(-1, (2, -1)), [((3, 4),), ((2,),), ((0, 6),)]),
    "squeeze_all": (lambda m, x: x.squeeze(), [((1, 3, 1),), ((3, 4),), ((1,),), ((0, 1),)]),
    "squeeze_dim": (lambda m, x: m.squeeze(x, -1), [((3, 1),), ((3, 4),), ((1, 0, 1),)]),
    "squeeze_dims": (lambda m, x: x.squeeze((0, -1)), [((1, 3, 1),), ((2, 3, 1),)]),
    "unsqueeze": (lambda m, x: x.unsqueeze(-1), [((3, 4),), ((),), ((0,),)]),
    "unsqueeze_0": (lambda m, x: m.unsqueeze(x, 1), [((3, 4),), ((2,),)]),
    "permute": (lambda m, x: x.permute(2, 0, 1), [((2, 3, 4),), ((1, 3, 1),), ((2, 0, 3),)]),
    "transpose": (lambda m, x: m.transpose(x, 0, -1), [((3, 4),), ((2, 1, 3),), ((5,),)]),
    "t": (lambda m, x: x.t(), [((3, 4),), ((4,),)]),
    "mT": (lambda m, x: x.mT, [((2, 3, 4),)]),
    "movedim": (lambda m, x: m.movedim(x, 0, -1), [((2, 3, 4),), ((1, 3),), ((0, 2),)]),
    "movedim_tuple": (lambda m, x: x.movedim((0, 1), (2, 0)), [((2, 3, 4),), ((1, 2, 1),)]),
    "expand": (lambda m, x: x.expand(2, -1, 3), [((1, 3),), ((4, 1),), ((0, 1),)]),
    "expand_as": (lambda m, x: x.expand_as(m.zeros(2, 3, 4)), [((3, 1),), ((4,),), ((1, 1),)]),
    "narrow": (lambda m, x: x.narrow(-1, 1, 2), [((3, 4),), ((1, 3),), ((0, 5),)]),
    "narrow_neg": (lambda m, x: m.narrow(x, 0, -2, 2), [((3, 4),), ((2,),)]),
    "clone": (lambda m, x: x.clone(), [((3, 4),), ((),), ((0,),)]),
    "contiguous": (lambda m, x: x.contiguous() * 1, [((3, 4),), ((1,),)]),
    "repeat": (lambda m, x: x.repeat(2, 1, 3), [((3, 4),), ((1, 2),), ((0, 2),), ((2,),)]),
    "repeat_ones": (lambda m, x: x.repeat(1, 1), [((3, 4),)]),
    "tile": (lambda m, x: x.tile(2), [((3, 4),), ((2,),)]),
    "tile_more": (lambda m, x: m.tile(x, (2, 1, 1)), [((3, 4),), ((1,),)]),
    "flip": (lambda m, x: m.flip(x, (0, -1)), [((3, 4),), ((1, 5),), ((2, 0),)]),
    "flip_method": (lambda m, x: x.flip(-1), [((2, 3, 4),), ((3,),)]),
    "roll": (lambda m, x: m.roll(x, 2, 0), [((3, 4),), ((1, 3),), ((0, 2),)]),
    "roll_dims": (lambda m, x: x.roll((1, -3), (0, -1)), [((3, 4),), ((2, 1),)]),
    "roll_flat": (lambda m, x: m.roll(x, 3), [((3, 4),), ((2,),)]),
    "cat": (lambda m, x, y: m.cat([x, y], dim=-1), [((3, 4), (3, 2)), ((1, 1), (1, 3)), ((2, 0), (2, 3))]),
    "cat3": (lambda m, x, y, z: m.cat((x, y, z)), [((2, 3), (1, 3), (4, 3)), ((1,), (0,), (2,))]),
    "concat": (lambda m, x, y: m.concat([x, y], 1), [((2, 3, 1), (2, 2, 1))]),
    "stack": (lambda m, x, y: m.stack([x, y], 1), [((3, 4), (3, 4)), ((1,), (1,)), ((0, 2), (0, 2))]),
    "stack_neg": (lambda m, x, y, z: m.stack([x, y, z], -1),
                  [((3,), (3,), (3,)), ((1, 2), (1, 2), (1, 2)), ((), (), ())]),
    "split": (lambda m, x: m.split(x, 2, dim=-1), [((3, 4),), ((3, 5),), ((2, 1),), ((2, 0),)]),
    "split_sections": (lambda m, x: x.split([1, 0, 2], 0), [((3, 4),), ((3,),)]),
    "chunk": (lambda m, x: m.chunk(x, 3, 1), [((2, 6),), ((2, 5),), ((2, 1),), ((3, 0),)]),
    "unbind": (lambda m, x: m.unbind(x, 1), [((3, 4),), ((2, 1),), ((0, 2),)]),
    "unbind_0": (lambda m, x: x.unbind(), [((3, 4),), ((4,),)]),
    "pad": (lambda m, x: _pad(m, x, (1, 2)), [((3, 4),), ((1,),), ((0, 2),)]),
    "pad_2d_value": (lambda m, x: _pad(m, x, (1, 0, 2, 1), value=0.5), [((3, 4),), ((2, 1, 1),)]),
    "pad_crop": (lambda m, x: _pad(m, x, (-1, 2, 1, -1)), [((3, 4),), ((2, 3, 2),)]),
    "pad_reflect": (lambda m, x: _pad(m, x, (2, 1), "reflect"), [((2, 4),), ((1, 2, 3),)]),
    "pad_reflect_2d": (lambda m, x: _pad(m, x, (1, 2, 1, 0), "reflect"), [((2, 3, 4),), ((1, 2, 3, 3),)]),
    "pad_replicate": (lambda m, x: _pad(m, x, (2, 1, 0, 3), "replicate"), [((2, 3, 4),), ((1, 1, 1),)]),
    "pad_circular": (lambda m, x: _pad(m, x, (3, 1), "circular"), [((2, 4),), ((1, 2, 3),)]),
    "pad_circular_crop": (lambda m, x: _pad(m, x, (-1, 2, 1, 1), "circular"), [((1, 3, 4),)]),
}
CASES = [(name, shapes) for name, (_, cases) in OPS.items() for shapes in cases]
# every case on contiguous inputs and on transposed (strided) ones; view needs compatible strides
GRADCHECK_CASES = [(name, shapes, contiguous) for name, shapes in CASES for contiguous in (True, False)
                   if contiguous or not name.startswith("view")]


def _inputs(shapes, dtype=cr.float64, contiguous=True):
    return [rand(s, dtype, seed=i, contiguous=contiguous) for i, s in enumerate(shapes)]


@pytest.mark.parametrize("name,shapes,contiguous", GRADCHECK_CASES,
                         ids=[f"{n}-{s}-{'contiguous' if c else 'strided'}" for n, s, c in GRADCHECK_CASES])
def test_gradcheck(name, shapes, contiguous):
    fn = OPS[name][0]
    assert cr.autograd.gradcheck(lambda *xs: fn(cr, *xs), _inputs(shapes, contiguous=contiguous))


@pytest.mark.parametrize("name,shapes", CASES, ids=[f"{n}-{s}" for n, s in CASES])
@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
def test_against_torch(name, shapes, dtype):
    torch = require_torch()
    fn = OPS[name][0]
    inputs = _inputs(shapes, dtype, contiguous=name.startswith("view"))
    check_against_torch(lambda *xs: fn(cr, *xs), lambda *ts: fn(torch, *ts), inputs)


SECOND_ORDER = ["cat", "cat3", "stack", "pad", "pad_crop", "pad_reflect_2d", "pad_replicate", "pad_circular",
                "repeat", "tile_more", "flip", "expand", "split", "split_sections", "chunk", "unbind", "roll_dims",
                "narrow", "movedim_tuple", "squeeze_all", "clone"]


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_second_derivatives(name):
    fn, cases = OPS[name]
    # multiply by the input so that the second derivative is not trivially zero
    f = (lambda *xs: tuple(o * o for o in fn(cr, *xs))) if name in ("split", "split_sections", "chunk", "unbind") \
        else (lambda *xs: fn(cr, *xs) ** 2)
    assert cr.autograd.gradgradcheck(f, _inputs(cases[0]))


def test_second_derivatives_of_linear_ops_pass_through_grad_outputs():
    x, y = rand((2, 3)), rand((2, 2), seed=1)
    assert cr.autograd.gradgradcheck(lambda a, b: cr.cat([a, b], 1), (x, y))
    assert cr.autograd.gradgradcheck(lambda a: cr.pad(a, (1, 1)), (x,))


# ------------------------------------------------------------------ views share memory and versions
VIEWS = {
    "reshape": lambda x: x.reshape(4, 3), "view": lambda x: x.view(2, 6), "flatten": lambda x: x.flatten(),
    "unflatten": lambda x: x.unflatten(1, (2, 2)), "squeeze": lambda x: x.unsqueeze(0).squeeze(0),
    "unsqueeze": lambda x: x.unsqueeze(1), "permute": lambda x: x.permute(1, 0), "T": lambda x: x.T,
    "transpose": lambda x: x.transpose(0, 1), "movedim": lambda x: x.movedim(0, 1),
    "expand": lambda x: x.unsqueeze(0).expand(2, 3, 4),
    "narrow": lambda x: x.narrow(1, 1, 2), "split": lambda x: x.split(2, 1)[1], "chunk": lambda x: x.chunk(2, 0)[0],
    "unbind": lambda x: x.unbind(1)[2], "view_as": lambda x: x.view_as(cr.zeros(12)),
}


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_views_share_memory_and_version(name):
    x = cr.tensor(np.arange(12.0).reshape(3, 4))
    v = VIEWS[name](x)
    assert np.shares_memory(v._data, x._data)
    before = v.numpy().copy()
    x._data[...] += 100  # a write to the base's memory shows in the view
    np.testing.assert_array_equal(v.numpy(), before + 100)
    assert v._version == x._version == 0
    x.add_(1)  # an in-place op on the base bumps the counter the view shares
    assert v._version == x._version == 1
    np.testing.assert_array_equal(v.numpy(), before + 101)


@pytest.mark.parametrize("fn", [lambda x: x.flip(0), lambda x: x.roll(1, 0), lambda x: x.repeat(1, 1),
                                lambda x: cr.cat([x]), lambda x: cr.stack([x]), lambda x: x.clone(),
                                lambda x: cr.pad(x, (1, 1)), lambda x: x.T.contiguous(), lambda x: x.T.reshape(-1),
                                lambda x: x.tile(2), lambda x: cr.pad(x, (-1, -1)), lambda x: cr.pad(x, (0, 0)),
                                lambda x: cr.pad(x, (0, 0, -1, 0), mode="reflect")],
                         ids=["flip", "roll", "repeat", "cat", "stack", "clone", "pad", "contiguous", "reshape_copy",
                              "tile", "pad_crop", "pad_nothing", "pad_reflect_crop"])
def test_copies_do_not_share_memory(fn):
    x = cr.tensor(np.arange(12.0).reshape(3, 4))
    out = fn(x)
    assert not np.shares_memory(out._data, x._data)
    assert out._version == 0 and out._data.flags.writeable


def test_contiguous_returns_self_only_when_contiguous():
    x = rand((3, 4))
    assert x.contiguous() is x and x.is_contiguous()
    xt = x.T
    assert not xt.is_contiguous()
    c = xt.contiguous()
    assert c.is_contiguous() and c._data.flags.c_contiguous and c.requires_grad
    c.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((3, 4)))


def test_view_of_transposed_tensor_raises_and_reshape_copies():
    x = rand((3, 4))
    with pytest.raises(cr.ChainruleError, match=r"view: view size is not compatible.*\(4, 3\).*reshape"):
        x.T.view(12)
    r = x.T.reshape(12)
    np.testing.assert_array_equal(r.detach().numpy(), x.detach().numpy().T.reshape(12))
    assert not np.shares_memory(r._data, x._data)
    assert x.T.view(4, 1, 3).shape == (4, 1, 3)  # adding size-1 dimensions is always a view


def test_multi_output_gradients_with_unused_outputs():
    torch = require_torch()
    x = rand((5, 3))
    tx = torch.from_numpy(x.detach().numpy().copy()).requires_grad_()
    a, _, c = x.split([2, 1, 2])
    ta, _, tc = tx.split([2, 1, 2])
    (a.sum() * 2 + (c * c).sum()).backward()
    (ta.sum() * 2 + (tc * tc).sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    parts = x.unbind(1)
    assert parts[1].grad_fn is parts[0].grad_fn
    cr.autograd.grad(parts[1].sum(), x)[0].numpy()  # one used output of three


def test_cat_promotes_dtypes_and_skips_legacy_empty():
    a = cr.tensor([[1, 2]])
    b = rand((1, 2), cr.float32)
    out = cr.cat([a, b])
    assert out.dtype == cr.float32 and out.shape == (2, 2)
    assert cr.stack([a, cr.tensor([[1.5, 2.5]], dtype=cr.float64)]).dtype == cr.float64
    x = rand((2, 3))
    y = cr.cat([cr.tensor([]), x], 1)
    np.testing.assert_array_equal(y.detach().numpy(), x.detach().numpy())
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 3)))


def test_split_and_chunk_sizes_match_torch():
    torch = require_torch()
    for n in (0, 1, 5, 6, 7):
        for k in (1, 2, 3, 4):
            x, tx = cr.zeros(n, 2), torch.zeros(n, 2)
            assert [p.shape for p in x.chunk(k)] == [tuple(p.shape) for p in tx.chunk(k)], (n, k)
            assert [p.shape for p in x.split(k)] == [tuple(p.shape) for p in tx.split(k)], (n, k)
    assert [p.shape for p in cr.zeros(0, 2).split(0)] == [(0, 2)]


def test_squeeze_of_non_unit_dim_is_a_no_op():
    x = rand((2, 3))
    assert x.squeeze(0).shape == (2, 3) and x.squeeze((0, 1)).shape == (2, 3)
    assert rand((1, 3, 1)).squeeze((0,)).shape == (3, 1)
    assert rand(()).squeeze(0).shape == () and rand(()).unsqueeze(0).shape == (1,)


def test_flatten_same_dim_returns_the_tensor():
    x = rand((2, 3))
    assert x.flatten(1, 1) is x
    assert cr.flatten(rand(())).shape == (1,)


# ------------------------------------------------------------------ NumPy functions dispatch here
def test_numpy_functions_dispatch_to_differentiable_ops():
    x, y = rand((2, 3)), rand((2, 3), seed=1)
    a, b = x.detach().numpy(), y.detach().numpy()
    cases = [
        lambda m, p, q: m.concatenate([p, q], axis=1),
        lambda m, p, q: m.concatenate([p, q], axis=None),
        lambda m, p, q: m.concat((p, q)),
        lambda m, p, q: m.stack([p, q], axis=-1),
        lambda m, p, q: m.expand_dims(p, (0, -1)),
        lambda m, p, q: m.squeeze(m.expand_dims(p, 1), axis=1),
        lambda m, p, q: m.flip(p), lambda m, p, q: m.flip(p, axis=1),
        lambda m, p, q: m.roll(p, 1), lambda m, p, q: m.roll(p, shift=(1, 2), axis=(0, 1)),
        lambda m, p, q: m.tile(p, (2, 1, 2)), lambda m, p, q: m.moveaxis(p, 0, 1),
        lambda m, p, q: m.pad(p, ((1, 0), (2, 1))),
        lambda m, p, q: m.pad(p, 1, constant_values=3.0),
        lambda m, p, q: m.pad(p, ((0, 1), (2, 2)), mode="reflect"),
        lambda m, p, q: m.pad(p, (1, 2), mode="edge"),
        lambda m, p, q: m.pad(p, ((0, 0), (3, 1)), mode="wrap"),
        lambda m, p, q: m.split(p, 3, axis=1)[1], lambda m, p, q: m.split(p, [1, 5], axis=1)[1],
        lambda m, p, q: m.ravel(p), lambda m, p, q: m.copy(p),
        lambda m, p, q: m.swapaxes(p, 0, 1), lambda m, p, q: m.reshape(p, (3, 2)),
    ]
    if hasattr(np, "unstack"):
        cases.append(lambda m, p, q: m.unstack(p, axis=1)[2])
    for i, fn in enumerate(cases):
        out = fn(np, x, y)
        assert isinstance(out, cr.Tensor) and out.requires_grad, i
        np.testing.assert_array_equal(out.detach().numpy(), fn(np, a, b), err_msg=str(i))


# ------------------------------------------------------------------ errors name the op and the shapes
ERRORS = [
    (lambda: cr.cat([cr.zeros(2, 3), cr.zeros(2, 4)]),
     r"cat: tensors must have the same shape except in dimension 0; got \(2, 3\) and \(2, 4\)"),
    (lambda: cr.cat([cr.zeros(2, 3), cr.zeros(3)]),
     r"cat: tensors must have the same number of dimensions; got \(2, 3\) and \(3,\)"),
    (lambda: cr.cat([cr.zeros(2, 3), cr.zeros(2, 3)], 2),
     r"cat: dimension 2 is out of range for tensors of shape \(2, 3\)"),
    (lambda: cr.cat([cr.zeros(()), cr.zeros(())]), r"cat: zero-dimensional tensors cannot be concatenated"),
    (lambda: cr.cat([]), r"cat: expected a non-empty sequence"),
    (lambda: cr.cat(cr.zeros(2)), r"cat: expected a sequence of tensors, got a single tensor"),
    (lambda: cr.stack([cr.zeros(2, 3), cr.zeros(3, 2)]),
     r"stack: expects each tensor to be equal size; got \(2, 3\) and \(3, 2\)"),
    (lambda: cr.stack([cr.zeros(2), cr.zeros(2)], 2), r"stack: dimension 2 is out of range"),
    (lambda: cr.zeros(3, 4).reshape(5, -1),
     r"reshape: cannot reshape a tensor of shape \(3, 4\) \(12 elements\) into shape \(5, -1\)"),
    (lambda: cr.zeros(3, 4).view(-1, -1), r"view: cannot reshape a tensor of shape \(3, 4\)"),
    (lambda: cr.zeros(3, 4).flatten(1, 0), r"flatten: start_dim \(1\) cannot come after end_dim \(0\)"),
    (lambda: cr.zeros(3, 4).unflatten(1, (3, 2)), r"unflatten: sizes \[3, 2\] do not multiply to the size 4"),
    (lambda: cr.zeros(3, 4).squeeze(2), r"squeeze: dimension 2 is out of range for a tensor with 2 dimensions"),
    (lambda: cr.zeros(3, 4).unsqueeze(3), r"unsqueeze: dimension 3 is out of range"),
    (lambda: cr.zeros(3, 4).permute(0, 0), r"permute: \[0, 0\] is not a permutation .* shape \(3, 4\)"),
    (lambda: cr.zeros(3, 4).permute(0, 3), r"permute: \[0, 3\] is not a permutation"),
    (lambda: cr.zeros(3, 4).transpose(0, 2), r"transpose: dimension 2 is out of range"),
    (lambda: cr.zeros(2, 3, 4).t(), r"t: expects a tensor with at most 2 dimensions, got shape \(2, 3, 4\)"),
    (lambda: cr.zeros(3, 4).movedim((0, 1), 0), r"movedim: source \[0, 1\] and destination \[0\]"),
    (lambda: cr.zeros(3, 4).expand(2, 4), r"expand: cannot expand shape \(3, 4\) to \(2, 4\): dimension 0 has size 3"),
    (lambda: cr.zeros(3).expand(-1, 3),
     r"expand: cannot expand shape \(3,\) to \(-1, 3\): dimension 0 has a new leading"),
    (lambda: cr.zeros(2, 3).expand(3),
     r"expand: cannot expand shape \(2, 3\) to \(3,\): the target has fewer dimensions"),
    (lambda: cr.zeros(3, 4).narrow(1, 3, 2),
     r"narrow: start 3 and length 2 are out of range for dimension 1 of size 4"),
    (lambda: cr.zeros(()).narrow(0, 0, 1), r"narrow: cannot be applied to a zero-dimensional tensor"),
    (lambda: cr.zeros(3, 4).repeat(2), r"repeat: got 1 repeat sizes \[2\] for a tensor of shape \(3, 4\)"),
    (lambda: cr.zeros(3, 4).flip(0, 0), r"flip: dimension list \[0, 0\] repeats a dimension"),
    (lambda: cr.zeros(3, 4).roll((1, 2), 0), r"roll: shifts \[1, 2\] and dims \[0\] must have the same length"),
    (lambda: cr.zeros(3, 4).roll((1, 2)), r"roll: without dims, shifts must be a single int"),
    (lambda: cr.zeros(3, 4).split([1, 1], 0), r"split: sections \[1, 1\] must be non-negative and sum to the size 3"),
    (lambda: cr.zeros(3, 4).split(0, 1), r"split: split_size must be positive"),
    (lambda: cr.zeros(()).split(1), r"split: cannot split a zero-dimensional tensor"),
    (lambda: cr.zeros(3, 4).chunk(0), r"chunk: needs a positive number of chunks .* got 0 chunks"),
    (lambda: cr.zeros(()).chunk(1), r"chunk: needs a positive number of chunks and a tensor with dimensions"),
    (lambda: cr.zeros(()).unbind(), r"unbind: cannot unbind a zero-dimensional tensor"),
    (lambda: cr.zeros(()).unflatten(0, (1,)), r"unflatten: cannot unflatten a zero-dimensional tensor"),
    (lambda: cr.pad(cr.zeros(3, 4), (1, 2, 3)),
     r"pad: the padding \[1, 2, 3\] must have an even length .* shape \(3, 4\)"),
    (lambda: cr.pad(cr.zeros(3, 4), (1, 1), mode="mirror"), r"pad: mode must be one of constant, reflect"),
    (lambda: cr.pad(cr.zeros(3, 4), (-3, -2)),
     r"pad: the padding \[-3, -2\] crops more than a tensor of shape \(3, 4\)"),
    (lambda: cr.pad(cr.zeros(2, 3), (3, 0), mode="reflect"),
     r"pad: reflect padding of \(3, 0\) needs at least 4 entries in dimension 1"),
    (lambda: cr.pad(cr.zeros(2, 3), (0, 4), mode="circular"),
     r"pad: circular padding of \(0, 4\) needs at least 4 entries"),
    (lambda: cr.pad(cr.zeros(2, 0), (1, 1), mode="replicate"), r"pad: replicate padding"),
    (lambda: cr.pad(cr.zeros(2, 3), (1, 1), mode="reflect", value=1.0), r"pad: mode 'reflect' does not take a value"),
]


@pytest.mark.parametrize("fn,message", ERRORS, ids=[m.split(":")[0] + str(i) for i, (_, m) in enumerate(ERRORS)])
def test_errors_name_the_operation_and_shapes(fn, message):
    with pytest.raises(cr.ChainruleError, match=message):
        fn()


# ------------------------------------------------------------------ properties over random shapes
shapes = st.lists(st.integers(0, 4), min_size=0, max_size=4).map(tuple)


@settings(max_examples=40, deadline=None)
@given(shape=shapes, data=st.data())
def test_reshape_and_permute_round_trips(shape, data):
    x = rand(shape, seed=1)
    perm = data.draw(st.permutations(range(len(shape))))
    p = x.permute(*perm) if shape else x.permute()
    back = p.permute(*np.argsort(perm).tolist()) if shape else p
    flat = back.reshape(-1).reshape(shape)
    np.testing.assert_array_equal(flat.detach().numpy(), x.detach().numpy())
    w = np.random.default_rng(2).standard_normal(shape)
    (flat * cr.from_numpy(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), w)


@settings(max_examples=40, deadline=None)
@given(shape=shapes.filter(len), data=st.data())
def test_split_cat_round_trip(shape, data):
    x = rand(shape, seed=3)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    size = data.draw(st.integers(1, 5))
    pieces = x.split(size, dim) if shape[dim] else x.split(0, dim)
    y = cr.cat(pieces, dim)
    np.testing.assert_array_equal(y.detach().numpy(), x.detach().numpy())
    z = cr.stack(x.unbind(dim), dim) if shape[dim] else y
    np.testing.assert_array_equal(z.detach().numpy(), x.detach().numpy())
    w = np.random.default_rng(4).standard_normal(shape)
    (z * cr.from_numpy(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), w)


@pytest.mark.parametrize("fn", [lambda x: cr.pad(x, (1, 1, 0, 2), value=2.0),
                                lambda x: cr.pad(x, (1, 1), mode="reflect"), lambda x: cr.cat([x, x.T.T], 1), lambda x: cr.stack([x, x]), lambda x: x.repeat(2, 1),
                                lambda x: x.flip(0), lambda x: x.roll(1, 1), lambda x: x.split(1)[0]],
                         ids=["pad", "pad_reflect", "cat", "stack", "repeat", "flip", "roll", "split"])
def test_float32_stays_float32(fn):
    x = rand((2, 3), cr.float32)
    out = fn(x)
    assert out.dtype == cr.float32
    out.sum().backward()
    assert x.grad.dtype == cr.float32


def test_module_level_aliases_match_torch():
    torch = require_torch()
    x = rand((2, 3, 4))
    check_against_torch(lambda a: cr.concatenate([a, a], -1), lambda a: torch.concatenate([a, a], -1), [x])
    check_against_torch(lambda a: cr.swapaxes(a, 0, 2), lambda a: torch.swapaxes(a, 0, 2), [x])
    check_against_torch(lambda a: cr.swapdims(a, 0, 1), lambda a: torch.swapdims(a, 0, 1), [x])
    check_against_torch(lambda a: cr.moveaxis(a, -1, 0), lambda a: torch.moveaxis(a, -1, 0), [x])
    check_against_torch(lambda a: cr.broadcast_to(a, (2, 2, 3, 4)), lambda a: torch.broadcast_to(a, (2, 2, 3, 4)), [x])
    check_against_torch(lambda a: cr.permute(a, dims=(1, 2, 0)), lambda a: torch.permute(a, dims=(1, 2, 0)), [x])
    check_against_torch(lambda a: cr.flip(a, dims=[1]), lambda a: torch.flip(a, dims=[1]), [x])
    check_against_torch(lambda a: cr.reshape(a, shape=(4, 6)), lambda a: torch.reshape(a, shape=(4, 6)), [x])
    check_against_torch(lambda a: cr.t(a.flatten(1)), lambda a: torch.t(a.flatten(1)), [x])
