"""The fused softmax / log_softmax table: against PyTorch, float64 gradcheck, second derivatives,
extreme logits and the argument errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import ChainruleError
from tests.helpers import assert_close, check_against_torch, rand, require_torch

OPS = {"softmax": cr.softmax, "log_softmax": cr.log_softmax}
# (shape, dim): vectors, every dim of matrices and 3-D tensors, negative dims, size-1, 0-d and empty
CASES = [((5,), 0), ((3, 4), 1), ((3, 4), 0), ((3, 4), -1), ((2, 3, 4), 1), ((2, 3, 4), -3),
         ((1, 4), 1), ((4, 1), 1), ((), 0), ((), -1), ((0, 3), 1), ((3, 0), 1)]
CASE_IDS = [f"{shape}-dim{dim}" for shape, dim in CASES]


def _torch_op(name):
    torch = require_torch()
    return getattr(torch, name)


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("shape,dim", CASES, ids=CASE_IDS)
def test_gradcheck(name, shape, dim):
    fn = OPS[name]
    assert cr.autograd.gradcheck(lambda x: fn(x, dim), (rand(shape, low=-3, high=3),))
    assert cr.autograd.gradcheck(lambda x: fn(x, dim), (rand(shape, low=-3, high=3, contiguous=False),))


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("shape,dim", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
def test_against_torch(name, shape, dim, dtype):
    fn, torch_fn = OPS[name], _torch_op(name)
    check_against_torch(lambda x: fn(x, dim), lambda t: torch_fn(t, dim), [rand(shape, dtype, -5, 5, contiguous=False)])


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("shape,dim", [((4,), 0), ((2, 3), 1), ((2, 3), 0), ((2, 1, 3), -1)], ids=str)
def test_second_derivatives(name, shape, dim):
    fn = OPS[name]
    assert cr.autograd.gradgradcheck(lambda x: fn(x, dim), (rand(shape, low=-2, high=2),))


@pytest.mark.parametrize("name", sorted(OPS))
def test_tensor_methods_and_keywords(name):
    x = rand((3, 4), low=-2, high=2)
    expected = OPS[name](x, 1)
    assert_close(getattr(x, name)(1), expected)
    assert_close(getattr(x, name)(dim=-1), expected)
    assert_close(OPS[name](input=x, dim=1), expected)


@pytest.mark.parametrize("name", sorted(OPS))
def test_dtype_argument_casts_first(name):
    torch = require_torch()
    x = rand((2, 5), cr.float32, -3, 3)
    out = OPS[name](x, 1, dtype=cr.float64)
    assert out.dtype == cr.float64
    check_against_torch(lambda t: OPS[name](t, 1, dtype=cr.float64),
                        lambda t: _torch_op(name)(t, 1, dtype=torch.float64), [x])
    (g,) = cr.autograd.grad(out.sum(), x)
    assert g.dtype == cr.float32
    ints = OPS[name](cr.tensor([1, 2, 3]), 0, dtype=cr.float32)
    assert_close(ints, _torch_op(name)(torch.tensor([1, 2, 3]), 0, dtype=torch.float32))


def test_softmax_slices_sum_to_one():
    y = cr.softmax(rand((4, 5, 6), low=-20, high=20), dim=1)
    np.testing.assert_allclose(y.detach().numpy().sum(axis=1), 1.0, rtol=1e-14)
    assert (y.detach().numpy() >= 0).all()


# ------------------------------------------------------------------ edge rows, checked against torch
INF = float("inf")
EDGES = [
    ("logits 1e4 apart", [[1e4, 0.0, -1e4]]),
    ("huge equal logits", [[1e4, 1e4, -1e4]]),
    ("one -inf", [[-INF, 0.0, 1.0]]),
    ("rows of different scale", [[1e4, 0.0, -1e4], [1e-3, 2e-3, 0.0]]),
]


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("label,values", EDGES, ids=[e[0] for e in EDGES])
@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
def test_edge_rows_against_torch(name, label, values, dtype):
    x = cr.tensor(np.asarray(values), dtype=dtype, requires_grad=True)
    check_against_torch(lambda t: OPS[name](t, -1), lambda t: _torch_op(name)(t, -1), [x])


@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
def test_log_softmax_of_far_apart_logits_is_finite_and_exact(dtype):
    x = cr.tensor([1e4, 0.0, -1e4], dtype=dtype, requires_grad=True)
    y = cr.log_softmax(x, 0)
    np.testing.assert_array_equal(y.detach().numpy(), [0.0, -1e4, -2e4])
    np.testing.assert_array_equal(cr.softmax(x, 0).detach().numpy(), [1.0, 0.0, 0.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [-2.0, 1.0, 1.0])


def test_non_finite_rows_give_nan_like_torch():
    torch = require_torch()
    rows = [[-INF, -INF], [INF, 0.0]]
    for name in OPS:
        got = OPS[name](cr.tensor(rows, dtype=cr.float64), 1).numpy()
        want = _torch_op(name)(torch.tensor(rows, dtype=torch.float64), 1).numpy()
        np.testing.assert_array_equal(got, want)
        assert np.isnan(got).all()


@pytest.mark.parametrize("name", sorted(OPS))
def test_errors(name):
    fn = OPS[name]
    with pytest.raises(ChainruleError, match=rf"{name}: dimension 2 is out of range for a tensor with 2 dimensions"):
        fn(cr.zeros(2, 3), 2)
    with pytest.raises(ChainruleError, match=rf"{name}: expected a floating tensor, got dtype chainrule.int64"):
        fn(cr.tensor([1, 2]), 0)
    with pytest.raises(ChainruleError, match=rf"{name}: dim must be a single int"):
        fn(cr.zeros(2, 3), None)


def test_output_changed_in_place_blocks_backward():
    x = rand((2, 3))
    y = cr.softmax(x, 1)
    y.mul_(2)
    with pytest.raises(ChainruleError, match="modified by an in-place operation"):
        y.sum().backward()
