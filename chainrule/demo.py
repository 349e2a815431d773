"""Fit sin(x) on [-π, π] with a small tanh network written with raw tensors.

This is what ``python -m chainrule`` runs: no ``nn.Module``, no optimizer class, just weights made
with ``cr.randn(..., requires_grad=True)``, a forward pass of ``x @ W + b`` and ``tanh``, a mean
squared error, ``loss.backward()`` and a hand-written SGD-with-momentum update under ``cr.no_grad()``::

    python -m chainrule --steps 3000 --lr 0.02 --hidden 32 --seed 0
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Callable, Sequence

import chainrule as cr
from chainrule import Tensor

__all__ = ["init_params", "forward", "train", "main"]


def init_params(hidden: int) -> list[Tensor]:
    """Weights (standard normal / sqrt(fan_in)) and zero biases of a 1-``hidden``-``hidden``-1 network."""
    sizes = [1, hidden, hidden, 1]
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        weight = cr.randn(fan_in, fan_out, requires_grad=True)
        with cr.no_grad():
            weight /= math.sqrt(fan_in)
        params += [weight, cr.zeros(fan_out, requires_grad=True)]
    return params


def forward(params: Sequence[Tensor], x: Tensor) -> Tensor:
    """Apply the network to ``x`` of shape ``(n, 1)``: tanh after every layer but the last."""
    h = x
    for i in range(0, len(params), 2):
        h = h @ params[i] + params[i + 1]
        if i + 2 < len(params):
            h = h.tanh()
    return h


def train(steps: int = 3000, *, seed: int = 0, lr: float = 0.02, hidden: int = 32,
          momentum: float = 0.9, points: int = 256, log_every: int = 250,
          log: Callable[[str], None] | None = print) -> list[float]:
    """Train the network on ``points`` evenly spaced samples of sin(x) and return the loss per step.

    The update is SGD with momentum, written out: ``v = momentum * v + grad``, ``W -= lr * v``.
    ``log`` receives a progress line every ``log_every`` steps and a final summary (``None``: silent).
    """
    cr.manual_seed(seed)
    x = cr.linspace(-math.pi, math.pi, points).reshape(points, 1)
    y = x.sin()
    params = init_params(hidden)
    velocity = [cr.zeros_like(p) for p in params]
    losses = []
    start = time.perf_counter()
    for step in range(1, steps + 1):
        loss = ((forward(params, x) - y) ** 2).mean()
        loss.backward()
        with cr.no_grad():
            for p, v in zip(params, velocity):
                v *= momentum
                v += p.grad
                p -= lr * v
                p.grad = None
        losses.append(loss.item())
        if log is not None and (step % log_every == 0 or step == 1):
            log(f"step {step:5d}   loss {losses[-1]:.6f}")
    if log is not None:
        with cr.no_grad():
            mse = ((forward(params, x) - y) ** 2).mean().item()
        log(f"final mean squared error {mse:.6f} after {steps} steps "
            f"({time.perf_counter() - start:.1f} s)")
    return losses


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run :func:`train`; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="chainrule demo",
        description="Fit sin(x) on [-pi, pi] with a 1-H-H-1 tanh network written with raw chainrule "
                    "tensors, plain autograd and hand-written SGD with momentum.")
    parser.add_argument("--steps", type=int, default=3000, help="training steps (default 3000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--lr", type=float, default=0.02, help="learning rate (default 0.02)")
    parser.add_argument("--hidden", type=int, default=32, help="width of both hidden layers (default 32)")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.hidden < 1 or not args.lr > 0:
        parser.error("--steps and --hidden must be at least 1 and --lr must be positive")
    losses = train(args.steps, seed=args.seed, lr=args.lr, hidden=args.hidden)
    if not math.isfinite(losses[-1]):
        print(f"error: the loss diverged with --lr {args.lr}; try a smaller learning rate", file=sys.stderr)
        return 1
    return 0
