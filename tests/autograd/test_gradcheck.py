"""gradcheck and gradgradcheck: they pass on right gradients, fail on wrong ones, and agree with torch's."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from tests.helpers import rand, require_torch


def _custom(m):
    """Custom Functions, right and wrong, written once for chainrule (m=cr) or torch (m=torch)."""

    class Sin(m.autograd.Function):  # right: d/dx sin x = cos x
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin()

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x.cos()

    class ScaledSin(m.autograd.Function):  # wrong: 10% too large
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin()

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x.cos() * 1.1

    class SwappedMul(m.autograd.Function):  # wrong: the two gradients are exchanged
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y * y

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            return g * 2 * x * y, g * y * y

    class TransposedGrad(m.autograd.Function):  # wrong only off the diagonal: Jacobian transposed
        @staticmethod
        def forward(ctx, a, x):
            ctx.save_for_backward(a)
            return a @ x

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return None, a @ g

    class CubeDetached(m.autograd.Function):  # right to first order; its backward hides x from
        @staticmethod                          # the graph, so second derivatives come out wrong
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x.detach() ** 2

    class Cube(m.autograd.Function):  # right to every order
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x ** 2

    return {"Sin": Sin, "ScaledSin": ScaledSin, "SwappedMul": SwappedMul, "TransposedGrad": TransposedGrad,
            "CubeDetached": CubeDetached, "Cube": Cube}


CR = _custom(cr)
MATRIX = np.random.default_rng(5).standard_normal((3, 3))

# name: (function of (m, functions, inputs...), input shapes, gradient right?, second derivative right?)
CASES = {
    "builtin ops": (lambda m, f, x, y: (x * y).exp() / (1 + y * y) - x.sin(), [(2, 3), (2, 3)], True, True),
    "broadcasting": (lambda m, f, x, y: x * y + x.tanh(), [(2, 3), (3,)], True, True),
    "matmul": (lambda m, f, x, y: x @ y.T, [(2, 3), (4, 3)], True, True),
    "right custom": (lambda m, f, x: f["Sin"].apply(x), [(4,)], True, True),
    "wrong scale": (lambda m, f, x: f["ScaledSin"].apply(x), [(4,)], False, False),
    "swapped inputs": (lambda m, f, x, y: f["SwappedMul"].apply(x, y), [(3,), (3,)], False, False),
    "transposed jacobian": (lambda m, f, x: f["TransposedGrad"].apply(m.from_numpy(MATRIX), x), [(3,)], False, False),
    "wrong second order": (lambda m, f, x: f["CubeDetached"].apply(x), [(3,)], True, False),
    "right second order": (lambda m, f, x: f["Cube"].apply(x), [(3,)], True, True),
}


def _inputs(shapes):
    return tuple(rand(shape, seed=i + 1, low=0.3, high=1.5) for i, shape in enumerate(shapes))


def _torch_inputs(inputs):
    torch = require_torch()
    return tuple(torch.from_numpy(x.detach().numpy().copy()).requires_grad_() for x in inputs)


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradcheck_agrees_with_torch(case):
    torch = require_torch()
    fn, shapes, right, _ = CASES[case]
    inputs = _inputs(shapes)
    tfns = _custom(torch)
    ours = cr.autograd.gradcheck(lambda *xs: fn(cr, CR, *xs), inputs, raise_exception=False)
    theirs = torch.autograd.gradcheck(lambda *xs: fn(torch, tfns, *xs), _torch_inputs(inputs),
                                      raise_exception=False)
    assert ours == theirs == right


@pytest.mark.parametrize("case", sorted(name for name, case in CASES.items() if case[2]))  # first order right
def test_gradgradcheck_agrees_with_torch(case):
    torch = require_torch()
    fn, shapes, _, second_right = CASES[case]
    inputs = _inputs(shapes)
    tfns = _custom(torch)
    ours = cr.autograd.gradgradcheck(lambda *xs: fn(cr, CR, *xs), inputs, raise_exception=False)
    theirs = torch.autograd.gradgradcheck(lambda *xs: fn(torch, tfns, *xs), _torch_inputs(inputs),
                                          raise_exception=False)
    assert ours == theirs == second_right


def test_gradcheck_raises_a_gradcheck_error_naming_the_input():
    x = rand((4,))
    with pytest.raises(cr.autograd.GradcheckError, match=r"output 0 with respect to input 0 \(shape \(4,\)\) is wrong"):
        cr.autograd.gradcheck(CR["ScaledSin"].apply, (x,))
    a, b = rand((3,), seed=1, low=0.5), rand((3,), seed=2, low=0.5)
    with pytest.raises(cr.autograd.GradcheckError, match="input 0"):
        cr.autograd.gradcheck(CR["SwappedMul"].apply, (a, b))
    assert issubclass(cr.autograd.GradcheckError, cr.ChainruleError)


def test_gradgradcheck_raises_on_a_wrong_second_derivative():
    assert cr.autograd.gradcheck(CR["CubeDetached"].apply, (rand((3,)),))
    with pytest.raises(cr.autograd.GradcheckError):
        cr.autograd.gradgradcheck(CR["CubeDetached"].apply, (rand((3,)),))


def test_gradcheck_with_several_outputs_and_a_constant_argument():
    x, y = rand((2, 2), seed=1), rand((2, 2), seed=2)
    c = cr.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=cr.float64)  # requires no grad: not checked
    assert cr.autograd.gradcheck(lambda a, b, k: (a * b * k, (a + b).exp()), (x, y, c))
    assert cr.autograd.gradcheck(lambda a, power: a ** power, (x, 3))


def test_gradcheck_input_errors():
    with pytest.raises(cr.ChainruleError, match=r"float32.*float64.*\.double\(\)"):
        cr.autograd.gradcheck(lambda t: t * 2, (cr.tensor([1.0], requires_grad=True),))
    with pytest.raises(cr.ChainruleError, match="no input requires grad"):
        cr.autograd.gradcheck(lambda t: t * 2, (cr.tensor([1.0], dtype=cr.float64),))


def test_gradcheck_leaves_its_inputs_unchanged():
    x = rand((3, 2), contiguous=False)
    before = x.detach().numpy().copy()
    assert cr.autograd.gradcheck(lambda t: t.exp() * t, (x,))
    np.testing.assert_array_equal(x.detach().numpy(), before)
    assert x.grad is None
