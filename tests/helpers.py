"""Test helpers: the PyTorch oracle and comparisons used by every op table.

``torch`` is imported through :func:`require_torch`, which skips with a visible reason on a machine
without it and fails under ``CI=true`` (CI installs it).
"""

from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import numpy as np
import pytest

import chainrule as cr

TOLERANCES = {np.float64: dict(rtol=1e-6, atol=1e-8), np.float32: dict(rtol=1e-4, atol=1e-5)}


def require_torch() -> Any:
    """Import torch (the oracle); skip without it, except under CI=true where that is a failure."""
    try:
        import torch
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            raise
        pytest.skip("torch is not installed: pip install 'chainrule[oracle]' to run oracle tests")
    torch.set_default_dtype(torch.float32)
    return torch


def require_fashion_mnist() -> None:
    """Skip (a failure under CI=true, see conftest) when the Fashion-MNIST files are not installed."""
    from chainrule.datasets import FashionMNIST

    try:
        FashionMNIST(train=False)
    except Exception as error:  # noqa: BLE001 - any reason the data is missing
        pytest.skip(f"Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist): {error}")


def load_example(name: str) -> Any:
    """The module ``examples/<name>.py`` (examples are scripts, not a package)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"examples.{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def to_torch(value: Any, torch: Any, requires_grad: bool | None = None) -> Any:
    """A torch tensor with the same values (and requires_grad) as a chainrule tensor or array."""
    if isinstance(value, cr.Tensor):
        t = torch.from_numpy(np.array(value.detach().numpy()))
        if (value.requires_grad if requires_grad is None else requires_grad) and t.is_floating_point():
            t.requires_grad_(True)
        return t
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, (list, tuple)):
        return type(value)(to_torch(v, torch, requires_grad) for v in value)
    return value


def assert_close(actual: Any, expected: Any, dtype: Any = None, **tolerance: Any) -> None:
    """Compare a chainrule tensor (or array) with a torch tensor or array, with per-dtype tolerances."""
    a = actual.detach().numpy() if isinstance(actual, cr.Tensor) else np.asarray(actual)
    e = expected.detach().numpy() if hasattr(expected, "detach") else np.asarray(expected)
    assert a.shape == e.shape, f"shape {a.shape} != expected {e.shape}"
    kind = (dtype or a.dtype).type if hasattr(dtype or a.dtype, "type") else np.float64
    tol = {**TOLERANCES.get(kind, TOLERANCES[np.float64]), **tolerance}
    if a.dtype.kind in "biu":
        np.testing.assert_array_equal(a, e)
    else:
        np.testing.assert_allclose(a, e, equal_nan=True, **tol)


def check_against_torch(cr_fn: Callable[..., Any], torch_fn: Callable[..., Any], inputs: Sequence[Any],
                        **tolerance: Any) -> None:
    """Run the same function in chainrule and torch on the same inputs; compare the outputs and,
    for inputs that require grad, the gradients of ``sum(output * w)`` for a fixed random ``w``."""
    torch = require_torch()
    t_inputs = [to_torch(x, torch) for x in inputs]
    out = cr_fn(*inputs)
    t_out = torch_fn(*t_inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    t_outs = t_out if isinstance(t_out, (tuple, list)) else (t_out,)
    for o, t in zip(outs, t_outs):
        assert_close(o, t, **tolerance)
    grads_of = [i for i, x in enumerate(inputs) if isinstance(x, cr.Tensor) and x.requires_grad]
    diff = [(o, t) for o, t in zip(outs, t_outs) if isinstance(o, cr.Tensor) and o.requires_grad]
    if not grads_of or not diff:
        return
    rng = np.random.default_rng(1)
    loss = 0
    t_loss = 0
    for o, t in diff:
        w = rng.standard_normal(o.shape).astype(o.numpy(force=True).dtype)
        loss = loss + (o * cr.from_numpy(w)).sum()
        t_loss = t_loss + (t * torch.from_numpy(w)).sum()
    cr_grads = cr.autograd.grad(loss, [inputs[i] for i in grads_of], allow_unused=True)
    t_grads = torch.autograd.grad(t_loss, [t_inputs[i] for i in grads_of], allow_unused=True)
    for i, g, tg in zip(grads_of, cr_grads, t_grads):
        if tg is None:
            assert g is None or not np.any(g.numpy()), f"input {i}: torch gives no gradient, chainrule {g}"
            continue
        assert g is not None, f"input {i}: chainrule gives no gradient"
        assert_close(g, tg, **tolerance)


def rand(shape: Sequence[int], dtype: Any = cr.float64, low: float = -2.0, high: float = 2.0,
         requires_grad: bool = True, seed: int = 0, contiguous: bool = True) -> cr.Tensor:
    """A tensor of uniform values in [low, high); ``contiguous=False`` gives a transposed view."""
    rng = np.random.default_rng(seed)
    if contiguous or len(shape) < 2:
        data = rng.uniform(low, high, shape)
    else:
        data = rng.uniform(low, high, tuple(reversed(shape))).T
    t = cr.from_numpy(data.astype(dtype.numpy))
    return t.requires_grad_(requires_grad) if requires_grad and t.is_floating_point() else t
