"""Linear algebra primitives: matrix products and einsum, each forward beside its vector-Jacobian product.

``matmul`` is the primitive behind ``@``, ``mm``, ``bmm``, ``mv`` and ``dot``, which only add
PyTorch's stricter shape checks; ``outer`` is a broadcast product. ``einsum`` is a primitive of its
own whose gradient for each operand is again an einsum (of the output gradient with the other
operands), so that it is differentiable to any order.
"""

from __future__ import annotations

import functools
import math
import string
from collections import Counter
from typing import Any, Sequence

import numpy as np

from chainrule import dtype as dtypes
from chainrule.autograd.function import Primitive
from chainrule.errors import ChainruleError
from chainrule.ops.elementwise import cast, mul, promote
from chainrule.ops.shape import share_memory_state
from chainrule.tensor import Tensor


class Matmul(Primitive):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, g):
        # C = A B: dA = G Bᵀ, dB = Aᵀ G; 1-D operands are lifted to matrices and dropped again
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:
            return (g @ b.T if need_a else None), (a.T @ g if need_b else None)
        a2 = a if a.ndim > 1 else a.reshape(1, -1)
        b2 = b if b.ndim > 1 else b.reshape(-1, 1)
        g2 = g.reshape(_product_shape(a2.shape, b2.shape))
        ga = g2 @ np.swapaxes(b2, -1, -2) if need_a else None
        gb = np.swapaxes(a2, -1, -2) @ g2 if need_b else None
        if ga is not None and a.ndim == 1:
            ga = ga.reshape(ga.shape[:-2] + (a.shape[0],)) if ga.ndim > 2 else ga.reshape(a.shape)
        if gb is not None and b.ndim == 1:
            gb = gb.reshape(gb.shape[:-2] + (b.shape[0],)) if gb.ndim > 2 else gb.reshape(b.shape)
        return ga, gb


def _product_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    batch = np.broadcast_shapes(a[:-2], b[:-2])
    return tuple(batch) + (a[-2], b[-1])


def _shape_of(x: Any) -> tuple[int, ...]:
    return tuple(x._data.shape) if isinstance(x, Tensor) else np.shape(x)


def _check_inner(op: str, sa: tuple[int, ...], sb: tuple[int, ...]) -> None:
    ka = sa[-1]
    kb = sb[0] if len(sb) == 1 else sb[-2]
    if ka != kb:
        raise ChainruleError(f"{op}: cannot multiply {sa} by {sb}: inner dimensions {ka} and {kb} differ")


def _check_ranks(op: str, sa: tuple[int, ...], sb: tuple[int, ...], ranks: tuple[int, int], use: str) -> None:
    if (len(sa), len(sb)) != ranks:
        raise ChainruleError(
            f"{op}: expected a {ranks[0]}-D and a {ranks[1]}-D tensor, got shapes {sa} and {sb}; {use}")


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Matrix product with ``torch.matmul``'s rules: 1-D operands act as a row (left) or column
    (right) vector and that dimension is dropped from the result; batch dimensions broadcast."""
    a, b = promote(input, other)
    try:
        return Matmul.apply(a, b)
    except ValueError:  # NumPy refused the shapes: say which rule they break
        _explain_matmul_shapes(_shape_of(a), _shape_of(b))
        raise


def _explain_matmul_shapes(sa: tuple[int, ...], sb: tuple[int, ...]) -> None:
    if not sa or not sb:
        raise ChainruleError(
            f"matmul: both arguments need at least one dimension, got shapes {sa} and {sb}; "
            "multiply by a scalar with * instead")
    _check_inner("matmul", sa, sb)
    if len(sa) > 2 or len(sb) > 2:
        try:
            np.broadcast_shapes(sa[:-2], sb[:-2])
        except ValueError:
            raise ChainruleError(
                f"matmul: batch dimensions of {sa} and {sb} do not broadcast") from None


def _strict_product(op: str, a: Any, b: Any, ranks: tuple[int, int], use: str) -> Tensor:
    """``a @ b`` for the products that, unlike matmul, accept exactly the given ranks."""
    sa, sb = _shape_of(a), _shape_of(b)
    _check_ranks(op, sa, sb, ranks, use)
    _check_inner(op, sa, sb)
    return Matmul.apply(*promote(a, b))


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """The product of an ``(n, m)`` and an ``(m, p)`` matrix (no broadcasting), as ``torch.mm``."""
    return _strict_product("mm", input, mat2, (2, 2), "use matmul for vectors and batches")


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Batched product ``(b, n, m) @ (b, m, p) -> (b, n, p)``; the batch sizes must be equal."""
    sa, sb = _shape_of(input), _shape_of(mat2)
    if len(sa) == len(sb) == 3 and sa[0] != sb[0]:
        raise ChainruleError(
            f"bmm: batch sizes {sa[0]} and {sb[0]} differ (shapes {sa} and {sb}); bmm does not "
            "broadcast: use matmul to broadcast batch dimensions")
    return _strict_product("bmm", input, mat2, (3, 3), "use matmul for other ranks")


def mv(input: Tensor, vec: Tensor) -> Tensor:
    """The product of an ``(n, m)`` matrix and an ``(m,)`` vector, an ``(n,)`` vector."""
    return _strict_product("mv", input, vec, (2, 1), "use matmul for other ranks")


def dot(input: Tensor, tensor: Tensor) -> Tensor:
    """The inner product of two 1-D tensors of the same length (a 0-d tensor)."""
    return _strict_product("dot", input, tensor, (1, 1), "use matmul, or flatten the tensors first")


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """The outer product of two 1-D tensors: ``out[i, j] = input[i] * vec2[j]``."""
    sa, sb = _shape_of(input), _shape_of(vec2)
    _check_ranks("outer", sa, sb, (1, 1), "flatten the tensors first")
    return mul(input.reshape(-1, 1), vec2)


# ---------------------------------------------------------------------------- einsum
class Einsum(Primitive):
    @staticmethod
    def forward(ctx, equation, *operands):
        ctx.save_for_backward(*operands)
        return np.einsum(equation, *operands, optimize=_optimize(operands))

    @staticmethod
    def backward(ctx, g):
        # O = Σ Π_j A_j (summing the letters not in O): ∂O/∂A_k fixes A_k's letters, so the gradient
        # of A_k is the einsum of G with the other operands, written back to A_k's subscripts
        operands = ctx.saved_tensors
        terms, output = _split(ctx.inputs[0])
        sizes = {c: n for term, x in zip(terms, operands) for c, n in zip(term, x.shape)}
        grads: list[Any] = [None]
        for k, need in enumerate(ctx.needs_input_grad[1:]):
            grads.append(_operand_grad(g, k, terms, output, operands, sizes) if need else None)
        return tuple(grads)


def _operand_grad(g: Any, k: int, terms: list[str], output: str, operands: Sequence[Any],
                  sizes: dict[str, int]) -> Any:
    term = terms[k]
    others = [terms[j] for j in range(len(terms)) if j != k]
    reachable = set(output).union(*others)
    kept = "".join(c for c in dict.fromkeys(term) if c in reachable)
    inputs = [g] + [x for j, x in enumerate(operands) if j != k]
    h = np.einsum(",".join([output] + others) + "->" + kept, *inputs, optimize=_optimize(inputs))
    return h if kept == term else _spread(h, kept, term, sizes)


def _spread(h: Any, kept: str, term: str, sizes: dict[str, int]) -> Any:
    """``h`` (subscripts ``kept``) written out to subscripts ``term``: letters repeated in ``term`` take
    it on their diagonal (a product with the identity), letters missing from ``kept`` (summed in the
    forward by this operand alone) broadcast it (a product with ones)."""
    dtype = h._data.dtype if isinstance(h, Tensor) else h.dtype
    spare = iter(c for c in string.ascii_letters if c not in term)
    subscripts, factors, target = [kept], [h], ""
    for c in term:
        if c in target:  # x[.., i, .., i, ..]: the gradient lives on the diagonal δ(i, i')
            fresh = next(spare)
            subscripts.append(c + fresh)
            factors.append(np.eye(sizes[c], dtype=dtype))
            target += fresh
        else:
            if c not in kept:
                subscripts.append(c)
                factors.append(np.ones(sizes[c], dtype=dtype))
            target += c
    return np.einsum(",".join(subscripts) + "->" + target, *factors)


def _optimize(operands: Sequence[Any]) -> bool:
    """Contract products of sizeable operands pairwise through BLAS (worth its planning cost of
    ~15 µs); small ones and single operands go through NumPy's direct loop."""
    return len(operands) > 1 and max(math.prod(x.shape) for x in operands) >= 1024


def _split(equation: str) -> tuple[list[str], str]:
    lhs, output = equation.split("->")
    return lhs.split(","), output


@functools.lru_cache(maxsize=1024)
def _canonical(equation: str, shapes: tuple[tuple[int, ...], ...]) -> str:
    """``equation`` for operands of ``shapes`` in NumPy's explicit form, with letters only: spaces
    dropped, ``...`` spelt out with fresh letters (right-aligned, as broadcasting aligns), the
    implicit output written down (``...`` first, then the letters used once, sorted), and every
    size-1 dimension that broadcasts against a larger one renamed to a letter of its own (summed
    over its single element), which is how einsum broadcasts. Raises on malformed equations."""
    where = f"in einsum({equation!r}, …)"
    lhs, arrow, rhs = equation.replace(" ", "").partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ChainruleError(
            f"einsum: the equation {equation!r} has subscripts for {len(terms)} operand(s) but "
            f"{len(shapes)} were given")
    for term in terms + ([rhs] if arrow else []):
        if term.count("...") > 1 or not all(c in string.ascii_letters for c in term.replace("...", "")):
            raise ChainruleError(
                f"einsum: invalid subscripts {term!r} {where}: use letters a-z and A-Z, at most one "
                "'...' per operand, and at most one '->'")
    spare = [c for c in string.ascii_letters if c not in lhs + rhs]

    def fresh() -> str:
        if not spare:
            raise ChainruleError(f"einsum: {where} needs more than 52 distinct subscripts")
        return spare.pop(0)

    ellipsis_dims = []
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        named = len(term.replace("...", ""))
        if ("..." in term and named > len(shape)) or ("..." not in term and named != len(shape)):
            raise ChainruleError(
                f"einsum: operand {k} has shape {shape} ({len(shape)} dimensions) but its subscripts "
                f"{term!r} name {named} {where}" + ("" if "..." in term else "; add '...' to cover the others"))
        ellipsis_dims.append(len(shape) - named)
    ellipsis = "".join(fresh() for _ in range(max(ellipsis_dims, default=0)))
    spelt = [t.replace("...", ellipsis[len(ellipsis) - n:]) for t, n in zip(terms, ellipsis_dims)]
    if arrow:
        output = rhs.replace("...", ellipsis)
        for c in rhs.replace("...", ""):
            if c not in lhs:
                raise ChainruleError(f"einsum: output subscript {c!r} does not appear in any operand {where}")
            if rhs.count(c) > 1:
                raise ChainruleError(f"einsum: output subscript {c!r} appears more than once {where}")
    else:
        counts = Counter(lhs.replace("...", "").replace(",", ""))
        output = ellipsis + "".join(sorted(c for c, n in counts.items() if n == 1))
    sizes: dict[str, tuple[int, int]] = {}  # letter -> (its size, the operand that set it)
    for k, (term, shape) in enumerate(zip(spelt, shapes)):
        own: dict[str, int] = {}
        for c, n in zip(term, shape):
            if own.setdefault(c, n) != n:
                raise ChainruleError(
                    f"einsum: subscript {c!r} is repeated in operand {k} (shape {shape}) with sizes "
                    f"{own[c]} and {n} {where}; a repeated subscript takes a diagonal, which needs "
                    "equal sizes")
        for c, n in own.items():
            size, first = sizes.get(c, (1, k))
            if n != 1 and size not in (1, n):
                name = "a dimension under '...'" if c in ellipsis else f"subscript {c!r}"
                raise ChainruleError(
                    f"einsum: {name} has size {n} in operand {k} but {size} in operand {first} "
                    f"{where}; the sizes of one subscript must match (or be 1 to broadcast)")
            if n != 1 or c not in sizes:
                sizes[c] = (n, k)
    renamed = ["".join(fresh() if n == 1 and sizes[c][0] != 1 else c for c, n in zip(term, shape))
               for term, shape in zip(spelt, shapes)]
    return ",".join(renamed) + "->" + output


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation, as ``torch.einsum``: ``einsum('ij,jk->ik', a, b)`` is ``a @ b``.

    Each operand gets one letter per dimension; letters shared between operands are multiplied
    along, letters missing from the output (after ``->``) are summed, a letter repeated within one
    operand takes its diagonal (``'ii->i'``), and ``...`` stands for the remaining (broadcast)
    dimensions. Without ``->`` the output is ``...`` followed by the letters used once, sorted.
    The operands may also be passed as one list; they are promoted to a common dtype.
    """
    if not isinstance(equation, str):
        raise ChainruleError(
            "einsum: the first argument must be the equation, e.g. einsum('ij,jk->ik', a, b) "
            "(the sublist format is not supported)")
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ChainruleError("einsum: at least one operand is needed")
    operands = _promote_all(operands)
    canonical = _canonical(equation, tuple(_shape_of(x) for x in operands))
    out = Einsum.apply(canonical, *operands)
    if len(operands) == 1 and isinstance(operands[0], Tensor):  # 'ij->ji', 'ii->i' are NumPy views
        share_memory_state(out, operands[0])
    return out


def _promote_all(operands: Sequence[Any]) -> tuple[Any, ...]:
    """Tensors (and arrays) cast to their common dtype, as PyTorch's type promotion decides."""
    arrays = [x._data if isinstance(x, Tensor) else np.asarray(x) for x in operands]
    first = arrays[0].dtype
    if all(a.dtype == first for a in arrays):
        return tuple(x if isinstance(x, Tensor) else a for x, a in zip(operands, arrays))
    target = dtypes.result_type(*arrays).numpy
    return tuple((x if x._data.dtype == target else cast(x, target)) if isinstance(x, Tensor)
                 else a.astype(target, copy=False) for x, a in zip(operands, arrays))


def _rmatmul(self: Tensor, other: Any) -> Tensor:
    return matmul(other, self)


def _no_out(op: str, out: Any) -> None:
    if out is not None:
        raise ChainruleError(f"numpy.{op}: out= is not supported with tensors; use the returned tensor")


def _numpy_einsum(subscripts: str, *operands: Any, out: Any = None, optimize: Any = False, **kwargs: Any) -> Tensor:
    _no_out("einsum", out)
    return einsum(subscripts, *operands)


def _numpy_dot(a: Any, b: Any, out: Any = None) -> Tensor:
    """``np.dot``: a product with a scalar, else a sum over ``a``'s last and ``b``'s second-to-last axis."""
    _no_out("dot", out)
    sa, sb = _shape_of(a), _shape_of(b)
    if not sa or not sb:
        return mul(a, b)
    letters = string.ascii_letters
    left = letters[:len(sa)]
    right = letters[len(sa):len(sa) + len(sb) - 1]
    right = right[:-1] + left[-1] + right[-1:] if len(sb) > 1 else left[-1]
    return einsum(f"{left},{right}->{left[:-1]}{right.replace(left[-1], '')}", a, b)


def _numpy_outer(a: Any, b: Any, out: Any = None) -> Tensor:
    _no_out("outer", out)
    return outer(a.reshape(-1), b.reshape(-1))


TENSOR_METHODS = {"matmul": matmul, "__matmul__": matmul, "__rmatmul__": _rmatmul, "mm": mm, "bmm": bmm,
                  "mv": mv, "dot": dot, "outer": outer}
NUMPY_UFUNCS = {np.matmul: matmul}
NUMPY_FUNCTIONS = {np.einsum: _numpy_einsum, np.dot: _numpy_dot, np.outer: _numpy_outer}
