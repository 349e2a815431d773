"""The backward engine: accumulation, graph lifetime, hooks, grad modes, autograd.grad, memory."""

from __future__ import annotations

import gc
import sys
import warnings
import weakref
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from tests.helpers import assert_close, require_torch


def _pair(values, dtype="float32"):
    """The same leaf in chainrule and torch."""
    torch = require_torch()
    return (cr.tensor(values, dtype=getattr(cr, dtype), requires_grad=True),
            torch.tensor(values, dtype=getattr(torch, dtype), requires_grad=True))


# ---------------------------------------------------------------------------- accumulation and graph lifetime
def test_gradients_accumulate_over_backward_calls():
    x, tx = _pair([1.0, 2.0, 3.0])
    for m, v in ((cr, x), (None, tx)):
        (v * v).sum().backward()
        (v * 3).sum().backward()
    assert_close(x.grad, tx.grad)
    x.grad = None
    (x * 5).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 5.0, 5.0])


def test_retain_graph_allows_a_second_backward():
    x, tx = _pair([1.0, 2.0])
    y, ty = (x.exp() * x).sum(), (tx.exp() * tx).sum()
    y.backward(retain_graph=True)
    y.backward()
    ty.backward(retain_graph=True)
    ty.backward()
    assert_close(x.grad, tx.grad)


def test_freed_graph_error_is_clear():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(cr.ChainruleError, match=r"backward through the graph a second time.*retain_graph=True"):
        y.backward()
    with pytest.raises(cr.ChainruleError, match="second time"):
        cr.autograd.grad(y, x)


def test_backward_on_non_scalar_needs_a_gradient():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(cr.ChainruleError, match=r"only for scalar outputs, got shape \(2,\).*gradient="):
        (x * 2).backward()
    with pytest.raises(cr.ChainruleError, match=r"only for scalar outputs"):
        cr.autograd.grad(x * 2, x)
    (x * 2).backward(cr.tensor([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 20.0])
    y = cr.tensor([[3.0]], requires_grad=True)
    (y * 2).backward()  # one element, any number of dimensions: an implicit gradient of 1
    assert y.grad.tolist() == [[2.0]]


def test_gradient_of_the_wrong_shape():
    torch = require_torch()
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (torch.ones(2, requires_grad=True) * 2).backward(torch.ones(3))
    with pytest.raises(cr.ChainruleError, match=r"gradient has shape \(3,\) but the output has shape \(2,\)"):
        (x * 2).backward(cr.ones(3))
    with pytest.raises(cr.ChainruleError, match=r"gradient has shape \(1, 2\)"):
        (x * 2).backward(cr.ones(1, 2))


def test_backward_without_requires_grad_is_an_error():
    with pytest.raises(cr.ChainruleError, match="does not require grad"):
        (cr.tensor([1.0]) * 2).sum().backward()
    x = cr.tensor([1.0], requires_grad=True)
    with cr.no_grad():
        y = (x * 2).sum()
    with pytest.raises(cr.ChainruleError, match="no_grad"):
        y.backward()


def test_backward_of_a_leaf_and_of_several_roots():
    x, tx = _pair([1.0, 2.0])
    x.backward(cr.tensor([3.0, 4.0]))
    tx.backward(require_torch().tensor([3.0, 4.0]))
    assert_close(x.grad, tx.grad)
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    cr.autograd.backward([(x * w).sum(), (x * x).sum()])
    np.testing.assert_array_equal(x.grad.numpy(), [3.0 + 1 + 2, 4.0 + 2 + 4])
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 2.0])


def test_gradient_given_in_another_dtype_is_cast():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).backward(cr.tensor([1.0, 1.0], dtype=cr.float64))
    assert x.grad.dtype == cr.float32


def test_diamond_accumulates_every_path():
    x, tx = _pair([1.0, -2.0, 0.5], "float64")
    for v in (x, tx):
        a = v * v
        b = a.exp() + a * 3  # a is used twice, and v reaches the sum by two routes
        (b * v).sum().backward()
    assert_close(x.grad, tx.grad)


@pytest.mark.parametrize("graph", ["two producers", "a producer and its consumer", "same producer twice",
                                   "older branch pending", "chain into a multi-output node"])
def test_walk_order_when_the_next_node_is_handed_over(graph):
    """The walk hands a node's only pending producer straight to the next step; graphs where a
    second producer (even a consumer of the first) becomes pending after the hand-over, where both
    inputs share the producer, or where an older branch waits in the heap must still run every node
    after all its consumers."""
    x, tx = _pair([0.3, -1.2, 2.0], "float64")
    for v in (x, tx):
        if graph == "two producers":
            out = v.exp() * v.sin()  # the product's inputs come from two different nodes
        elif graph == "a producer and its consumer":
            a = v.exp()
            out = a * a.sin()  # exp is handed over first, but sin (which needs exp) must run before it
        elif graph == "same producer twice":
            a = v.tanh()
            out = a * a + 1.0
        elif graph == "older branch pending":
            early = v * 2.0  # recorded first, consumed last
            late = (v.exp() + 1.0).log()
            out = late * early + early.sin()
        else:
            a, b = (v * 3.0).split(2)
            out = a.sum() * b.sum() + a.exp().sum()
        out.sum().backward()
    assert_close(x.grad, tx.grad)


def test_same_leaf_twice_in_one_op():
    x, tx = _pair([1.0, 2.0])
    (x * x).sum().backward()
    (tx * tx).sum().backward()
    assert_close(x.grad, tx.grad)
    y = cr.tensor([1.0, 2.0], requires_grad=True)
    (y + y + y).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [3.0, 3.0])


def test_non_leaf_grad_is_none_and_leaf_grad_is_set():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.sum().backward()
    assert y.grad is None and x.grad is not None and x.grad.is_leaf and not x.grad.requires_grad


def test_leaf_gradients_are_float32_and_not_aliased():
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    assert a.grad.dtype == cr.float32 and a.grad.numpy().dtype == np.float32
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    a.grad += 1  # changing one gradient in place leaves the other alone
    a.grad.numpy()[:] += 1
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(a.grad.numpy(), [3.0, 3.0])
    c = cr.tensor([1.0, 2.0], requires_grad=True)
    g = cr.ones(2)
    c.backward(g)  # a leaf as root: .grad must not be the caller's tensor
    assert not np.shares_memory(c.grad.numpy(), g.numpy())
    d = cr.tensor([1.0, 2.0], requires_grad=True)
    g2 = cr.ones(2)
    (d + 0).backward(g2)
    assert not np.shares_memory(d.grad.numpy(), g2.numpy())
    e = cr.tensor([1.0, 2.0], requires_grad=True)
    f = cr.tensor([[1.0, 2.0]], requires_grad=True)
    y = e + f
    y.retain_grad()
    y.sum().backward()
    assert not np.shares_memory(e.grad.numpy(), y.grad.numpy())


def test_accumulation_updates_grad_in_place():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    first = x.grad
    kept = first.numpy().copy()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 5.0])
    assert first is x.grad  # as torch: accumulation updates the existing .grad tensor in place
    assert not np.array_equal(first.numpy(), kept)


# ---------------------------------------------------------------------------- hooks and retain_grad
def test_leaf_hook_sees_and_replaces_the_gradient():
    x, tx = _pair([1.0, 2.0])
    seen = []
    for v in (x, tx):
        v.register_hook(lambda g: seen.append(g.tolist()))
        v.register_hook(lambda g: g * 10)
        (v * 2).sum().backward()
    assert seen == [[2.0, 2.0], [2.0, 2.0]]
    assert_close(x.grad, tx.grad)


def test_non_leaf_hook_changes_what_flows_upstream():
    x, tx = _pair([1.0, 2.0])
    for v in (x, tx):
        y = v * 3
        y.register_hook(lambda g: g * 2)
        (y * y).sum().backward()
    assert_close(x.grad, tx.grad)


def test_hook_handle_remove():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    calls = []
    handle = x.register_hook(lambda g: calls.append(1))
    (x * 2).sum().backward()
    handle.remove()
    handle.remove()  # removing twice is harmless
    (x * 2).sum().backward()
    assert len(calls) == 1
    y = cr.tensor([1.0], requires_grad=True) * 2
    h = y.register_hook(lambda g: calls.append(2))
    h.remove()
    y.sum().backward()
    assert calls == [1]


def test_hooks_run_with_grad_mode_off():
    # as torch: an ordinary backward records nothing, hooks included
    modes = []
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    x.register_hook(lambda g: modes.append(("leaf", cr.is_grad_enabled())))
    y.register_hook(lambda g: modes.append(("non-leaf", cr.is_grad_enabled())))
    y.sum().backward()
    assert sorted(modes) == [("leaf", False), ("non-leaf", False)]
    assert cr.is_grad_enabled()


def test_hook_on_a_tensor_without_grad_is_an_error():
    with pytest.raises(cr.ChainruleError, match="does not require grad"):
        cr.tensor([1.0]).register_hook(lambda g: g)


def test_retain_grad_with_hooks_matches_torch():
    torch = require_torch()
    for hook_first in (True, False):
        results = []
        for m in (cr, torch):
            x = m.tensor([1.0, 2.0], requires_grad=True)
            y = x * 3
            if hook_first:
                y.register_hook(lambda g: g * 2)
                y.retain_grad()
            else:
                y.retain_grad()
                y.register_hook(lambda g: g * 2)
            (y * y).sum().backward()
            results.append((y.grad.tolist(), x.grad.tolist(), y.retains_grad))
        assert results[0] == results[1]


def test_retain_grad_accumulates_and_is_a_no_op_on_leaves():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    x.retain_grad()
    y = x * 2
    y.retain_grad()
    z = (y * y).sum()
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_array_equal(y.grad.numpy(), [8.0, 16.0])
    assert not x.retains_grad and y.retains_grad


# ---------------------------------------------------------------------------- grad modes
def test_no_grad_enable_grad_set_grad_enabled_nest():
    x = cr.tensor([1.0], requires_grad=True)
    with cr.no_grad():
        assert not cr.is_grad_enabled()
        assert not (x * 2).requires_grad
        with cr.enable_grad():
            assert (x * 2).requires_grad
            with cr.set_grad_enabled(False):
                assert not (x * 2).requires_grad
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad
    assert cr.is_grad_enabled() and (x * 2).requires_grad


def test_grad_mode_is_restored_after_an_exception():
    with pytest.raises(ValueError):
        with cr.no_grad():
            raise ValueError
    assert cr.is_grad_enabled()


def test_grad_mode_decorators():
    x = cr.tensor([1.0], requires_grad=True)

    @cr.no_grad()
    def off():
        return (x * 2).requires_grad

    @cr.enable_grad()
    def on():
        return (x * 2).requires_grad

    @cr.set_grad_enabled(False)
    def off_too():
        return (x * 2).requires_grad

    assert off() is False and on() is True and off_too() is False
    assert cr.is_grad_enabled()
    with cr.no_grad():
        assert on() is True
        assert not cr.is_grad_enabled()
    assert off.__name__ == "off"  # functools.wraps


def test_grad_mode_bare_decorators_like_torch():
    # torch accepts @torch.no_grad and @torch.enable_grad without parentheses
    torch = require_torch()
    x = cr.tensor([1.0], requires_grad=True)
    tx = torch.tensor([1.0], requires_grad=True)
    assert torch.no_grad(lambda: (tx * 2).requires_grad)() is False
    assert cr.no_grad(lambda: (x * 2).requires_grad)() is False
    with cr.no_grad():
        assert cr.enable_grad(lambda: (x * 2).requires_grad)() is True


def test_set_grad_enabled_as_a_function_call():
    x = cr.tensor([1.0], requires_grad=True)
    cr.set_grad_enabled(False)
    try:
        assert not cr.is_grad_enabled() and not (x * 2).requires_grad
    finally:
        cr.set_grad_enabled(True)
    assert (x * 2).requires_grad


def test_no_grad_results_are_leaves():
    x = cr.tensor([1.0], requires_grad=True)
    with cr.no_grad():
        y = x * 2
    assert y.is_leaf and y.grad_fn is None and not y.requires_grad


# ---------------------------------------------------------------------------- scale and memory
def test_a_long_chain_does_not_recurse():
    limit = sys.getrecursionlimit()
    x = cr.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0
    assert sys.getrecursionlimit() == limit
    del y
    gc.collect()


def test_intermediates_are_freed_after_backward():
    # as in torch: once backward ran, the graph no longer holds intermediate tensors, even while
    # the loss itself is still referenced (a training loop keeps `loss` for logging)
    torch = require_torch()
    for m in (torch, cr):
        x = m.randn(1000, requires_grad=True)
        hidden = (x * 2).exp()
        ref = weakref.ref(hidden)
        loss = (hidden * hidden).sum()
        del hidden
        loss.backward()
        gc.collect()
        assert ref() is None, f"{m.__name__} keeps the intermediate alive"
        assert loss.item() > 0


def test_graph_is_freed_with_its_output():
    x = cr.randn(100, requires_grad=True)
    hidden = x * 2
    ref = weakref.ref(hidden)
    loss = (hidden * hidden).sum()
    del hidden
    assert ref() is not None  # saved for backward
    del loss
    gc.collect()
    assert ref() is None


def test_constants_are_released_with_the_graph():
    x = cr.randn(100, requires_grad=True)
    with cr.no_grad():
        constant = x * 2
    ref = weakref.ref(constant)
    y = (x * constant).sum()
    del constant
    y.backward()
    del y
    gc.collect()
    assert ref() is None


# ---------------------------------------------------------------------------- autograd.grad
def test_grad_with_grad_outputs_matches_torch():
    torch = require_torch()
    x, tx = _pair([[1.0, 2.0], [3.0, -1.0]], "float64")
    v = [[1.0, 0.5], [-2.0, 3.0]]
    g, = cr.autograd.grad(x.exp() * x, x, grad_outputs=cr.tensor(v, dtype=cr.float64))
    tg, = torch.autograd.grad(tx.exp() * tx, tx, grad_outputs=torch.tensor(v, dtype=torch.float64))
    assert_close(g, tg)
    assert x.grad is None  # grad() never touches .grad
    assert not g.requires_grad


def test_grad_of_several_outputs_and_inputs():
    torch = require_torch()
    (x, tx), (w, tw) = _pair([1.0, 2.0], "float64"), _pair([0.5, -1.0], "float64")
    outs = [(x * w).sum(), (x.exp() * w * w).sum()]
    touts = [(tx * tw).sum(), (tx.exp() * tw * tw).sum()]
    gx, gw = cr.autograd.grad(outs, [x, w])
    tgx, tgw = torch.autograd.grad(touts, [tx, tw])
    assert_close(gx, tgx)
    assert_close(gw, tgw)


def test_grad_with_respect_to_an_intermediate():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = y * y * 3
    g, = cr.autograd.grad(z.sum(), y)
    np.testing.assert_array_equal(g.numpy(), [12.0, 24.0])


def test_grad_retain_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    a, = cr.autograd.grad(y, x, retain_graph=True)
    b, = cr.autograd.grad(y, x)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(cr.ChainruleError, match="second time"):
        cr.autograd.grad(y, x)


def test_grad_allow_unused():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    unused = cr.tensor([3.0], requires_grad=True)
    with pytest.raises(cr.ChainruleError, match=r"input 1 .* not used .*allow_unused=True"):
        cr.autograd.grad((x * 2).sum(), [x, unused])
    gx, gu = cr.autograd.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gu is None and gx.tolist() == [2.0, 2.0]
    gx, gu = cr.autograd.grad((x * 2).sum(), [x, unused], materialize_grads=True)
    assert gu.tolist() == [0.0]
    with pytest.raises(cr.ChainruleError, match="does not require grad"):
        cr.autograd.grad((x * 2).sum(), [cr.tensor([1.0])])


def _f(m, x, a):
    """A function with a non-trivial Hessian, written once for both frameworks."""
    return (x ** 3).sum() + (x.sin() * (a @ x)).sum() + (x.exp() * x).sum()


def test_second_derivative_and_hessian_vector_product_match_torch():
    torch = require_torch()
    rng = np.random.default_rng(0)
    a_np, v_np = rng.standard_normal((4, 4)), rng.standard_normal(4)
    x, tx = _pair(rng.standard_normal(4).tolist(), "float64")
    a, ta = cr.from_numpy(a_np), torch.from_numpy(a_np)
    g, = cr.autograd.grad(_f(cr, x, a), x, create_graph=True)
    tg, = torch.autograd.grad(_f(torch, tx, ta), tx, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    assert_close(g, tg)
    hv, = cr.autograd.grad(g, x, grad_outputs=cr.from_numpy(v_np))
    thv, = torch.autograd.grad(tg, tx, grad_outputs=torch.from_numpy(v_np))
    assert_close(hv, thv)
    # the same product as d/dx (g · v)
    g2, = cr.autograd.grad(_f(cr, x, a), x, create_graph=True)
    hv2, = cr.autograd.grad((g2 * cr.from_numpy(v_np)).sum(), x)
    assert_close(hv2, thv)


def test_backward_with_create_graph_then_backward_again():
    torch = require_torch()
    x, tx = _pair([0.5, -1.5, 2.0], "float64")
    results = []
    for v in (x, tx):
        y = (v ** 3 * v.exp()).sum()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about the grad <-> parameter cycle
            y.backward(create_graph=True)
        first = v.grad
        assert first.requires_grad
        v.grad = None
        (first * first).sum().backward()
        results.append((first.detach(), v.grad))
    assert_close(results[0][0], results[1][0])
    assert_close(results[0][1], results[1][1])


def test_third_derivative():
    x = cr.tensor([0.3, 1.2], dtype=cr.float64, requires_grad=True)
    g1, = cr.autograd.grad((x ** 4).sum(), x, create_graph=True)
    g2, = cr.autograd.grad(g1.sum(), x, create_graph=True)
    g3, = cr.autograd.grad(g2.sum(), x)
    np.testing.assert_allclose(g3.numpy(), 24 * x.detach().numpy())


# ---------------------------------------------------------------------------- backward(inputs=...)
def test_backward_inputs_limits_the_leaves_that_get_grad():
    torch = require_torch()
    x, tx = _pair([1.0, 2.0])
    z, tz = _pair([3.0])
    (x * z).sum().backward(inputs=[z])
    (tx * tz).sum().backward(inputs=[tz])
    assert x.grad is None and tx.grad is None
    assert_close(z.grad, tz.grad)
    (x * z).sum().backward(inputs=x)
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_backward_inputs_accepts_a_non_leaf():
    torch = require_torch()
    results = []
    for m in (cr, torch):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        w = m.tensor([3.0], requires_grad=True)
        y = x * 2
        (y * w).sum().backward(inputs=[y])
        results.append((x.grad, w.grad, None if y.grad is None else y.grad.tolist()))
    assert results[0] == results[1] == (None, None, [3.0, 3.0])


# ---------------------------------------------------------------------------- version checks by the clock
def test_a_parameter_changed_in_place_after_forward_is_caught():
    # the layer's node saved the weight; the engine checks it because an in-place change came later
    layer = cr.nn.Linear(3, 2)
    loss = layer(cr.ones(4, 3)).sum()
    with cr.no_grad():
        layer.weight.mul_(2.0)
    with pytest.raises(cr.ChainruleError, match="modified by an in-place operation"):
        loss.backward()


def test_an_in_place_change_elsewhere_leaves_backward_alone():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x).sum()
    other = cr.zeros(3)
    other.add_(1.0)  # stamps the clock after y's nodes: they are checked, and nothing they saved changed
    y.backward()
    assert_close(x.grad.numpy(), np.array([2.0, 4.0, 6.0], dtype=np.float32))


@pytest.mark.parametrize("shape, dtype", [((32, 128), np.float32), ((1, 7), np.float64), ((2000, 3), np.float32),
                                          ((16, 5), np.float16), ((0, 4), np.float32)])
def test_sum_rows_matches_numpys_sum(shape, dtype):
    """Bias gradients: a product with ones for float32/float64 up to 1024 rows, NumPy's sum otherwise."""
    from chainrule.autograd.engine import sum_rows

    g = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    tolerance = {np.float16: 1e-2, np.float32: 1e-5, np.float64: 1e-12}[dtype]
    for array in (g, g.T.copy().T):  # contiguous, and a transposed view
        got = sum_rows(array)
        assert got.dtype == dtype and got.shape == shape[1:]
        np.testing.assert_allclose(got, g.sum(axis=0), rtol=tolerance, atol=tolerance)
    t = cr.from_numpy(g.astype(np.float64)).requires_grad_()
    assert_close(sum_rows(t), t.sum(0))  # tensors (a recorded backward) take the differentiable sum


class _ReshapedGradient(cr.autograd.Function):
    """``x`` itself; backward returns the upstream gradient as a new (4, 3) array reshaped to ``x``'s (3, 4),
    and keeps a weak reference to that array (and a strong one in ``keep_into`` when that is a list)."""

    made: list[Any] = []

    @staticmethod
    def forward(ctx, x, keep_into):
        ctx.keep_into = keep_into
        return x * 1

    @staticmethod
    def backward(ctx, g):
        array = (g.numpy() * 1).T.copy()  # a new (4, 3) array
        _ReshapedGradient.made.append(weakref.ref(array))
        if ctx.keep_into is not None:
            ctx.keep_into.append(array)
        return cr.from_numpy(array.reshape(3, 4)), None


@pytest.mark.parametrize("kept", [False, True])
def test_a_reshaped_new_gradient_array_is_adopted_only_when_nothing_else_holds_it(kept):
    x = cr.ones(3, 4, requires_grad=True)
    keep_into: list[Any] | None = [] if kept else None
    upstream = cr.arange(12.0).reshape(3, 4)
    _ReshapedGradient.apply(x, keep_into).backward(upstream)
    array = _ReshapedGradient.made[-1]()
    np.testing.assert_array_equal(x.grad.numpy(), upstream.numpy().T.copy().reshape(3, 4))
    if kept:  # the rule still holds the array: .grad is a copy, and changing one leaves the other alone
        assert array is keep_into[0] and not np.shares_memory(x.grad.numpy(), array)
        array += 1
        np.testing.assert_array_equal(x.grad.numpy(), upstream.numpy().T.copy().reshape(3, 4))
    else:  # only the reshaped view held it: adopted, not copied
        assert array is not None and x.grad.numpy().base is array
