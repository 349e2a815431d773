"""``remember``: a cached constant array is read-only, found again under its key, and the cache stays
bounded."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.constant_cache import remember


def test_a_remembered_array_is_read_only_and_stored_under_its_key():
    cache: dict[int, np.ndarray] = {}
    array = np.arange(5)
    assert remember(cache, 5, array) is array and cache == {5: array}
    with pytest.raises(ValueError, match="read-only"):
        array[0] = 1


def test_a_full_cache_starts_afresh():
    cache: dict[int, np.ndarray] = {}
    for key in range(3):
        remember(cache, key, np.zeros(1), limit=3)
    assert sorted(cache) == [0, 1, 2]
    remember(cache, 3, np.zeros(1), limit=3)
    assert list(cache) == [3]
