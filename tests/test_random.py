"""The seeded generator: one default stream behind every random function, Generators, saved states."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def _draw_all(generator=None):
    kw = {} if generator is None else {"generator": generator}
    return [cr.rand(3, **kw), cr.randn(2, 2, **kw), cr.randint(0, 100, (4,), **kw), cr.randperm(6, **kw),
            cr.rand(2, dtype=cr.float64, **kw), cr.normal(1.0, 2.0, (3,), **kw)]


def _equal(a, b):
    return all(x.dtype == y.dtype and np.array_equal(x.numpy(), y.numpy()) for x, y in zip(a, b))


def test_same_seed_same_numbers():
    cr.manual_seed(123)
    first = _draw_all()
    cr.manual_seed(123)
    assert _equal(first, _draw_all())
    cr.manual_seed(124)
    assert not _equal(first, _draw_all())


def test_one_generator_drives_every_random_function():
    cr.manual_seed(7)
    cr.rand(5)  # consumes from the shared stream ...
    after_rand = cr.randn(5)
    cr.manual_seed(7)
    assert not np.array_equal(cr.randn(5).numpy(), after_rand.numpy())  # ... so randn sees a moved stream
    cr.manual_seed(7)
    cr.randint(0, 10, (5,))
    after_randint = cr.randperm(8)
    cr.manual_seed(7)
    assert not np.array_equal(cr.randperm(8).numpy(), after_randint.numpy())
    cr.manual_seed(7)
    cr.randn_like(cr.zeros(3))
    cr.manual_seed(7)
    first = cr.randn(3)
    cr.manual_seed(7)
    assert np.array_equal(cr.randn_like(cr.zeros(3)).numpy(), first.numpy())


def test_numpy_global_seed_does_not_affect_chainrule():
    cr.manual_seed(3)
    np.random.seed(1)
    a = cr.randn(4)
    cr.manual_seed(3)
    np.random.seed(2)
    np.random.rand(10)
    assert np.array_equal(a.numpy(), cr.randn(4).numpy())


def test_generator_argument_is_independent_of_the_default_stream():
    g = cr.Generator().manual_seed(11)
    cr.manual_seed(0)
    with_default = cr.randn(3)
    ours = _draw_all(g)
    g.manual_seed(11)
    assert _equal(ours, _draw_all(g))  # reseeding the generator replays it
    cr.manual_seed(0)
    assert np.array_equal(cr.randn(3).numpy(), with_default.numpy())  # the default stream was untouched
    g2 = cr.Generator().manual_seed(11)
    assert _equal(ours, _draw_all(g2))
    assert np.array_equal(cr.rand_like(cr.zeros(2), generator=g2.manual_seed(5)).numpy(),
                          cr.rand(2, generator=cr.Generator().manual_seed(5)).numpy())


def test_manual_seed_returns_the_default_generator():
    g = cr.manual_seed(42)
    assert isinstance(g, cr.Generator)
    assert cr.initial_seed() == 42 and g.initial_seed() == 42
    assert cr.manual_seed(np.int64(5)).initial_seed() == 5
    with pytest.raises(cr.ChainruleError, match="the seed must be an int, got float"):
        cr.manual_seed(1.5)


def test_seed_from_entropy():
    s = cr.seed()
    assert isinstance(s, int) and cr.initial_seed() == s
    a = cr.randn(3)
    cr.manual_seed(s)
    assert np.array_equal(a.numpy(), cr.randn(3).numpy())


def test_rng_state_round_trip():
    cr.manual_seed(9)
    cr.randn(7)
    state = cr.get_rng_state()
    assert isinstance(state, cr.Tensor) and state.dtype == cr.uint8 and state.ndim == 1
    expected = _draw_all()
    cr.randn(100)  # move on, then restore
    cr.set_rng_state(state)
    assert _equal(expected, _draw_all())
    assert cr.initial_seed() == 9


def test_generator_state_transfers_between_generators():
    g = cr.Generator().manual_seed(3)
    cr.rand(4, generator=g)
    h = cr.Generator()
    h.set_state(g.get_state())
    assert _equal(_draw_all(g), _draw_all(h))


def test_state_is_not_aliased():
    state = cr.get_rng_state()
    saved = state.tolist()
    first = cr.randn(3)
    cr.randn(3)
    assert state.tolist() == saved  # drawing does not change a state taken earlier
    cr.set_rng_state(state)
    assert np.array_equal(cr.randn(3).numpy(), first.numpy())
    assert state.tolist() != cr.get_rng_state().tolist()


def test_bad_state_raises_clearly():
    with pytest.raises(cr.ChainruleError, match="not a state returned by get_state"):
        cr.set_rng_state(cr.tensor([1, 2, 3], dtype=cr.uint8))


def test_generator_on_other_devices_raises():
    assert cr.Generator("cpu").initial_seed() == cr.Generator().initial_seed()
    with pytest.raises(cr.ChainruleError, match="device"):
        cr.Generator("cuda")
