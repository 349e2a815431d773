"""The reduction op table: forward and gradients against PyTorch, float64 gradcheck, edge rows."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from tests.helpers import assert_close, check_against_torch, rand, require_torch

INF = math.inf


def _torch():
    return require_torch()


def _all_dims(t, dim):
    """torch's spelling of "every dimension" for ops whose dim cannot be None."""
    return tuple(range(t.ndim)) if dim is None else dim


def _torch_prod(t, dim, keepdim):
    # torch.prod takes one dim: reduce a tuple one dim at a time (highest first, keeping dims)
    if dim is None:
        out = t.prod()
        return out.reshape((1,) * t.ndim) if keepdim else out
    dims = sorted(d % t.ndim for d in ((dim,) if isinstance(dim, int) else dim))
    for d in reversed(dims):
        t = t.prod(d, keepdim=True)
    return t if keepdim else t.squeeze(tuple(dims))


def _norm_row(p):
    # the inf norms have no identity: they cannot reduce an empty dimension
    return (lambda x, d, k: cr.norm(x, p, d, k), lambda t, d, k: t.norm(p, d, k), (-2, 2), "multi",
            p not in (INF, -INF))


# name: (chainrule f(x, dim, keepdim), torch f(t, dim, keepdim), (low, high), kind, empty reduced dim ok)
# kind "multi": dim None, an int or a tuple; "single": one int dim; "full": no dim at all
OPS = {
    "sum": (cr.sum, lambda t, d, k: t.sum(d, k), (-2, 2), "multi", True),
    "mean": (cr.mean, lambda t, d, k: t.mean(d, k), (-2, 2), "multi", True),
    "prod": (cr.prod, _torch_prod, (-1.5, 1.5), "multi", True),
    "var": (lambda x, d, k: cr.var(x, d, keepdim=k), lambda t, d, k: t.var(d, keepdim=k), (-2, 2), "multi", True),
    "var_correction0": (lambda x, d, k: cr.var(x, d, keepdim=k, correction=0),
                        lambda t, d, k: t.var(d, keepdim=k, correction=0), (-2, 2), "multi", True),
    "std": (lambda x, d, k: x.std(d, keepdim=k), lambda t, d, k: t.std(d, keepdim=k), (-2, 2), "multi", True),
    "std_biased": (lambda x, d, k: cr.std(x, d, False, k), lambda t, d, k: t.std(d, False, k), (-2, 2), "multi",
                   True),
    "amax": (cr.amax, lambda t, d, k: t.amax(_all_dims(t, d), k), (-2, 2), "multi", False),
    "amin": (cr.amin, lambda t, d, k: t.amin(_all_dims(t, d), k), (-2, 2), "multi", False),
    "logsumexp": (cr.logsumexp, lambda t, d, k: t.logsumexp(_all_dims(t, d), k), (-3, 3), "multi", True),
    "norm": (lambda x, d, k: cr.norm(x, dim=d, keepdim=k), lambda t, d, k: t.norm(dim=d, keepdim=k), (-2, 2),
             "multi", True),
    **{f"norm_p{p}": _norm_row(p) for p in (1, 3, 1.5, 0.5, INF, -INF, "fro")},
    "max_dim": (lambda x, d, k: cr.max(x, d, k), lambda t, d, k: t.max(d, k), (-2, 2), "single", False),
    "min_dim": (lambda x, d, k: cr.min(x, dim=d, keepdim=k), lambda t, d, k: t.min(dim=d, keepdim=k), (-2, 2),
                "single", False),
    "cumsum": (lambda x, d, k: cr.cumsum(x, d), lambda t, d, k: t.cumsum(d), (-2, 2), "single", True),
    "max": (lambda x, d, k: cr.max(x), lambda t, d, k: t.max(), (-2, 2), "full", False),
    "min": (lambda x, d, k: x.min(), lambda t, d, k: t.min(), (-2, 2), "full", False),
}

# (shape, dim, keepdim, contiguous): plain, negative, tuple, size-1, empty and non-contiguous inputs
GRID = {
    "multi": [((2, 3, 4), d, k, True) for d in (None, 1, -1, (0, 2), (-1, 0)) for k in (False, True)]
    + [((3, 1, 2), 1, False, True), ((3, 1, 2), (0, 1), True, True), ((0, 3), 1, False, True),
       ((0, 3), 0, False, True), ((2, 3, 4), (0, 2), False, False), ((2, 3, 4), None, False, False),
       ((), None, False, True)],
    "single": [((2, 3, 4), d, k, True) for d in (0, 1, -1) for k in (False, True)]
    + [((3, 1, 2), 1, False, True), ((0, 3), 1, False, True), ((0, 3), 0, False, True),
       ((2, 3, 4), 2, False, False), ((), 0, False, True)],
    "full": [((2, 3, 4), None, False, True), ((3, 1, 2), None, False, True), ((2, 3, 4), None, False, False),
             ((), None, False, True)],
}


def _reduces_empty(shape, dim):
    if 0 not in shape:
        return False
    dims = range(len(shape)) if dim is None else ((dim,) if isinstance(dim, int) else dim)
    return any(shape[d] == 0 for d in dims)


def _nan_gradient(name, shape, dim):
    """Single-element slices: var/std with correction 1 are NaN, and std with correction 0 is 0,
    where √ has no derivative; the gradients are NaN, as in torch (checked in test_against_torch)."""
    if name not in ("var", "std", "std_biased") or 0 in shape:
        return False
    dims = range(len(shape)) if dim is None else ((dim,) if isinstance(dim, int) else dim)
    return math.prod(shape[d] for d in dims) <= 1


def _cases(with_nan_gradients):
    return [pytest.param(name, *case, id=f"{name}-{case[0]}-dim{case[1]}-keep{case[2]}-{'c' if case[3] else 'nc'}")
            for name, spec in OPS.items() for case in GRID[spec[3]]
            if (spec[4] or not _reduces_empty(case[0], case[1]))
            and (with_nan_gradients or not _nan_gradient(name, case[0], case[1]))]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # mean/var/std of an empty slice are NaN, as in torch
@pytest.mark.parametrize("name,shape,dim,keepdim,contiguous", _cases(with_nan_gradients=False))
def test_gradcheck(name, shape, dim, keepdim, contiguous):
    fn, _, (low, high), _, _ = OPS[name]
    x = rand(shape, low=low, high=high, contiguous=contiguous)
    assert cr.autograd.gradcheck(lambda x: fn(x, dim, keepdim), (x,))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")  # torch warns about var/std with no degrees of freedom
@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
@pytest.mark.parametrize("name,shape,dim,keepdim,contiguous", _cases(with_nan_gradients=True))
def test_against_torch(name, shape, dim, keepdim, contiguous, dtype):
    fn, torch_fn, (low, high), _, _ = OPS[name]
    x = rand(shape, dtype, low, high, contiguous=contiguous)
    check_against_torch(lambda x: fn(x, dim, keepdim), lambda t: torch_fn(t, dim, keepdim), [x])


SECOND_ORDER = [("var", None, False), ("var", 1, True), ("std", (0, 2), False), ("std_biased", -1, False),
                ("prod", None, False), ("prod", 1, False), ("prod", (0, 2), True), ("logsumexp", (0, 2), False),
                ("logsumexp", -1, True), ("norm", None, False), ("norm", 1, False), ("norm_p3", (0, 2), False),
                ("norm_p1.5", 1, True), ("norm_pinf", 1, False), ("cumsum", 1, False), ("cumsum", -1, False),
                ("amax", (0, 1), False), ("max_dim", 2, False)]


@pytest.mark.parametrize("name,dim,keepdim", SECOND_ORDER, ids=[f"{n}-dim{d}-keep{k}" for n, d, k in SECOND_ORDER])
def test_second_derivatives(name, dim, keepdim):
    fn, _, (low, high), _, _ = OPS[name]
    assert cr.autograd.gradgradcheck(lambda x: fn(x, dim, keepdim), (rand((2, 3, 2), low=low, high=high),))


@pytest.mark.parametrize("dim", [None, 1, 0])
def test_prod_second_derivatives_with_zeros(dim):
    x = cr.tensor([[0.0, 2.0, 3.0], [0.0, 0.0, 2.0], [1.5, -2.0, 0.5]], dtype=cr.float64, requires_grad=True)
    assert cr.autograd.gradgradcheck(lambda x: cr.prod(x, dim), (x,))


# ------------------------------------------------------------------ edge rows, checked against torch
TIES = [[1.0, 3.0, 3.0, -1.0], [2.0, 2.0, 0.0, 2.0], [-4.0, 5.0, -4.0, 5.0]]
EDGES = [
    ("max ties", lambda m, x: m.max(x), [TIES]),
    ("min ties", lambda m, x: m.min(x), [TIES]),
    ("max dim ties (first index)", lambda m, x: m.max(x, 1), [TIES]),
    ("min dim ties (first index)", lambda m, x: m.min(x, 0, True), [TIES]),
    ("max dim ties negative dim", lambda m, x: m.max(x, dim=-1), [TIES]),
    ("amax ties", lambda m, x: m.amax(x, 1), [TIES]),
    ("amax ties tuple", lambda m, x: m.amax(x, (0, 1)), [TIES]),
    ("amin ties", lambda m, x: m.amin(x, 0, True), [TIES]),
    ("all equal", lambda m, x: m.amax(x, 1), [[[2.0, 2.0, 2.0]]]),
    ("prod one zero", lambda m, x: m.prod(x, 1), [[[2.0, 0.0, 3.0, -1.5], [1.0, 2.0, 3.0, 4.0]]]),
    ("prod two zeros", lambda m, x: m.prod(x, 1), [[[0.0, 2.0, 0.0, 3.0], [0.0, 0.0, 0.0, 1.0]]]),
    ("prod zero all", lambda m, x: m.prod(x), [[[2.0, 0.0], [3.0, 4.0]]]),
    ("prod two zeros all", lambda m, x: m.prod(x), [[[0.0, 0.0], [3.0, 4.0]]]),
    ("logsumexp 1e4", lambda m, x: m.logsumexp(x, 0), [[1e4, 1e4, -1e4]]),
    ("logsumexp large rows", lambda m, x: m.logsumexp(x, 1), [[[1e4, 0.0], [-1e4, -1e4], [88.0, 89.0]]]),
    ("logsumexp inf", lambda m, x: m.logsumexp(x, 0), [[INF, 1.0]]),
    ("std of a constant slice", lambda m, x: m.std(x, 1), [[[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]]]),
    ("std biased of one element", lambda m, x: m.std(x, 1, False), [[[2.0], [1.0]]]),
    ("var of a constant slice", lambda m, x: m.var(x, 0), [[2.0, 2.0]]),
    ("norm at zero", lambda m, x: m.norm(x), [[[0.0, 0.0], [0.0, 0.0]]]),
    ("norm at zero dim", lambda m, x: m.norm(x, dim=1), [[[0.0, 0.0], [3.0, 4.0]]]),
    ("norm p1 at zero", lambda m, x: m.norm(x, 1), [[0.0, 0.0, 0.0]]),
    ("norm p3 at zero", lambda m, x: m.norm(x, 3, 0), [[0.0, 0.0, 0.0]]),
    ("norm p0.5 at zero", lambda m, x: m.norm(x, 0.5, 0), [[0.0, 0.0, 0.0]]),
    ("norm p0.5 with a zero", lambda m, x: m.norm(x, 0.5), [[1.0, 0.0, -2.0]]),
    ("norm p1.5 with a zero", lambda m, x: m.norm(x, 1.5), [[1.0, 0.0, -2.0]]),
    ("norm inf ties", lambda m, x: m.norm(x, INF, 1), [[[1.0, -3.0, 3.0], [2.0, -2.0, 0.0]]]),
    ("norm inf at zero", lambda m, x: m.norm(x, INF), [[0.0, 0.0]]),
    ("norm p0", lambda m, x: m.norm(x, 0, 1), [[[1.0, 0.0, 3.0], [0.0, 0.0, 0.0]]]),
]


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # logsumexp([inf, 1]): NaN gradient, as torch
@pytest.mark.parametrize("name,fn,values", EDGES, ids=[e[0] for e in EDGES])
@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
def test_edge_rows_against_torch(name, fn, values, dtype):
    torch = _torch()
    inputs = [cr.tensor(np.asarray(v), dtype=dtype, requires_grad=True) for v in values]
    check_against_torch(lambda *xs: fn(cr, *xs), lambda *ts: fn(torch, *ts), inputs)


def test_logsumexp_of_1e4_is_finite_and_exact():
    for dtype in (cr.float64, cr.float32):
        assert cr.logsumexp(cr.tensor([1e4], dtype=dtype), 0).item() == 1e4
        assert cr.logsumexp(cr.tensor([1e4, 1e4], dtype=dtype), 0).item() == pytest.approx(1e4 + math.log(2))
        assert cr.logsumexp(cr.tensor([-1e4, -1e4], dtype=dtype), 0).item() == pytest.approx(-1e4 + math.log(2))
    x = cr.tensor([1e4, 1e4], dtype=cr.float64, requires_grad=True)
    cr.logsumexp(x, 0).backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.5, 0.5], rtol=1e-12)


def test_cumsum_gradient_is_the_reversed_cumsum():
    x = rand((4, 2))
    x.cumsum(0).backward(cr.tensor([[1.0, 0.0], [2.0, 0.0], [3.0, 1.0], [4.0, 0.0]], dtype=cr.float64))
    np.testing.assert_array_equal(x.grad.numpy(), [[10.0, 1.0], [9.0, 1.0], [7.0, 1.0], [4.0, 0.0]])


def test_prod_gradient_is_exact_with_zeros():
    x = cr.tensor([[2.0, 0.0, 3.0], [0.0, 5.0, 0.0]], dtype=cr.float64, requires_grad=True)
    cr.prod(x, 1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0]])
    assert cr.autograd.gradcheck(lambda x: cr.prod(x, 1), (x,))


def test_max_of_empty_raises():
    with pytest.raises(cr.ChainruleError, match=r"max: cannot reduce .*empty tensor of shape \(0,\).*dim="):
        cr.max(cr.zeros(0))
    with pytest.raises(cr.ChainruleError, match=r"min: cannot reduce over dimension 0 .*shape \(0, 3\)"):
        cr.min(cr.zeros(0, 3), dim=0)
    with pytest.raises(cr.ChainruleError, match="amax: .*empty"):
        cr.amax(cr.zeros(2, 0), 1)
    with pytest.raises(cr.ChainruleError, match="argmax: .*empty"):
        cr.argmax(cr.zeros(0))
    with pytest.raises(cr.ChainruleError, match="norm: .*empty"):
        cr.norm(cr.zeros(0), INF)
    assert cr.max(cr.zeros(0, 3), dim=1).values.shape == (0,)  # reducing a non-empty dim is fine


# ------------------------------------------------------------------ no-gradient reductions
def test_argmax_argmin_against_torch():
    torch = _torch()
    x = cr.tensor(np.array(TIES))
    t = torch.tensor(TIES)
    for dim in (None, 0, 1, -1):
        for keepdim in (False, True):
            for name in ("argmax", "argmin"):
                out = getattr(cr, name)(x, dim, keepdim)
                assert out.dtype == cr.int64
                assert_close(out, getattr(torch, name)(t, dim, keepdim))
    assert cr.argmax(cr.tensor(5.0)).item() == 0
    assert not cr.argmax(rand((3,))).requires_grad


@pytest.mark.parametrize("name", ["all", "any", "count_nonzero"])
def test_boolean_reductions_against_torch(name):
    torch = _torch()
    data = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0], [3.0, 1.0, 1.0]])
    x, t = cr.tensor(data), torch.tensor(data)
    for dim in (None, 0, -1, (0, 1)):
        out = getattr(cr, name)(x, dim) if dim is not None else getattr(cr, name)(x)
        expected = getattr(torch, name)(t, dim) if dim is not None else getattr(torch, name)(t)
        assert out.dtype == (cr.int64 if name == "count_nonzero" else cr.bool)
        assert_close(out, expected)
    if name != "count_nonzero":
        assert_close(getattr(cr, name)(x, 1, True), getattr(torch, name)(t, 1, True))
        assert_close(getattr(cr, name)(cr.zeros(0)), getattr(torch, name)(torch.zeros(0)))


# ------------------------------------------------------------------ dtypes
def test_integer_inputs_follow_torch():
    torch = _torch()
    data = np.array([[1, 2, 3], [4, 0, 6]], dtype=np.int32)
    x, t = cr.tensor(data), torch.from_numpy(data)
    for cr_out, t_out in [(cr.sum(x), t.sum()), (cr.prod(x, 1), t.prod(1)), (cr.cumsum(x, 1), t.cumsum(1)),
                          (cr.amax(x, 0), t.amax(0)), (cr.max(x, 1).values, t.max(1).values),
                          (cr.max(x), t.max()), (cr.min(x, 0).indices, t.min(0).indices),
                          (cr.prod(cr.tensor([True, True])), torch.tensor([True, True]).prod()),
                          (cr.cumsum(cr.tensor([True, False]), 0), torch.tensor([True, False]).cumsum(0))]:
        assert cr_out.dtype.name == str(t_out.dtype).removeprefix("torch.")
        assert_close(cr_out, t_out)
    assert_close(cr.logsumexp(x, 1), torch.logsumexp(t, 1))
    assert cr.logsumexp(x, 1).dtype == cr.float32


@pytest.mark.parametrize("fn,op", [(cr.mean, "mean"), (cr.var, "var"), (cr.std, "std"), (cr.norm, "norm")])
def test_integer_input_errors_name_the_dtype(fn, op):
    with pytest.raises(cr.ChainruleError, match=f"{op}: expected a floating tensor, got dtype chainrule.int64"):
        fn(cr.tensor([1, 2, 3]))


def test_float32_stays_float32():
    x = rand((3, 4), cr.float32)
    for out in (cr.var(x, 1), cr.std(x), cr.prod(x, 0), cr.amax(x, 1), cr.logsumexp(x, 1), cr.norm(x, 3, 1),
                cr.cumsum(x, 0), cr.max(x, 1).values):
        assert out.dtype == cr.float32
        (grad,) = cr.autograd.grad(out.sum(), x)
        assert grad.dtype == cr.float32


# ------------------------------------------------------------------ arguments and errors
def test_var_std_arguments_match_torch():
    torch = _torch()
    x = rand((3, 4))
    t = torch.from_numpy(x.detach().numpy())
    pairs = [(cr.var(x, False), t.var(False)), (cr.var(x, 1, True, True), t.var(1, True, True)),
             (cr.var(x, 0, correction=2), t.var(0, correction=2)),
             (cr.std(x, unbiased=False), t.std(unbiased=False)),
             (x.var(1), t.var(1)), (x.std(dim=0, keepdim=True), t.std(dim=0, keepdim=True))]
    for out, expected in pairs:
        assert_close(out, expected)
    with pytest.raises(cr.ChainruleError, match="var: pass either unbiased or correction"):
        cr.var(x, 0, unbiased=True, correction=0)


BAD_DIMS = [
    ("sum", lambda x: cr.sum(x, 3),
     r"sum: dimension 3 is out of range for a tensor with 2 dimensions \(expected a value in \[-2, 1\]\)"),
    ("prod", lambda x: cr.prod(x, -3), "prod: dimension -3 is out of range"),
    ("var", lambda x: cr.var(x, (0, 0)), r"var: dimension list \[0, 0\] repeats a dimension"),
    ("std", lambda x: cr.std(x, (1, -1)), "std: dimension list .* repeats"),
    ("amax", lambda x: cr.amax(x, (0, 2)), "amax: dimension 2 is out of range"),
    ("max", lambda x: cr.max(x, 2), "max: dimension 2 is out of range"),
    ("max tuple", lambda x: cr.max(x, (0, 1)), r"max: dim must be a single int, got \(0, 1\)"),
    ("min", lambda x: cr.min(x, dim=-3), "min: dimension -3 is out of range"),
    ("argmax", lambda x: cr.argmax(x, 5), "argmax: dimension 5 is out of range"),
    ("cumsum", lambda x: cr.cumsum(x, 2), "cumsum: dimension 2 is out of range"),
    ("cumsum tuple", lambda x: cr.cumsum(x, (0, 1)), "cumsum: dim must be a single int"),
    ("logsumexp", lambda x: cr.logsumexp(x, -4), "logsumexp: dimension -4 is out of range"),
    ("norm", lambda x: cr.norm(x, dim=2), "norm: dimension 2 is out of range"),
    ("all", lambda x: cr.all(x, 2), "all: dimension 2 is out of range"),
    ("count_nonzero", lambda x: cr.count_nonzero(x, (0, 9)), "count_nonzero: dimension 9 is out of range"),
    ("dim and axis", lambda x: cr.amax(x, 0, axis=1), "amax: pass either dim or axis, not both"),
    ("float dim", lambda x: cr.sum(x, (0.5,)), "sum: dim must be an int or a tuple of ints"),
    ("norm nuc", lambda x: cr.norm(x, "nuc"), "norm: p='nuc' is not supported"),
]


@pytest.mark.parametrize("name,call,message", BAD_DIMS, ids=[b[0] for b in BAD_DIMS])
def test_bad_arguments_raise(name, call, message):
    with pytest.raises(cr.ChainruleError, match=message):
        call(rand((2, 3)))


def test_zero_dimensional_inputs_accept_dim_0_and_minus_1():
    torch = _torch()
    x, t = cr.tensor(2.5, dtype=cr.float64), torch.tensor(2.5, dtype=torch.float64)
    for dim in (0, -1):
        assert_close(cr.sum(x, dim), t.sum(dim))
        assert_close(cr.prod(x, dim), t.prod(dim))
        assert_close(cr.cumsum(x, dim), t.cumsum(dim))
        assert_close(cr.max(x, dim).indices, t.max(dim).indices)
        assert_close(cr.argmin(x, dim), t.argmin(dim))
    with pytest.raises(cr.ChainruleError, match="sum: dimension 1 is out of range"):
        cr.sum(x, 1)


# ------------------------------------------------------------------ Tensor methods and NumPy dispatch
def test_tensor_methods_against_torch():
    torch = _torch()
    x = rand((3, 4), seed=4)
    other = rand((3, 4), seed=5)
    check_against_torch(
        lambda x, o: (x.max(dim=1).values, x.max(dim=1).indices, x.min(1, keepdim=True)[0], x.max(), x.min(),
                      x.max(o), x.min(o), x.amax((0, 1)), x.amin(0), x.prod(1), x.var(), x.std(0), x.logsumexp(1),
                      x.norm(), x.norm(p=1, dim=0), x.cumsum(0), x.sum(1), x.mean(0)),
        lambda x, o: (x.max(dim=1).values, x.max(dim=1).indices, x.min(1, keepdim=True)[0], x.max(), x.min(),
                      x.max(o), x.min(o), x.amax((0, 1)), x.amin(0), x.prod(1), x.var(), x.std(0), x.logsumexp(1),
                      x.norm(), x.norm(p=1, dim=0), x.cumsum(0), x.sum(1), x.mean(0)),
        [x, other])
    result = x.max(dim=1)
    assert isinstance(result, tuple) and result._fields == ("values", "indices")
    values, indices = x.min(0)
    assert values.shape == indices.shape == (4,)
    t = torch.from_numpy(x.detach().numpy())
    assert_close(x.argmax(1), t.argmax(1))
    assert_close(x.argmin(), t.argmin())
    assert_close((x > 0).all(1), (t > 0).all(1))
    assert_close((x > 0).any(), (t > 0).any())
    assert_close(x.count_nonzero(0), t.count_nonzero(0))


def test_numpy_functions_dispatch_differentiably():
    x = rand((3, 4), seed=6)
    data = x.detach().numpy()
    cases = [
        (lambda a: np.max(a, axis=1, keepdims=True), lambda d: np.max(d, axis=1, keepdims=True)),
        (lambda a: np.amax(a, 0), lambda d: np.amax(d, 0)),
        (lambda a: np.min(a), lambda d: np.min(d)),
        (lambda a: np.amin(a, axis=(0, 1)), lambda d: np.amin(d, axis=(0, 1))),
        (lambda a: np.prod(a, axis=0), lambda d: np.prod(d, axis=0)),
        (lambda a: np.cumsum(a), lambda d: np.cumsum(d)),
        (lambda a: np.cumsum(a, axis=1), lambda d: np.cumsum(d, axis=1)),
        (lambda a: np.var(a), lambda d: np.var(d)),
        (lambda a: np.var(a, axis=1, ddof=1, keepdims=True), lambda d: np.var(d, axis=1, ddof=1, keepdims=True)),
        (lambda a: np.std(a, 0), lambda d: np.std(d, 0)),
        (lambda a: np.linalg.norm(a), lambda d: np.linalg.norm(d)),
        (lambda a: np.linalg.norm(a, 3, axis=1), lambda d: np.linalg.norm(d, 3, axis=1)),
        (lambda a: np.sum(a, axis=()), lambda d: np.sum(d, axis=())),
    ]
    for fn, reference in cases:
        out = fn(x)
        assert isinstance(out, cr.Tensor) and out.requires_grad
        np.testing.assert_allclose(out.detach().numpy(), reference(data), rtol=1e-12)
        assert cr.autograd.gradcheck(fn, (x,))
    for fn, reference in [(lambda a: np.argmax(a, axis=1), lambda d: np.argmax(d, axis=1)),
                          (lambda a: np.argmin(a, keepdims=True), lambda d: np.argmin(d, keepdims=True)),
                          (lambda a: np.all(a > -5, axis=0), lambda d: np.all(d > -5, axis=0)),
                          (lambda a: np.any(a > 1, 1, keepdims=True), lambda d: np.any(d > 1, 1, keepdims=True)),
                          (lambda a: np.count_nonzero(a > 0, axis=0), lambda d: np.count_nonzero(d > 0, axis=0))]:
        out = fn(x)
        assert isinstance(out, cr.Tensor)
        np.testing.assert_array_equal(out.numpy(), reference(data))


def test_numpy_dispatch_rejects_unsupported_options():
    x = rand((2, 3))
    with pytest.raises(cr.ChainruleError, match="numpy.max: the argument.* out .*not supported"):
        np.max(x, out=np.empty(()))
    with pytest.raises(cr.ChainruleError, match="numpy.prod: the argument.* initial"):
        np.prod(x, initial=2.0)
    with pytest.raises(cr.ChainruleError, match="numpy.linalg.norm: matrix norm ord=2 is not supported"):
        np.linalg.norm(x, 2)


def test_rules_using_numpy_reductions_support_second_derivatives():
    """A custom primitive whose backward calls np.max / np.prod / np.cumsum / np.var on tensors."""
    from chainrule.autograd.function import Primitive

    class Weighted(Primitive):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):  # not a real derivative: exercises NumPy dispatch inside a rule
            (x,) = ctx.saved_tensors
            return (g * (np.max(x, axis=1, keepdims=True) + np.prod(x, axis=0) + np.cumsum(x, axis=1)
                         + np.var(x, axis=1, keepdims=True) + np.amin(x)),)

    x = rand((2, 3), seed=7)
    (g,) = cr.autograd.grad(Weighted.apply(x).sum(), x, create_graph=True)
    assert g.requires_grad
    (gg,) = cr.autograd.grad(g.sum(), x)
    d = x.detach().numpy()

    def first(d):
        return np.max(d, axis=1, keepdims=True) + np.prod(d, axis=0) + np.cumsum(d, axis=1) \
            + np.var(d, axis=1, keepdims=True) + np.amin(d)

    eps = 1e-6
    numerical = np.zeros_like(d)
    for i in np.ndindex(d.shape):
        plus, minus = d.copy(), d.copy()
        plus[i] += eps
        minus[i] -= eps
        numerical[i] = (first(plus).sum() - first(minus).sum()) / (2 * eps)
    np.testing.assert_allclose(gg.numpy(), numerical, rtol=1e-6, atol=1e-8)
