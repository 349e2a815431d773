"""Special functions on NumPy arrays that NumPy lacks (erf), accurate to float64 precision."""

from __future__ import annotations

import math

import numpy as np

_erf_scalar = np.frompyfunc(math.erf, 1, 1)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, elementwise, in float64."""
    return np.asarray(_erf_scalar(np.asarray(x, dtype=np.float64)), dtype=np.float64)
