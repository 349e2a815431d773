"""``F.embedding`` and ``nn.Embedding`` against PyTorch: lookups of any index shape and dtype, the
weight gradient (repeats accumulate, the padding row gets none), gradcheck, initialisation,
``from_pretrained``, state dicts, reprs and errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from tests.helpers import assert_close, rand, require_torch


@pytest.mark.parametrize("index_shape", [(5,), (3, 4), (2, 3, 2), (), (0,)])
@pytest.mark.parametrize("padding_idx", [None, 0, 3, -1])
@pytest.mark.parametrize("index_dtype", [np.int64, np.int32])
@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
def test_embedding_against_torch(index_shape, padding_idx, index_dtype, dtype):
    torch = require_torch()
    rng = np.random.default_rng(0)
    indices = rng.integers(0, 6, index_shape).astype(index_dtype)
    indices.reshape(-1)[:2] = 3  # a repeated index (and the padding row 3 where used)
    weight = rand((6, 4), dtype)
    t_weight = torch.from_numpy(weight.detach().numpy()).requires_grad_(True)
    out = F.embedding(cr.from_numpy(indices), weight, padding_idx)
    t_out = torch.nn.functional.embedding(torch.from_numpy(indices), t_weight, padding_idx)
    assert_close(out, t_out)
    g = rng.standard_normal(out.shape).astype(out.detach().numpy().dtype)
    out.backward(cr.from_numpy(g))
    t_out.backward(torch.from_numpy(g))
    assert_close(weight.grad, t_weight.grad)


def test_repeated_indices_accumulate_and_the_padding_row_gets_no_gradient():
    weight = rand((4, 2))
    F.embedding(cr.tensor([[1, 1, 2], [1, 0, 2]]), weight, padding_idx=2).sum().backward()
    np.testing.assert_array_equal(weight.grad.numpy(), [[1, 1], [3, 3], [0, 0], [0, 0]])


def test_embedding_gradcheck_and_gradgradcheck():
    indices = cr.tensor([[0, 1, 1], [3, 1, 0]])
    weight = rand((4, 3))
    assert cr.autograd.gradcheck(lambda w: F.embedding(indices, w), (weight,))
    assert cr.autograd.gradgradcheck(lambda w: F.embedding(indices, w) ** 2, (weight,))


def test_double_backward_with_padding_matches_torch():
    # the padding row's gradient is zeroed by definition (not a derivative, so no gradcheck): compare
    # d/dg <dL/dweight, v> through the recorded backward with PyTorch's instead
    torch = require_torch()
    indices = np.array([[0, 1, 1], [3, 1, 2]])
    weight = rand((4, 3))
    v = np.random.default_rng(1).standard_normal((4, 3))
    g = cr.from_numpy(np.ones((2, 3, 3))).requires_grad_(True)
    (gw,) = cr.autograd.grad(F.embedding(cr.from_numpy(indices), weight, 1), [weight], g, create_graph=True)
    (gg,) = cr.autograd.grad((gw * cr.from_numpy(v)).sum(), [g])
    t_weight = torch.from_numpy(weight.detach().numpy()).requires_grad_(True)
    t_g = torch.ones(2, 3, 3, dtype=torch.float64, requires_grad=True)
    (t_gw,) = torch.autograd.grad(torch.nn.functional.embedding(torch.from_numpy(indices), t_weight, 1), [t_weight],
                                  t_g, create_graph=True)
    (t_gg,) = torch.autograd.grad((t_gw * torch.from_numpy(v)).sum(), [t_g])
    assert_close(gg, t_gg)


@pytest.mark.parametrize("kwargs", [dict(), dict(padding_idx=2), dict(padding_idx=-1)])
def test_layer_matches_torch(kwargs):
    torch = require_torch()
    ours, theirs = nn.Embedding(10, 3, **kwargs), torch.nn.Embedding(10, 3, **kwargs)
    assert repr(ours) == repr(theirs)
    assert ours.padding_idx == theirs.padding_idx
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    indices = np.array([[1, 9, 2], [2, 2, 0]])
    out, t_out = ours(cr.from_numpy(indices)), theirs(torch.from_numpy(indices))
    assert_close(out, t_out)
    out.sum().backward()
    t_out.sum().backward()
    assert_close(ours.weight.grad, theirs.weight.grad)


def test_initialisation_is_standard_normal_with_the_padding_row_zeroed():
    cr.manual_seed(0)
    weight = nn.Embedding(2000, 50, padding_idx=5).weight.detach().numpy()
    np.testing.assert_array_equal(weight[5], 0)
    others = np.delete(weight, 5, axis=0)
    assert abs(others.mean()) < 0.01 and abs(others.std() - 1) < 0.01
    cr.manual_seed(0)
    np.testing.assert_array_equal(nn.Embedding(2000, 50, padding_idx=5).weight.detach().numpy(), weight)


def test_from_pretrained_freezes_by_default_and_shares_the_values():
    table = cr.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad and repr(frozen) == "Embedding(3, 2)"
    assert np.shares_memory(frozen.weight.detach().numpy(), table.numpy())  # as PyTorch's, not a copy
    np.testing.assert_array_equal(frozen(cr.tensor([2, 0])).numpy(), [[4, 5], [0, 1]])
    trainable = nn.Embedding.from_pretrained(table, freeze=False, padding_idx=1)
    assert trainable.weight.requires_grad
    trainable(cr.tensor([1, 2])).sum().backward()
    np.testing.assert_array_equal(trainable.weight.grad.numpy(), [[0, 0], [0, 0], [1, 1]])


@pytest.mark.parametrize("call,match", [
    (lambda w: F.embedding(cr.tensor([0, 6]), w), r"index out of range.*\[0, 5\].*6 rows"),
    (lambda w: F.embedding(cr.tensor([-1]), w), r"index out of range.*\[0, 5\]"),
    (lambda w: F.embedding(cr.tensor([0.5]), w), r"integer indices.*float32.*\.long\(\)"),
    (lambda w: F.embedding(cr.tensor([0]), w, padding_idx=6), r"padding_idx must be within num_embeddings.*\[-6, 5\]"),
    (lambda w: nn.Embedding(6, 2, padding_idx=-7), r"padding_idx must be within num_embeddings"),
    (lambda w: F.embedding(cr.tensor([0]), w, max_norm=1.0), r"max_norm.*not supported"),
    (lambda w: nn.Embedding.from_pretrained(cr.zeros(3)), r"embeddings must be 2-d"),
])
def test_errors(call, match):
    with pytest.raises(cr.ChainruleError, match=match):
        call(rand((6, 2)))
