"""Bounded caches of read-only constant arrays that hot paths reuse instead of making them again: 0-d
scalars, vectors of ones, row indices, arrays of zeros. A lookup costs less than making the array, and
a read-only array cannot be changed by whoever receives it. Callers look up their own dictionary
(``cache.get(key)``, nothing more on the hot path) and call :func:`remember` on a miss."""

from __future__ import annotations

from typing import Hashable, TypeVar

import numpy as np

__all__ = ["remember"]

Key = TypeVar("Key", bound=Hashable)


def remember(cache: dict[Key, np.ndarray], key: Key, array: np.ndarray, limit: int = 64) -> np.ndarray:
    """Make ``array`` read-only, store it in ``cache`` under ``key`` and return it; a cache that already
    holds ``limit`` entries starts afresh first, so that it stays bounded."""
    if len(cache) >= limit:
        cache.clear()
    array.flags.writeable = False
    cache[key] = array
    return array
