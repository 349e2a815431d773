"""chainrule.ops.special.erf against math.erf on dense grids, special values and dtypes."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops import special

_math_erf = np.vectorize(math.erf, otypes=[np.float64])


def _grid() -> np.ndarray:
    """Ordinary, tiny (down to subnormal), huge, range-boundary and block-boundary arguments, both signs."""
    boundaries = np.array([special._SMALL, special._TAIL, 5.9, 5.92, 5.93])
    parts = [
        np.linspace(0, 7, 100_001),  # spans several blocks
        np.geomspace(5e-324, 1e-3, 1_500),
        np.geomspace(7, 1e308, 500),
        np.nextafter(boundaries, 0), boundaries, np.nextafter(boundaries, np.inf),
        np.random.default_rng(0).standard_normal(10_000) * 2,
    ]
    x = np.concatenate(parts)
    return np.concatenate([x, -x])


def test_erf_matches_math_erf_on_dense_grids():
    x = _grid()
    got = special.erf(x)
    want = _math_erf(x)
    assert got.dtype == np.float64 and got.shape == x.shape
    # relative to |erf x| (so tiny arguments keep full relative accuracy) and absolute (|erf| <= 1)
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-320)
    assert np.max(np.abs(got - want)) <= 4.5e-16  # about 2 ulp, as documented


def test_erf_is_odd_and_monotonic():
    x = np.linspace(0, 7, 50_001)
    y = special.erf(x)
    np.testing.assert_array_equal(special.erf(-x), -y)
    assert np.all(np.diff(y) >= 0)
    assert np.all((y >= 0) & (y <= 1))


def test_erf_special_values():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324, -5e-324, 1e300, -1e300])
    y = special.erf(x)
    assert np.isnan(y[0])
    np.testing.assert_array_equal(y[1:], [1.0, -1.0, 0.0, -0.0, 5e-324, -5e-324, 1.0, -1.0])
    assert not np.signbit(y[3]) and np.signbit(y[4])


@pytest.mark.parametrize("shape", [(), (0,), (0, 3), (1,), (3, 4, 5)])
def test_erf_keeps_shape(shape):
    x = np.random.default_rng(1).standard_normal(shape)
    y = special.erf(x)
    assert isinstance(y, np.ndarray) and y.shape == shape and y.dtype == np.float64
    np.testing.assert_allclose(y, _math_erf(x), rtol=1e-14, atol=0)


def test_erf_accepts_non_contiguous_lists_and_other_dtypes():
    base = np.random.default_rng(2).standard_normal((40, 60))
    view = base[::3, ::-2].T
    np.testing.assert_allclose(special.erf(view), _math_erf(view), rtol=1e-14, atol=0)
    np.testing.assert_allclose(special.erf([0.5, -2.0]), [math.erf(0.5), math.erf(-2.0)], rtol=1e-15)
    x32 = base.astype(np.float32)
    np.testing.assert_allclose(special.erf(x32), _math_erf(x32.astype(np.float64)), rtol=1e-14, atol=0)
    np.testing.assert_allclose(special.erf(np.arange(-3, 4)), _math_erf(np.arange(-3.0, 4.0)), rtol=1e-15)


def test_fitted_coefficients_keep_horner_free_of_cancellation():
    # all positive: N and D add positive terms for x > 0, so D never vanishes and nothing cancels
    assert min(special._ERFCX_NUM + special._ERFCX_DEN) > 0
    assert special._ERF_SMALL[0] == pytest.approx(2 / math.sqrt(math.pi), rel=1e-16)


@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
def test_cr_erf_returns_the_input_dtype(dtype):
    x = _grid()
    t = cr.tensor(x if dtype == cr.float64 else x[np.abs(x) < 1e38], dtype=dtype)
    y = cr.erf(t)
    assert y.dtype == dtype
    exact = _math_erf(t.numpy().astype(np.float64))  # the argument as rounded to the dtype
    if dtype == cr.float64:
        np.testing.assert_allclose(y.numpy(), exact, rtol=1e-14, atol=1e-320)
    else:  # computed in float64, rounded once to float32
        np.testing.assert_array_equal(y.numpy(), exact.astype(np.float32))


def test_cr_erf_integer_input_uses_the_default_float_dtype():
    y = cr.erf(cr.tensor([-2, 0, 1]))
    assert y.dtype == cr.float32
    np.testing.assert_array_equal(y.numpy(), np.float32([math.erf(-2), 0.0, math.erf(1)]))
