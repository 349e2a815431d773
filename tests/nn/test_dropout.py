"""``F.dropout2d`` and ``nn.Dropout2d``: whole channels zeroed at rate ``p``, the kept ones scaled by
``1 / (1 - p)``, the identity in eval mode, seeded reproducibility, the gradient, ``inplace`` and errors.
(Element-wise dropout is tested with the other functionals in tests/nn/test_functional.py.)"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from tests.helpers import rand, require_torch


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
def test_dropout2d_zeroes_whole_channels_at_rate_p_and_scales_the_rest(p, dtype):
    x = cr.full((100, 40, 3, 4), 2.0, dtype=dtype)
    y = F.dropout2d(x, p).numpy()
    assert y.dtype == dtype.numpy
    planes = y.reshape(100, 40, 12)
    kept = (planes != 0).all(axis=2)
    assert ((planes == 0).all(axis=2) | kept).all()  # each channel is dropped or kept as a whole
    # 4000 channels: the dropped fraction's standard deviation is at most 0.008; allow five of them
    assert abs(1 - kept.mean() - p) < 0.04
    np.testing.assert_allclose(planes[kept], 2.0 / (1 - p), rtol=1e-6)  # inverted dropout: E[y] = x


def test_dropout2d_is_the_identity_in_eval_mode_and_for_p0():
    x = rand((2, 3, 4, 4))
    assert F.dropout2d(x, 0.5, training=False) is x
    assert F.dropout2d(x, 0.0) is x
    layer = nn.Dropout2d(0.5).eval()
    assert layer(x) is x
    np.testing.assert_array_equal(F.dropout2d(x, 1.0).detach().numpy(), 0)


def test_dropout2d_is_reproducible_with_manual_seed():
    x = rand((8, 16, 2, 2), requires_grad=False)
    cr.manual_seed(7)
    first = nn.Dropout2d(0.5)(x).numpy()
    cr.manual_seed(7)
    np.testing.assert_array_equal(F.dropout2d(x, 0.5).numpy(), first)
    assert not np.array_equal(F.dropout2d(x, 0.5).numpy(), first)  # the generator moved on


def test_dropout2d_gradient_is_the_channel_mask():
    x = rand((4, 6, 3, 3))
    y = F.dropout2d(x, 0.4)
    y.sum().backward()
    mask = (y.detach().numpy() != 0) / 0.6
    np.testing.assert_allclose(x.grad.numpy(), mask, rtol=1e-12)
    cr.manual_seed(3)
    assert cr.autograd.gradcheck(lambda x: (cr.manual_seed(3), F.dropout2d(x, 0.4))[1], (rand((2, 3, 2, 2)),))


def test_dropout2d_inplace_changes_the_input():
    x = cr.ones(4, 5, 2, 2)
    cr.manual_seed(1)
    expected = F.dropout2d(x, 0.3).numpy().copy()
    cr.manual_seed(1)
    assert nn.Dropout2d(0.3, inplace=True)(x) is x
    np.testing.assert_array_equal(x.numpy(), expected)


def test_dropout2d_reads_a_3d_input_as_n_c_l_like_torch():
    x = cr.ones(50, 20, 6)
    with pytest.warns(UserWarning, match=r"3-d input is read as \(N, C, L\)"):
        y = F.dropout2d(x, 0.5).numpy()
    assert ((y == 0).all(axis=2) | (y != 0).all(axis=2)).all()


def test_dropout2d_repr_matches_torch():
    torch = require_torch()
    for args in [(), (0.2,), (0.3, True)]:
        assert repr(nn.Dropout2d(*args)) == repr(torch.nn.Dropout2d(*args))


@pytest.mark.parametrize("call,match", [
    (lambda: F.dropout2d(cr.ones(2, 3, 4, 4), 1.5), r"dropout2d: the dropout probability must be .* got 1.5"),
    (lambda: nn.Dropout2d(-0.1), r"Dropout2d: the dropout probability"),
    (lambda: F.dropout2d(cr.ones(3, 4), 0.5), r"dropout2d: expected an input of shape \(N, C, H, W\), got \(3, 4\)"),
])
def test_dropout2d_errors(call, match):
    with pytest.raises(cr.ChainruleError, match=match):
        call()
