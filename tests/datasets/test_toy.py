"""Toy problems: moons and spirals, seeded."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.datasets import make_moons, make_spirals


def test_moons_without_noise_lie_on_two_half_circles():
    X, y = make_moons(100)
    assert X.shape == (100, 2) and X.dtype == cr.float32 and y.dtype == cr.int64
    x, labels = X.numpy().astype(np.float64), y.numpy()
    assert np.bincount(labels).tolist() == [50, 50]
    upper, lower = x[labels == 0], x[labels == 1]
    np.testing.assert_allclose(np.hypot(*upper.T), 1, atol=1e-6)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1, atol=1e-6)
    assert upper[:, 1].min() >= -1e-6 and lower[:, 1].max() <= 0.5 + 1e-6


def test_moons_match_scikit_learns_points():
    X, y = make_moons(7, shuffle=False)
    assert y.tolist() == [0, 0, 0, 1, 1, 1, 1]
    np.testing.assert_allclose(X.numpy()[[0, 2, 3, 6]], [[1, 0], [-1, 0], [0, 0.5], [2, 0.5]], atol=1e-6)


def test_moons_counts_as_a_pair():
    _, y = make_moons((3, 5))
    assert np.bincount(y.numpy()).tolist() == [3, 5]


def test_seeded_and_reproducible():
    cr.manual_seed(0)
    a = make_moons(50, noise=0.1)
    cr.manual_seed(0)
    b = make_moons(50, noise=0.1)
    c = make_moons(50, noise=0.1, generator=cr.Generator().manual_seed(0))
    d = make_moons(50, noise=0.1, generator=cr.Generator().manual_seed(0))
    for first, second in ((a, b), (c, d)):
        np.testing.assert_array_equal(first[0].numpy(), second[0].numpy())
        np.testing.assert_array_equal(first[1].numpy(), second[1].numpy())
    assert not np.array_equal(a[0].numpy(), make_moons(50, noise=0.1)[0].numpy())


def test_noise_has_the_requested_spread():
    clean, y_clean = make_moons(4000, shuffle=False)
    noisy, y_noisy = make_moons(4000, noise=0.2, shuffle=False)
    assert y_clean.tolist() == y_noisy.tolist()
    assert abs(float(np.std(noisy.numpy() - clean.numpy())) - 0.2) < 0.01


@pytest.mark.parametrize("n_samples, n_classes", [(100, 2), (10, 3), (7, 3), (1, 1)])
def test_spirals_shapes_and_balance(n_samples, n_classes):
    X, y = make_spirals(n_samples, n_classes)
    assert X.shape == (n_samples, 2) and X.dtype == cr.float32 and y.dtype == cr.int64
    counts = np.bincount(y.numpy(), minlength=n_classes)
    assert counts.sum() == n_samples and counts.max() - counts.min() <= 1


def test_spiral_arms_are_rotations_of_each_other():
    X, y = make_spirals(300, 3, shuffle=False)
    x, labels = X.numpy().astype(np.float64), y.numpy()
    radius = np.hypot(*x.T)
    np.testing.assert_allclose(radius[labels == 0], np.linspace(0, 1, 100), atol=1e-6)
    turn = 2 * np.pi / 3
    rotation = np.array([[np.cos(turn), np.sin(turn)], [-np.sin(turn), np.cos(turn)]])
    np.testing.assert_allclose(x[labels == 0] @ rotation.T, x[labels == 1], atol=1e-5)


@pytest.mark.parametrize("call, message", [
    (lambda: make_moons(0), "positive number of points"),
    (lambda: make_moons(10, noise=-1), "noise is a standard deviation"),
    (lambda: make_spirals(10, 0), "n_classes must be at least 1"),
    (lambda: make_spirals(-3), "positive number of points"),
])
def test_bad_arguments(call, message):
    with pytest.raises(cr.ChainruleError, match=message):
        call()
