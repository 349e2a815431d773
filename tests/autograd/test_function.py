"""Custom ``cr.autograd.Function``s written in PyTorch's style, checked against the same in torch."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from tests.helpers import assert_close, rand, require_torch


def _functions(m):
    """The same custom Functions for chainrule (m=cr) or torch (m=torch)."""

    class ScaledCube(m.autograd.Function):
        """k · x³ with a non-tensor argument k."""

        @staticmethod
        def forward(ctx, x, k):
            ctx.save_for_backward(x)
            ctx.k = k
            return x ** 3 * k

        @staticmethod
        def backward(ctx, g):  # d/dx k x³ = 3 k x²
            (x,) = ctx.saved_tensors
            return g * 3 * x ** 2 * ctx.k, None

    class MulAdd(m.autograd.Function):
        """Two outputs: (x·y, x+y)."""

        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y, x + y

        @staticmethod
        def backward(ctx, g_mul, g_add):
            x, y = ctx.saved_tensors
            gx = g_mul * y + g_add if ctx.needs_input_grad[0] else None
            gy = g_mul * x + g_add if ctx.needs_input_grad[1] else None
            return gx, gy

    class Exp(m.autograd.Function):
        """Saves its output; the backward is differentiable, so second derivatives work."""

        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):  # d/dx eˣ = eˣ
            (y,) = ctx.saved_tensors
            return g * y

    class DoubleAndArgmax(m.autograd.Function):
        """2x and a non-differentiable integer index."""

        @staticmethod
        def forward(ctx, x):
            index = m.tensor(int(np.argmax(x.detach().numpy())))
            ctx.mark_non_differentiable(index)
            return x * 2, index

        @staticmethod
        def backward(ctx, g, g_index):
            return g * 2

    class DoubleAndCopy(m.autograd.Function):
        """Two float outputs, the second marked non-differentiable."""

        @staticmethod
        def forward(ctx, x):
            out, copy = x * 2, x * 3
            ctx.mark_non_differentiable(copy)
            return out, copy

        @staticmethod
        def backward(ctx, g, g_copy):
            return g * 2

    return ScaledCube, MulAdd, Exp, DoubleAndArgmax, DoubleAndCopy


CR = _functions(cr)


def _torch_functions():
    return _functions(require_torch())


def test_forward_and_backward_match_torch():
    torch = require_torch()
    ScaledCube = CR[0]
    x = rand((3,), cr.float64)
    y = ScaledCube.apply(x, 2.0)
    assert not y.is_leaf and y.requires_grad
    tx = torch.from_numpy(x.detach().numpy().copy()).requires_grad_()
    ty = _torch_functions()[0].apply(tx, 2.0)
    assert_close(y, ty)
    y.sum().backward()
    ty.sum().backward()
    assert_close(x.grad, tx.grad)


def test_grad_fn_name_of_a_custom_function_matches_torch():
    torch = require_torch()
    y = CR[0].apply(cr.tensor([1.0], requires_grad=True), 2.0)
    ty = _torch_functions()[0].apply(torch.tensor([1.0], requires_grad=True), 2.0)
    assert y.grad_fn.name() == ty.grad_fn.name() == "ScaledCubeBackward"  # torch: no "0" for custom Functions
    assert repr(y).endswith("grad_fn=<ScaledCubeBackward>)")


def test_no_graph_without_requires_grad_or_in_no_grad():
    ScaledCube = CR[0]
    y = ScaledCube.apply(cr.tensor([1.0, 2.0]), 2.0)
    assert not y.requires_grad and y.grad_fn is None
    x = cr.tensor([1.0], requires_grad=True)
    with cr.no_grad():
        z = ScaledCube.apply(x, 2.0)
    assert not z.requires_grad and z.grad_fn is None
    assert z.tolist() == [2.0]


def test_several_outputs_match_torch():
    torch = require_torch()
    MulAdd, TMulAdd = CR[1], _torch_functions()[1]
    x, y = rand((2, 3), seed=1), rand((2, 3), seed=2)
    tx, ty = (torch.from_numpy(v.detach().numpy().copy()).requires_grad_() for v in (x, y))
    a, b = MulAdd.apply(x, y)
    ta, tb = TMulAdd.apply(tx, ty)
    assert a.grad_fn is b.grad_fn
    (a * 2 + b * b).sum().backward()
    (ta * 2 + tb * tb).sum().backward()
    assert_close(x.grad, tx.grad)
    assert_close(y.grad, ty.grad)


def test_only_one_of_several_outputs_used():
    torch = require_torch()
    MulAdd, TMulAdd = CR[1], _torch_functions()[1]
    x, y = rand((3,), seed=1), rand((3,), seed=2)
    tx, ty = (torch.from_numpy(v.detach().numpy().copy()).requires_grad_() for v in (x, y))
    MulAdd.apply(x, y)[1].sum().backward()  # the unused output's gradient arrives as zeros
    TMulAdd.apply(tx, ty)[1].sum().backward()
    assert_close(x.grad, tx.grad)
    assert_close(y.grad, ty.grad)


def test_needs_input_grad():
    seen = []

    class Probe(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x, y, flag):
            return x * y

        @staticmethod
        def backward(ctx, g):
            seen.append(tuple(ctx.needs_input_grad))
            return g, g, None

    x = cr.tensor([1.0], requires_grad=True)
    Probe.apply(x, cr.tensor([2.0]), True).sum().backward()
    Probe.apply(cr.tensor([2.0]), x, "flag").sum().backward()
    assert seen == [(True, False, False), (False, True, False)]


def test_saved_tensors_are_tensors_and_forward_runs_without_recording():
    kinds = []

    class Probe(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            kinds.append(("forward", cr.is_grad_enabled()))
            ctx.save_for_backward(x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            kinds.append((type(x).__name__, type(g).__name__))
            return g * 2

    x = cr.tensor([1.0], requires_grad=True)
    Probe.apply(x).sum().backward()
    assert kinds == [("forward", False), ("Tensor", "Tensor")]
    assert x.grad.tolist() == [2.0]


def test_mark_non_differentiable():
    torch = require_torch()
    DoubleAndArgmax, DoubleAndCopy = CR[3], CR[4]
    TDoubleAndArgmax, TDoubleAndCopy = _torch_functions()[3:5]
    x = cr.tensor([1.0, 3.0, 2.0], requires_grad=True)
    tx = torch.tensor([1.0, 3.0, 2.0], requires_grad=True)
    out, index = DoubleAndArgmax.apply(x)
    tout, tindex = TDoubleAndArgmax.apply(tx)
    assert (out.requires_grad, index.requires_grad) == (tout.requires_grad, tindex.requires_grad) == (True, False)
    assert index.item() == tindex.item() == 1 and index.dtype == cr.int64
    out.sum().backward()
    tout.sum().backward()
    assert_close(x.grad, tx.grad)
    a, b = DoubleAndCopy.apply(x)
    ta, tb = TDoubleAndCopy.apply(tx)
    assert (a.requires_grad, b.requires_grad) == (ta.requires_grad, tb.requires_grad) == (True, False)


def _second_derivatives(make):
    """First and second derivatives of ``sum(make(m)(x) * x)`` in chainrule and torch."""
    torch = require_torch()
    x = rand((4,), seed=3)
    tx = torch.from_numpy(x.detach().numpy().copy()).requires_grad_()
    g, = cr.autograd.grad((make(cr)(x) * x).sum(), x, create_graph=True)
    tg, = torch.autograd.grad((make(torch)(tx) * tx).sum(), tx, create_graph=True)
    assert_close(g, tg)
    h, = cr.autograd.grad((g * g).sum(), x)
    th, = torch.autograd.grad((tg * tg).sum(), tx)
    assert_close(h, th)


def test_second_derivative_of_a_function_that_saves_its_input():
    _second_derivatives(lambda m: (lambda t: (CR if m is cr else _torch_functions())[0].apply(t, 1.5)))
    assert cr.autograd.gradgradcheck(lambda t: CR[0].apply(t, 1.5), (rand((3,), seed=5),))


def test_second_derivative_of_a_function_that_saves_its_output():
    # as in torch, an output passed to save_for_backward must come back attached to the graph
    # (not as a constant) when the backward is recorded, or second derivatives are silently wrong
    _second_derivatives(lambda m: (CR if m is cr else _torch_functions())[2].apply)
    assert cr.autograd.gradgradcheck(CR[2].apply, (rand((3,), seed=4),))


def test_backward_returning_the_wrong_number_of_gradients():
    class Bad(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g

    x = cr.tensor([1.0], requires_grad=True)
    with pytest.raises(cr.ChainruleError, match=r"Bad.backward returned 1 gradients but forward took 2"):
        Bad.apply(x, cr.tensor([2.0])).sum().backward()


def test_forward_must_return_tensors():
    class ReturnsArray(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.detach().numpy() * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    with pytest.raises(cr.ChainruleError, match="must return a Tensor"):
        ReturnsArray.apply(cr.tensor([1.0], requires_grad=True))


def test_gradient_of_a_broadcast_input_is_summed_back():
    class Add(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x + y

        @staticmethod
        def backward(ctx, g):
            return g, g  # of the broadcast shape: the engine reduces it

    x = cr.tensor([[1.0], [2.0]], requires_grad=True)
    y = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    Add.apply(x, y).sum().backward()
    assert x.grad.tolist() == [[3.0], [3.0]] and y.grad.tolist() == [2.0, 2.0, 2.0]
