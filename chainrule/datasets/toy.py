"""Small two-dimensional classification problems for examples and tests: moons and spirals."""

from __future__ import annotations

import numpy as np

from chainrule.creation import from_numpy
from chainrule.errors import ChainruleError
from chainrule.random import Generator, numpy_generator
from chainrule.tensor import Tensor

__all__ = ["make_moons", "make_spirals"]


def make_moons(n_samples: int | tuple[int, int] = 100, noise: float | None = None, *, shuffle: bool = True,
               generator: Generator | None = None) -> tuple[Tensor, Tensor]:
    """Two interleaving half circles, as scikit-learn's ``make_moons``: ``(X, y)`` with X a float32
    tensor (n, 2) and y an int64 tensor (n,) of 0 (upper moon) and 1 (lower moon).

    ``n_samples`` is the total (split as evenly as possible, the upper moon getting the smaller half)
    or a pair (upper, lower). ``noise`` is the standard deviation of Gaussian noise added to the
    points. Shuffling and noise draw from ``generator`` (default: chainrule's seeded one).
    """
    if isinstance(n_samples, tuple):
        n_out, n_in = n_samples
    else:
        n_out = n_samples // 2
        n_in = n_samples - n_out
    _check_counts("make_moons", n_out, n_in, noise=noise)
    angle_out, angle_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    points = np.concatenate([np.stack([np.cos(angle_out), np.sin(angle_out)], axis=1),
                             np.stack([1 - np.cos(angle_in), 0.5 - np.sin(angle_in)], axis=1)])
    labels = np.repeat(np.array([0, 1], dtype=np.int64), [n_out, n_in])
    return _finish(points, labels, noise, shuffle, generator)


def make_spirals(n_samples: int = 100, n_classes: int = 2, noise: float | None = None, *, shuffle: bool = True,
                 generator: Generator | None = None) -> tuple[Tensor, Tensor]:
    """``n_classes`` interleaved spiral arms around the origin: ``(X, y)`` with X a float32 tensor
    (n, 2) and y an int64 tensor (n,) of the arm's index.

    Arm ``k`` holds the points ``r (sin t, cos t)`` with the radius ``r`` going from 0 to 1 while the
    angle ``t`` turns by 4 radians from ``2 pi k / n_classes``. The ``n_samples`` points are split as
    evenly as possible between the arms. ``noise`` is the standard deviation of Gaussian noise added
    to the points (0.05 … 0.1 keeps the arms apart). Draws come from ``generator``.
    """
    if n_classes < 1:
        raise ChainruleError(f"make_spirals: n_classes must be at least 1, got {n_classes}")
    counts = [n_samples // n_classes + (k < n_samples % n_classes) for k in range(n_classes)]
    _check_counts("make_spirals", *counts, noise=noise)
    arms = []
    for k, count in enumerate(counts):
        radius = np.linspace(0, 1, count)
        angle = 2 * np.pi * k / n_classes + 4 * radius
        arms.append(radius[:, None] * np.stack([np.sin(angle), np.cos(angle)], axis=1))
    labels = np.repeat(np.arange(n_classes, dtype=np.int64), counts)
    return _finish(np.concatenate(arms), labels, noise, shuffle, generator)


def _check_counts(op: str, *counts: int, noise: float | None) -> None:
    if any(c < 0 for c in counts) or sum(counts) == 0:
        raise ChainruleError(f"{op}: n_samples must give a positive number of points, got {counts}")
    if noise is not None and noise < 0:
        raise ChainruleError(f"{op}: noise is a standard deviation and cannot be negative, got {noise}")


def _finish(points: np.ndarray, labels: np.ndarray, noise: float | None, shuffle: bool,
            generator: Generator | None) -> tuple[Tensor, Tensor]:
    """Shuffle, add the noise, and return float32 points and int64 labels as tensors."""
    rng = numpy_generator(generator)
    if shuffle:
        order = rng.permutation(len(labels))
        points, labels = points[order], labels[order]
    if noise:
        points = points + rng.normal(scale=noise, size=points.shape)
    return from_numpy(points.astype(np.float32)), from_numpy(labels)
