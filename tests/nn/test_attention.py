"""Attention against PyTorch on the same weights: ``F.scaled_dot_product_attention`` (masks, causal,
scale, L ≠ S, batch dimensions, dropout), ``nn.MultiheadAttention`` (layouts, kdim/vdim, masks,
weights) and ``nn.TransformerEncoderLayer`` (post-/pre-norm, activations, masks), with outputs,
attention weights and gradients of inputs and every parameter; gradcheck; initialisation; errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from tests.helpers import assert_close, check_against_torch, rand, require_torch, to_torch

DTYPES = [cr.float64, cr.float32]


def _bool(shape, seed, p=0.7):
    return cr.from_numpy(np.random.default_rng(seed).random(shape) < p)


def _load_into(torch, theirs, ours):
    """Load our module's state into its torch twin."""
    theirs.load_state_dict({k: to_torch(v, torch, requires_grad=False) for k, v in ours.state_dict().items()})


# ---------------------------------------------------------------------------- scaled_dot_product_attention
SDPA_CASES = {
    "plain": ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7), {}),
    "bool mask": ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7), {"attn_mask": ("bool", (4, 6))}),
    "bool mask per batch": ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7), {"attn_mask": ("bool", (2, 1, 4, 6))}),
    "float mask": ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7), {"attn_mask": ("float", (3, 4, 6))}),
    "causal L<S": ((2, 4, 5), (2, 6, 5), (2, 6, 3), {"is_causal": True}),
    "causal L>S": ((6, 5), (4, 5), (4, 3), {"is_causal": True}),
    "custom scale": ((2, 4, 5), (2, 6, 5), (2, 6, 3), {"scale": 0.3}),
    "extra batch dims": ((2, 2, 3, 4, 5), (2, 2, 3, 6, 5), (2, 2, 3, 6, 5), {"attn_mask": ("bool", (4, 6))}),
    "broadcast batch": ((2, 3, 4, 5), (1, 3, 6, 5), (2, 1, 6, 5), {}),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(SDPA_CASES))
def test_sdpa_matches_torch_values_and_gradients(case, dtype):
    torch = require_torch()
    q_shape, k_shape, v_shape, options = SDPA_CASES[case]
    inputs = [rand(q_shape, dtype, seed=1), rand(k_shape, dtype, seed=2), rand(v_shape, dtype, seed=3)]
    kwargs = {k: v for k, v in options.items() if k != "attn_mask"}
    if "attn_mask" in options:
        kind, shape = options["attn_mask"]
        # a float mask is an input too: its gradient is compared as well
        inputs.append(_bool(shape, 4) if kind == "bool" else rand(shape, dtype, seed=4))
    check_against_torch(lambda *a: F.scaled_dot_product_attention(*a, **kwargs),
                        lambda *a: torch.nn.functional.scaled_dot_product_attention(*a, **kwargs), inputs)


@pytest.mark.parametrize("mask", ["bool", "float", "causal"])
def test_sdpa_gradcheck(mask):
    q, k, v = rand((2, 3, 2), seed=1), rand((2, 4, 2), seed=2), rand((2, 4, 3), seed=3)
    if mask == "causal":
        def causal(q, k, v):
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)

        assert cr.autograd.gradcheck(causal, (q, k, v))
        assert cr.autograd.gradgradcheck(causal, (q, k, v))
        return
    m = _bool((3, 4), 5) if mask == "bool" else rand((3, 4), seed=5)
    inputs = (q, k, v) if mask == "bool" else (q, k, v, m)
    assert cr.autograd.gradcheck(lambda q, k, v, *mm: F.scaled_dot_product_attention(q, k, v, mm[0] if mm else m),
                                 inputs)


def test_sdpa_fully_masked_query_gives_zeros_as_torch():
    torch = require_torch()
    mask = np.ones((3, 4), bool)
    mask[1] = False
    check_against_torch(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, cr.from_numpy(mask)),
                        lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(q, k, v,
                                                                                       torch.from_numpy(mask)),
                        [rand((3, 2), seed=1), rand((4, 2), seed=2), rand((4, 2), seed=3)])


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_sdpa_dropout_zeroes_that_fraction_of_weights_reproducibly(p):
    # q = k = 0 gives uniform weights 1/S, and v = I makes the output the weights themselves
    length, source = 200, 50
    q, k = cr.zeros(length, 4, dtype=cr.float64), cr.zeros(source, 4, dtype=cr.float64)
    v = cr.eye(source, dtype=cr.float64).requires_grad_()
    cr.manual_seed(3)
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
    w = out.detach().numpy()
    assert abs((w == 0).mean() - p) < 0.03
    np.testing.assert_allclose(w[w != 0], 1 / source / (1 - p), rtol=1e-6)
    cr.manual_seed(3)
    np.testing.assert_array_equal(F.scaled_dot_product_attention(q, k, v, dropout_p=p).detach().numpy(), w)
    assert not np.array_equal(F.scaled_dot_product_attention(q, k, v, dropout_p=p).detach().numpy(), w)
    g = np.random.default_rng(0).standard_normal(w.shape)
    out.backward(cr.from_numpy(g))
    np.testing.assert_allclose(v.grad.numpy(), w.T @ g, rtol=1e-6)  # d/dv (W v) = Wᵀ g, W after dropout


def test_sdpa_errors_name_shapes_and_fixes():
    q, k, v = cr.zeros(2, 3, 4), cr.zeros(2, 5, 4), cr.zeros(2, 5, 6)
    with pytest.raises(cr.ChainruleError, match=r"attention mask of shape \(3, 4\).*\(2, 3, 5\)"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=cr.ones(3, 4, dtype=cr.bool))
    with pytest.raises(cr.ChainruleError, match=r"query \(2, 3, 4\).*key \(2, 5, 3\)"):
        F.scaled_dot_product_attention(q, cr.zeros(2, 5, 3), v)
    with pytest.raises(cr.ChainruleError, match="is_causal"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=cr.ones(3, 5, dtype=cr.bool), is_causal=True)
    with pytest.raises(cr.ChainruleError, match="float64.*to\\(query.dtype\\)"):
        F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=cr.zeros(3, 5, dtype=cr.float64))
    with pytest.raises(cr.ChainruleError, match="same floating dtype"):
        F.scaled_dot_product_attention(q.double(), k, v)


# ---------------------------------------------------------------------------- MultiheadAttention
def _mha_pair(torch, dtype, embed_dim=8, num_heads=2, **kwargs):
    ours = nn.MultiheadAttention(embed_dim, num_heads, dtype=dtype, **kwargs)
    theirs = torch.nn.MultiheadAttention(embed_dim, num_heads, dtype=getattr(torch, dtype.numpy.name), **kwargs)
    _load_into(torch, theirs, ours)
    return ours, theirs


def _compare_module(torch, ours, theirs, inputs, call, dtype):
    """Run ``call(module, *inputs)`` on both; compare every output, then the gradients of a random
    projection of the outputs with respect to the distinct inputs and every parameter."""
    distinct = list({id(x): x for x in inputs}.values())
    t_distinct = {id(x): torch.from_numpy(x.detach().numpy().copy()).requires_grad_() for x in distinct}
    outs, t_outs = call(ours, *inputs), call(theirs, *(t_distinct[id(x)] for x in inputs))
    outs, t_outs = (outs, t_outs) if isinstance(outs, tuple) else ((outs,), (t_outs,))
    rng = np.random.default_rng(1)
    loss, t_loss = 0, 0
    for o, t in zip(outs, t_outs):
        assert (o is None) == (t is None)
        if o is None:
            continue
        assert_close(o, t)
        r = rng.standard_normal(o.shape).astype(dtype.numpy)
        loss, t_loss = loss + (o * cr.from_numpy(r)).sum(), t_loss + (t * torch.from_numpy(r)).sum()
    loss.backward()
    t_loss.backward()
    for x in distinct:
        assert_close(x.grad, t_distinct[id(x)].grad)
    t_params = dict(theirs.named_parameters())
    assert sorted(t_params) == sorted(name for name, _ in ours.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, t_params[name].grad)


MHA_CASES = {
    "cross, sequence first": ({}, [(5, 3, 8), (6, 3, 8), (6, 3, 8)], {}),
    "self, sequence first": ({}, [(5, 3, 8)], {}),
    "cross, batch first": ({"batch_first": True}, [(3, 5, 8), (3, 6, 8), (3, 6, 8)], {}),
    "self, batch first, no weights": ({"batch_first": True}, [(3, 5, 8)], {"need_weights": False}),
    "key is value": ({"batch_first": True}, [(3, 5, 8), (3, 6, 8)], {}),
    "kdim, vdim": ({"kdim": 3, "vdim": 5}, [(5, 3, 8), (6, 3, 3), (6, 3, 5)], {"average_attn_weights": False}),
    "kdim, vdim, no bias": ({"kdim": 3, "vdim": 5, "bias": False}, [(5, 3, 8), (6, 3, 3), (6, 3, 5)], {}),
    "unbatched": ({}, [(5, 8), (6, 8), (6, 8)], {"average_attn_weights": False}),
    "unbatched, batch-first layer": ({"batch_first": True}, [(5, 8), (6, 8), (6, 8)], {}),
    "unbatched padding": ({}, [(5, 8), (6, 8), (6, 8)], {"key_padding_mask": ("bool", (6,))}),
    "key padding": ({}, [(5, 3, 8), (6, 3, 8), (6, 3, 8)], {"key_padding_mask": ("bool", (3, 6))}),
    "float key padding": ({}, [(5, 3, 8), (6, 3, 8), (6, 3, 8)], {"key_padding_mask": ("float", (3, 6))}),
    "2-d mask": ({}, [(5, 3, 8), (6, 3, 8), (6, 3, 8)], {"attn_mask": ("bool", (5, 6)), "need_weights": False}),
    "3-d mask and padding": ({"batch_first": True}, [(3, 5, 8), (3, 6, 8), (3, 6, 8)],
                             {"attn_mask": ("bool", (6, 5, 6)), "key_padding_mask": ("bool", (3, 6))}),
    "3-d float mask": ({}, [(5, 3, 8), (6, 3, 8), (6, 3, 8)], {"attn_mask": ("float", (6, 5, 6))}),
    "causal hint": ({"bias": False}, [(5, 3, 8)], {"attn_mask": ("causal", (5, 5)), "is_causal": True,
                                                    "need_weights": False}),
}


def _mask(kind, shape, dtype, seed):
    if kind == "causal":
        return cr.from_numpy(np.triu(np.ones(shape, bool), 1))
    # True (or -inf) marks a key as masked out: keep it rare so that no query loses every key
    if kind == "bool":
        return _bool(shape, seed, p=0.25)
    return rand(shape, dtype, requires_grad=False, seed=seed)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(MHA_CASES))
def test_multihead_attention_matches_torch(case, dtype):
    torch = require_torch()
    options, shapes, call_options = MHA_CASES[case]
    ours, theirs = _mha_pair(torch, dtype, **options)
    inputs = [rand(s, dtype, seed=i) for i, s in enumerate(shapes)]
    inputs = inputs * 3 if len(inputs) == 1 else inputs[:1] + inputs[1:] * 2 if len(inputs) == 2 else inputs
    masks = {k: _mask(*v, dtype, seed=9) for k, v in call_options.items() if isinstance(v, tuple)}
    flags = {k: v for k, v in call_options.items() if not isinstance(v, tuple)}

    def call(module, *xs):
        as_torch = module is theirs
        return module(*xs, **flags, **{k: to_torch(m, torch) if as_torch else m for k, m in masks.items()})

    _compare_module(torch, ours, theirs, inputs, call, dtype)


def test_multihead_attention_functional_gradcheck_and_gradgradcheck():
    mha = nn.MultiheadAttention(4, 2, dtype=cr.float64)
    q, k, v = rand((3, 2, 4), seed=1), rand((2, 2, 4), seed=2), rand((2, 2, 4), seed=3)
    mask = _bool((3, 2), 4, p=0.3)

    def attend(q, k, v, w_in, b_in, w_out, b_out):
        return F.multi_head_attention_forward(q, k, v, 4, 2, w_in, b_in, None, None, False, 0.0, w_out, b_out,
                                              attn_mask=mask)

    params = [p.detach().requires_grad_() for p in (mha.in_proj_weight, mha.in_proj_bias, mha.out_proj.weight,
                                                    mha.out_proj.bias)]
    params[1] = rand((12,), seed=5)  # non-zero biases, so that their gradients are exercised
    assert cr.autograd.gradcheck(attend, (q, k, v, *params))
    assert cr.autograd.gradgradcheck(attend, (q, k, v, *params))


def test_multihead_attention_parameters_init_and_repr_as_torch():
    torch = require_torch()
    ours, theirs = _mha_pair(torch, cr.float32, embed_dim=16, num_heads=4, kdim=6)
    assert repr(ours) == repr(theirs)
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
           {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    mha = nn.MultiheadAttention(64, 4)
    bound = math.sqrt(6 / (64 + 3 * 64))  # xavier_uniform_ on the (3E, E) in_proj_weight
    w = mha.in_proj_weight.detach().numpy()
    assert w.dtype == np.float32 and np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert not mha.in_proj_bias.detach().numpy().any() and not mha.out_proj.bias.detach().numpy().any()
    cr.manual_seed(0)
    a = nn.MultiheadAttention(8, 2).in_proj_weight.detach().numpy()
    cr.manual_seed(0)
    np.testing.assert_array_equal(nn.MultiheadAttention(8, 2).in_proj_weight.detach().numpy(), a)


def test_multihead_attention_dropout_only_in_training():
    mha = nn.MultiheadAttention(8, 2, dropout=0.5, dtype=cr.float64)
    x = rand((6, 4, 8), requires_grad=False)
    _, weights = mha(x, x, x, average_attn_weights=False)
    assert (weights.detach().numpy() == 0).mean() > 0.3
    mha.eval()
    _, weights = mha(x, x, x)
    np.testing.assert_allclose(weights.detach().numpy().sum(-1), 1.0)


def test_multihead_attention_errors():
    with pytest.raises(cr.ChainruleError, match="embed_dim must be a positive multiple of num_heads.*10.*3"):
        nn.MultiheadAttention(10, 3)
    mha = nn.MultiheadAttention(8, 2)
    with pytest.raises(cr.ChainruleError, match=r"MultiheadAttention: expected query of shape \(L, N, "
                                                r"embed_dim=8\).*got \(5, 3, 6\)"):
        mha(cr.zeros(5, 3, 6), cr.zeros(5, 3, 8), cr.zeros(5, 3, 8))
    x = cr.zeros(5, 3, 8)
    with pytest.raises(cr.ChainruleError, match=r"attn_mask must have shape \(L, S\) = \(5, 5\).*\(6, 5, 5\).*"
                                                r"got \(4, 4\)"):
        mha(x, x, x, attn_mask=cr.zeros(4, 4, dtype=cr.bool))
    with pytest.raises(cr.ChainruleError, match=r"key_padding_mask must have shape \(N, S\) = \(3, 5\).*got \(5, 3\)"):
        mha(x, x, x, key_padding_mask=cr.zeros(5, 3, dtype=cr.bool))
    with pytest.raises(cr.ChainruleError, match="is_causal=True.*attn_mask is required"):
        mha(x, x, x, is_causal=True)
    with pytest.raises(cr.ChainruleError, match="not supported"):
        nn.MultiheadAttention(8, 2, add_bias_kv=True)


# ---------------------------------------------------------------------------- TransformerEncoderLayer
def _encoder_pair(torch, dtype, **kwargs):
    ours = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dtype=dtype, **kwargs)
    theirs = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dtype=getattr(torch, dtype.numpy.name),
                                              **{k: getattr(torch.nn.functional, v.__name__) if callable(v) else v
                                                 for k, v in kwargs.items()})
    for name, p in ours.named_parameters():  # zero biases and LayerNorm's 1 would hide wrong gradients
        if "norm" in name or "bias" in name:
            offset = 1.0 if name.endswith("norm1.weight") or name.endswith("norm2.weight") else 0.0
            p.data = rand(tuple(p.shape), dtype, offset - 0.5, offset + 0.5, requires_grad=False, seed=p.numel())
    _load_into(torch, theirs, ours)
    return ours, theirs


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu", F.silu])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_eval_matches_torch_with_masks(dtype, norm_first, activation, batch_first):
    torch = require_torch()
    ours, theirs = _encoder_pair(torch, dtype, norm_first=norm_first, activation=activation,
                                 batch_first=batch_first)
    ours.eval()
    theirs.eval()
    length, batch = 5, 3
    x = rand((batch, length, 8) if batch_first else (length, batch, 8), dtype)
    mask = cr.from_numpy(np.triu(np.ones((length, length), bool), 1))
    padding = _bool((batch, length), 2, p=0.25)
    padding.numpy()[:, 0] = False  # no query loses every key (torch gives NaN there)

    def call(module, src):
        convert = (lambda m: to_torch(m, torch)) if module is theirs else (lambda m: m)
        return module(src, src_mask=convert(mask), src_key_padding_mask=convert(padding))

    _compare_module(torch, ours, theirs, [x], call, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("shape", [(4, 2, 8), (4, 8)])
def test_encoder_layer_training_without_dropout_matches_torch(dtype, norm_first, shape):
    torch = require_torch()
    ours, theirs = _encoder_pair(torch, dtype, norm_first=norm_first, dropout=0.0)
    assert ours.training
    x = rand(shape, dtype)
    _compare_module(torch, ours, theirs, [x], lambda module, src: module(src), dtype)
    causal = cr.from_numpy(np.triu(np.ones((4, 4), bool), 1))
    _compare_module(torch, ours, theirs, [rand(shape, dtype, seed=5)],
                    lambda module, src: module(src, to_torch(causal, torch) if module is theirs else causal,
                                               is_causal=True), dtype)


def test_encoder_layer_names_repr_and_dropout():
    torch = require_torch()
    ours, theirs = nn.TransformerEncoderLayer(8, 2), torch.nn.TransformerEncoderLayer(8, 2)
    assert repr(ours) == repr(theirs)
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
           {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.5)
    x = cr.randn(4, 2, 8)
    assert not np.allclose(layer(x).detach().numpy(), layer(x).detach().numpy())
    layer.eval()
    np.testing.assert_array_equal(layer(x).detach().numpy(), layer(x).detach().numpy())
    with pytest.raises(cr.ChainruleError, match="activation should be 'relu' or 'gelu'.*'tanh'"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
