"""The linear algebra op table: matmul, mm, bmm, mv, dot, outer and einsum against PyTorch,
float64 gradcheck, second derivatives, and the shape errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import ChainruleError
from tests.helpers import assert_close, check_against_torch, rand, require_torch

# ------------------------------------------------------------------ matmul and its strict relatives
# (shape of input, shape of other): every rank combination torch.matmul accepts, broadcasting,
# size-1 and empty dimensions
MATMUL_SHAPES = [
    ((4,), (4,)), ((4,), (4, 3)), ((2, 4), (4,)), ((3, 4), (4, 2)), ((1, 4), (4, 1)),
    ((2, 3, 4), (4,)), ((4,), (2, 4, 3)), ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)),
    ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((1, 3, 4), (2, 4, 1)),
    ((0, 3), (3, 2)), ((2, 0), (0, 3)), ((2, 0, 3), (3, 4)),
]


def _pair(shapes, dtype=cr.float64, contiguous=(True, False)):
    return (rand(shapes[0], dtype, seed=1, contiguous=contiguous[0]),
            rand(shapes[1], dtype, seed=2, contiguous=contiguous[1]))


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
@pytest.mark.parametrize("contiguous", [(True, True), (False, False)])
def test_matmul_gradcheck(shapes, contiguous):
    assert cr.autograd.gradcheck(cr.matmul, _pair(shapes, contiguous=contiguous))


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
def test_matmul_against_torch(shapes, dtype):
    torch = require_torch()
    check_against_torch(lambda a, b: a @ b, torch.matmul, list(_pair(shapes, dtype)))


@pytest.mark.parametrize("shapes", [((4,), (4,)), ((4,), (4, 3)), ((2, 4), (4,)), ((3, 4), (4, 2)),
                                    ((2, 3, 4), (4,)), ((4,), (2, 4, 3)), ((2, 1, 3, 4), (5, 4, 2))], ids=str)
def test_matmul_second_derivatives(shapes):
    assert cr.autograd.gradgradcheck(cr.matmul, _pair(shapes))


def test_matmul_gradient_for_one_operand_only():
    torch = require_torch()
    a = rand((2, 3, 4), seed=1)
    b = rand((4, 5), seed=2, requires_grad=False)
    check_against_torch(cr.matmul, torch.matmul, [a, b])
    check_against_torch(cr.matmul, torch.matmul, [b.T.detach(), rand((2, 4, 3), seed=3)])


def test_matmul_promotes_dtypes_and_accepts_arrays():
    a = cr.ones(2, 3, dtype=cr.float32)
    assert cr.matmul(a, cr.ones(3, dtype=cr.float64)).dtype == cr.float64
    out = a @ np.ones((3, 2), dtype=np.float32)
    assert out.dtype == cr.float32 and out.shape == (2, 2)
    np.testing.assert_array_equal((np.ones((4, 2), dtype=np.float32) @ a).numpy(), np.full((4, 3), 2.0))
    np.testing.assert_array_equal(cr.matmul(cr.arange(6).reshape(2, 3), cr.arange(3)).numpy(), [5, 14])


STRICT = {  # name: (chainrule function, torch function, valid shape pairs)
    "mm": (cr.mm, "mm", [((3, 4), (4, 2)), ((1, 1), (1, 5)), ((0, 4), (4, 2)), ((3, 0), (0, 2))]),
    "bmm": (cr.bmm, "bmm", [((2, 3, 4), (2, 4, 5)), ((1, 1, 4), (1, 4, 1)), ((0, 3, 4), (0, 4, 2))]),
    "mv": (cr.mv, "mv", [((3, 4), (4,)), ((1, 1), (1,)), ((0, 4), (4,))]),
    "dot": (cr.dot, "dot", [((4,), (4,)), ((1,), (1,)), ((0,), (0,))]),
    "outer": (cr.outer, "outer", [((3,), (4,)), ((1,), (1,)), ((0,), (3,))]),
}
STRICT_CASES = [(name, shapes) for name, (_, _, pairs) in STRICT.items() for shapes in pairs]


@pytest.mark.parametrize("name,shapes", STRICT_CASES, ids=str)
def test_strict_products_gradcheck(name, shapes):
    fn = STRICT[name][0]
    assert cr.autograd.gradcheck(fn, _pair(shapes))
    assert cr.autograd.gradcheck(fn, _pair(shapes, contiguous=(False, False)))


@pytest.mark.parametrize("name,shapes", STRICT_CASES, ids=str)
@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
def test_strict_products_against_torch(name, shapes, dtype):
    torch = require_torch()
    fn, torch_name, _ = STRICT[name]
    check_against_torch(fn, getattr(torch, torch_name), list(_pair(shapes, dtype)))


@pytest.mark.parametrize("name", sorted(STRICT))
def test_strict_products_are_tensor_methods(name):
    fn = STRICT[name][0]
    a, b = _pair(STRICT[name][2][0])
    assert_close(getattr(a, name)(b), fn(a, b))


@pytest.mark.parametrize("name", ["mm", "bmm", "mv", "dot", "outer"])
def test_strict_products_second_derivatives(name):
    fn, _, pairs = STRICT[name]
    assert cr.autograd.gradgradcheck(fn, _pair(pairs[0]))


SHAPE_ERRORS = [
    (cr.matmul, (3, 4), (5, 2), "matmul: cannot multiply (3, 4) by (5, 2): inner dimensions 4 and 5 differ"),
    (cr.matmul, (4,), (5,), "matmul: cannot multiply (4,) by (5,): inner dimensions 4 and 5 differ"),
    (cr.matmul, (2, 3, 4), (3, 4, 2), "matmul: batch dimensions of (2, 3, 4) and (3, 4, 2) do not broadcast"),
    (cr.matmul, (), (3,), "matmul: both arguments need at least one dimension"),
    (cr.mm, (3, 4), (5, 2), "mm: cannot multiply (3, 4) by (5, 2): inner dimensions 4 and 5 differ"),
    (cr.mm, (3, 4), (4,), "mm: expected a 2-D and a 2-D tensor, got shapes (3, 4) and (4,)"),
    (cr.bmm, (2, 3, 4), (3, 4, 5), "bmm: batch sizes 2 and 3 differ"),
    (cr.bmm, (2, 3, 4), (2, 5, 5), "bmm: cannot multiply (2, 3, 4) by (2, 5, 5): inner dimensions 4 and 5 differ"),
    (cr.bmm, (3, 4), (4, 5), "bmm: expected a 3-D and a 3-D tensor"),
    (cr.mv, (3, 4), (4, 1), "mv: expected a 2-D and a 1-D tensor, got shapes (3, 4) and (4, 1)"),
    (cr.mv, (3, 4), (3,), "mv: cannot multiply (3, 4) by (3,): inner dimensions 4 and 3 differ"),
    (cr.dot, (3,), (4,), "dot: cannot multiply (3,) by (4,): inner dimensions 3 and 4 differ"),
    (cr.dot, (2, 3), (2, 3), "dot: expected a 1-D and a 1-D tensor"),
    (cr.outer, (2, 3), (3,), "outer: expected a 1-D and a 1-D tensor, got shapes (2, 3) and (3,)"),
]


@pytest.mark.parametrize("fn,sa,sb,message", SHAPE_ERRORS, ids=[e[3][:40] for e in SHAPE_ERRORS])
def test_shape_errors(fn, sa, sb, message):
    with pytest.raises(ChainruleError) as info:
        fn(cr.zeros(sa), cr.zeros(sb))
    assert message in str(info.value)


def test_matmul_operator_error_names_the_shapes():
    with pytest.raises(ChainruleError, match=r"matmul: cannot multiply \(3, 4\) by \(5, 2\)"):
        cr.zeros(3, 4) @ cr.zeros(5, 2)


# ------------------------------------------------------------------ einsum
# (equation, operand shapes): products, traces and diagonals, sums of letters used once,
# broadcasting (with '...' and size-1 letters), implicit outputs, 0-d and empty operands
EINSUM = [
    ("ij,jk->ik", [(3, 4), (4, 2)]),
    ("ij,jk", [(3, 4), (4, 2)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ("ii->", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("ii->i", [(4, 4)]),
    ("iij->ji", [(3, 3, 2)]),
    ("ii,i->i", [(3, 3), (3,)]),
    ("ij->", [(3, 4)]),
    ("ij->j", [(3, 4)]),
    ("ij->ji", [(3, 4)]),
    ("ba", [(3, 4)]),
    ("aB,Ba->Ba", [(2, 3), (3, 2)]),
    ("ij,j->i", [(3, 4), (4,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("i,i->", [(5,), (5,)]),
    ("ijk,jl,kl->il", [(2, 3, 4), (3, 5), (4, 5)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("...ij,...jk", [(1, 3, 4), (2, 4, 2)]),
    ("i...->...", [(3, 2, 2)]),
    ("...i->i", [(2, 3, 4)]),
    ("...,...->...", [(3,), (2, 1)]),
    ("ij,ij->ij", [(1, 4), (3, 4)]),
    ("ij,jk->ik", [(3, 1), (4, 2)]),
    (",i->i", [(), (3,)]),
    ("ij,jk->ik", [(0, 3), (3, 2)]),
    ("ij,jk->ik", [(2, 0), (0, 3)]),
    (" ij , jk -> ik ", [(2, 3), (3, 2)]),
]
EINSUM_IDS = [f"{eq.strip()}:{shapes}" for eq, shapes in EINSUM]


def _operands(shapes, dtype=cr.float64, contiguous=True):
    return [rand(s, dtype, seed=i, contiguous=contiguous) for i, s in enumerate(shapes)]


def _einsum(equation):
    return lambda *xs: cr.einsum(equation, *xs)


@pytest.mark.parametrize("equation,shapes", EINSUM, ids=EINSUM_IDS)
def test_einsum_gradcheck(equation, shapes):
    assert cr.autograd.gradcheck(_einsum(equation), _operands(shapes))
    assert cr.autograd.gradcheck(_einsum(equation), _operands(shapes, contiguous=False))


@pytest.mark.parametrize("equation,shapes", EINSUM, ids=EINSUM_IDS)
@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
def test_einsum_against_torch(equation, shapes, dtype):
    torch = require_torch()
    check_against_torch(_einsum(equation), lambda *ts: torch.einsum(equation, *ts), _operands(shapes, dtype))


@pytest.mark.parametrize("equation,shapes", [
    ("ij,jk->ik", [(3, 4), (4, 2)]), ("ii->", [(3, 3)]), ("ii->i", [(3, 3)]), ("ij->j", [(2, 3)]),
    ("i,i->", [(4,), (4,)]), ("...ij,...jk->...ik", [(2, 1, 2, 3), (2, 3, 2)]),
    ("ijk,jl,kl->il", [(2, 3, 2), (3, 2), (2, 2)]), ("ij,ij->ij", [(1, 3), (2, 3)]),
], ids=str)
def test_einsum_second_derivatives(equation, shapes):
    assert cr.autograd.gradgradcheck(_einsum(equation), _operands(shapes))


def test_einsum_same_tensor_twice():
    torch = require_torch()
    x = rand((3, 4))
    check_against_torch(lambda a: cr.einsum("ij,ij->i", a, a), lambda t: torch.einsum("ij,ij->i", t, t), [x])
    assert cr.autograd.gradgradcheck(lambda a: cr.einsum("ij,kj->ik", a, a), (rand((2, 3)),))


def test_einsum_takes_a_list_and_promotes_dtypes():
    a, b = cr.ones(2, 3, dtype=cr.float32), cr.ones(3, dtype=cr.float64)
    out = cr.einsum("ij,j->i", [a, b])
    assert out.dtype == cr.float64
    np.testing.assert_array_equal(out.numpy(), [3.0, 3.0])
    ints = cr.einsum("i,i->", cr.arange(4), cr.arange(4))
    assert ints.dtype == cr.int64 and ints.item() == 14


def test_einsum_partial_gradients():
    torch = require_torch()
    a = rand((3, 4), seed=1)
    b = rand((4, 2), seed=2, requires_grad=False)
    check_against_torch(lambda x, y: cr.einsum("ij,jk->ik", x, y),
                        lambda x, y: torch.einsum("ij,jk->ik", x, y), [a, b])


def test_einsum_view_shares_the_version_counter():
    x = rand((3, 3), requires_grad=False)
    y = cr.einsum("ij->ji", x)
    before = y._version
    x.add_(1.0)
    assert y._version == before + 1
    np.testing.assert_array_equal(y.numpy(), x.numpy().T)


def test_numpy_functions_dispatch_to_differentiable_ops():
    torch = require_torch()
    a, b = rand((2, 3, 4), seed=1), rand((5, 4, 2), seed=2)
    check_against_torch(lambda x, y: np.dot(x, y), lambda x, y: torch.tensordot(x, y, dims=([2], [1])), [a, b])
    v, w = rand((4,), seed=3), rand((3,), seed=4)
    check_against_torch(lambda x, y: np.outer(x, y), torch.outer, [v, w])
    check_against_torch(lambda x, y: np.einsum("ijk,k->ij", x, y), lambda x, y: torch.einsum("ijk,k->ij", x, y), [a, v])
    for x, y in [(a, v), (v, v), (rand((3, 4)), rand((4, 2)))]:
        np.testing.assert_allclose(np.dot(x, y).detach().numpy(), np.dot(x.detach().numpy(), y.detach().numpy()))
    assert isinstance(np.dot(v, 2.0), cr.Tensor)
    with pytest.raises(ChainruleError, match="numpy.einsum: out= is not supported"):
        np.einsum("i->", v, out=np.empty(()))


EINSUM_ERRORS = [
    ("ij,jk->ik", [(2, 3)], "subscripts for 2 operand(s) but 1 were given"),
    ("ij->iz", [(2, 3)], "output subscript 'z' does not appear in any operand"),
    ("ij->ii", [(2, 3)], "output subscript 'i' appears more than once"),
    ("i1", [(2, 3)], "invalid subscripts 'i1'"),
    ("i......", [(2, 3)], "invalid subscripts"),
    ("i->j->k", [(2,)], "invalid subscripts"),
    ("ijk", [(2, 3)], "operand 0 has shape (2, 3) (2 dimensions) but its subscripts 'ijk' name 3"),
    ("ijk...", [(2, 3)], "its subscripts 'ijk...' name 3"),
    ("ii", [(2, 3)], "subscript 'i' is repeated in operand 0 (shape (2, 3)) with sizes 2 and 3"),
    ("ij,jk", [(2, 3), (4, 4)], "subscript 'j' has size 4 in operand 1 but 3 in operand 0"),
    ("...i,...i", [(2, 3), (5, 3)], "a dimension under '...' has size 5 in operand 1 but 2 in operand 0"),
]


@pytest.mark.parametrize("equation,shapes,message", EINSUM_ERRORS, ids=[e[0] for e in EINSUM_ERRORS])
def test_einsum_errors(equation, shapes, message):
    with pytest.raises(ChainruleError) as info:
        cr.einsum(equation, *[cr.zeros(s) for s in shapes])
    assert message in str(info.value) and str(info.value).startswith("einsum: ")


def test_einsum_argument_errors():
    with pytest.raises(ChainruleError, match="the first argument must be the equation"):
        cr.einsum(cr.zeros(2), [0])
    with pytest.raises(ChainruleError, match="at least one operand"):
        cr.einsum("i")


# ------------------------------------------------------------------ a Hessian-vector product
def test_hessian_vector_product_through_log_softmax_and_matmul():
    torch = require_torch()
    rng = np.random.default_rng(5)
    x, w0, v = rng.standard_normal((6, 4)), rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    targets = np.eye(3)[rng.integers(0, 3, 6)]

    w = cr.tensor(w0, requires_grad=True)
    loss = -(cr.log_softmax(cr.tensor(x) @ w, dim=1) * cr.tensor(targets)).sum()
    (g,) = cr.autograd.grad(loss, w, create_graph=True)
    (hv,) = cr.autograd.grad((g * cr.tensor(v)).sum(), w)

    tw = torch.tensor(w0, requires_grad=True)
    t_loss = -(torch.log_softmax(torch.tensor(x) @ tw, dim=1) * torch.tensor(targets)).sum()
    (tg,) = torch.autograd.grad(t_loss, tw, create_graph=True)
    (thv,) = torch.autograd.grad((tg * torch.tensor(v)).sum(), tw)
    assert_close(g, tg)
    assert_close(hv, thv)
    assert np.abs(hv.numpy()).max() > 1e-3  # a real, non-zero curvature
