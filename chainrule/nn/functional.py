"""Functions behind the layers (``chainrule.nn.functional``, usually imported as ``F``).

Thin over :mod:`chainrule.ops`: the activations are the elementwise primitives, ``softmax`` and
``log_softmax`` the fused ones. ``linear`` is a fused primitive of its own (see :class:`Linear`).
``inplace=True`` changes the input in place, as in PyTorch.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from chainrule.autograd.engine import composed_backward, sum_rows
from chainrule.autograd.function import Primitive
from chainrule.errors import ChainruleError
from chainrule.ops import elementwise as ew
from chainrule.ops import nnops
from chainrule.ops.inplace import apply_inplace
from chainrule.random import numpy_generator
from chainrule.tensor import Tensor, wrap

__all__ = ["linear", "relu", "relu_", "leaky_relu", "elu", "gelu", "silu", "sigmoid", "tanh", "softplus",
           "softmax", "log_softmax", "dropout"]


# ---------------------------------------------------------------------------- linear
class Linear(Primitive):
    """``y = x Wᵀ + b`` as one primitive. Measured against the composition ``x @ W.T + b`` (three
    nodes: transpose, matmul, add), forward + backward of an MLP layer is 20–35 % faster fused
    (float32, batch 128, layers 784→256, 256→128 and 128→10): one node instead of three, the bias
    added in place into the product instead of into a new array, and its gradient summed directly.

    The products are ``np.dot`` of 1-d or 2-d operands (inputs with more dimensions are flattened to one
    (batch · …, in) product, not one small product per leading index): ``np.dot`` calls BLAS directly,
    where ``@`` goes through NumPy's generalized-ufunc machinery first, 0.4–0.5 µs a product (measured
    at batch 1 and 32). The weight's gradient is the exception (see :func:`_affine_vjp`)."""

    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        return _affine(x, w, b)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        return _affine_vjp(ctx.needs_input_grad, x, w, g)


class LinearChain(Primitive):
    """``nn.Linear`` layers one after the other, each followed by a ReLU where ``relus`` says so, as one
    primitive: what ``Sequential`` runs for such a run of its children when it records a graph (see
    :mod:`chainrule.nn.fused_runs`). The arguments are the input, ``relus`` (one bool per layer), then
    each layer's weight and bias (``None`` for a layer without one).

    It computes exactly what the layers' own primitives compute one after the other: the same NumPy
    operations in the same order, each ReLU in place on its layer's product (which nothing else sees).
    Backward runs their rules in reverse, so every gradient is the same, bit for bit, but the graph holds
    one node where the layers would record one each (the nodes, tensors and steps of the engine's walk in
    between are what it saves). It keeps what the layers would keep: each layer's input and weight, and
    its output where a ReLU follows (``y > 0`` exactly where the pre-activation is). Under
    ``create_graph=True`` its backward differentiates the layers composed of chainrule operations.
    Measured against one primitive per ``Linear`` + ``ReLU`` pair, interleaved in one process (training
    steps, one thread, CPU time): 4.2% faster for the MLP 64-128-128-10 at batch 32 (225.5 against
    235.4 µs a step), 0.8% for 784-256-128-10 at batch 128."""

    @staticmethod
    def forward(ctx, x, relus, *params):
        saved = [x]
        for k, relu in enumerate(relus):
            weight = params[2 * k]
            x = _affine(x, weight, params[2 * k + 1])
            if relu:
                ew.relu_array(x, x)
            saved += (weight, x)
        if not relus[-1]:
            saved.pop()  # as nn.Linear, the last layer keeps only its input and weight
        ctx.save_for_backward(*saved)
        return x

    @staticmethod
    def backward(ctx, g):
        if isinstance(g, Tensor):  # a recorded backward (create_graph=True)
            return composed_backward(ctx, _linear_chain_steps, (g,))
        relus, needs, saved = ctx.inputs[1], ctx.needs_input_grad, ctx.saved_tensors
        # whether layer k's input needs a gradient: the chain's input or a parameter of an earlier layer does
        upstream = [needs[0]]
        for k in range(len(relus) - 1):
            upstream.append(upstream[k] or needs[2 + 2 * k] or needs[3 + 2 * k])
        grads: list[Any] = [None] * len(needs)
        for k in range(len(relus) - 1, -1, -1):
            if relus[k]:
                g = ew.relu_vjp(g, saved[2 * k + 2])
            g, grads[2 + 2 * k], grads[3 + 2 * k] = _affine_vjp(
                (upstream[k], needs[2 + 2 * k], needs[3 + 2 * k]), saved[2 * k], saved[2 * k + 1], g)
            if g is None:  # nothing before this layer needs a gradient
                break
        grads[0] = g
        return tuple(grads)


def _linear_chain_steps(x: Tensor, relus: tuple[bool, ...], *params: Any) -> tuple[Tensor]:
    """:class:`LinearChain` composed of chainrule operations (its differentiable reference)."""
    for k, relu in enumerate(relus):
        x = Linear.apply(x, params[2 * k], params[2 * k + 1])
        if relu:
            x = ew.Relu.apply(x)
    return (x,)


def _affine(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """``x Wᵀ + b`` on arrays (a new array)."""
    if x.ndim <= 2:
        y = np.dot(x, w.T)
    else:
        y = np.dot(x.reshape(-1, x.shape[-1]), w.T).reshape(*x.shape[:-1], w.shape[0])
    if b is not None:
        # one row (batch 1): added as a 1-d array, 0.4 µs against 1.0 µs for the (1, n) + (n,) broadcast
        row = y[0] if y.ndim == 2 and len(y) == 1 else y
        row += b
    return y


def _affine_vjp(needs: Any, x: Any, w: Any, g: Any) -> tuple[Any, Any, Any]:
    """The gradients of ``y = x Wᵀ + b`` for ``x``, ``W`` and ``b`` (those in ``needs``): ``dx = g W``,
    ``dW = gᵀ x`` (batch dimensions flattened), ``db = Σ_batch g``.

    ``dW`` is a ``np.matmul``. It makes the same BLAS call as ``np.dot`` (the same bits) without first
    clearing its output, a pass over a weight-sized array: the 256×784 gradient of mlp-epoch's first
    layer takes 575.5 against 591.7 µs (one thread). The other products have batch-sized outputs and
    stay ``np.dot``, which is 0.4–1.3 µs faster at small sizes."""
    need_x, need_w, need_b = needs
    g2 = g if g.ndim == 2 else g.reshape(-1, g.shape[-1])
    gx = None
    if need_x:
        gx = np.dot(g, w) if g.ndim <= 2 else np.dot(g2, w).reshape(*g.shape[:-1], w.shape[1])
    gw = np.matmul(g2.T, x if x.ndim == 2 else x.reshape(-1, x.shape[-1])) if need_w else None
    gb = sum_rows(g2) if need_b else None
    return gx, gw, gb


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``: ``input`` is ``(*, in_features)``, ``weight``
    ``(out_features, in_features)``, ``bias`` ``(out_features,)``; the result is ``(*, out_features)``."""
    try:
        if input._data.dtype != weight._data.dtype:
            raise TypeError
        return Linear.apply(input, weight, bias)
    except (ValueError, TypeError, AttributeError):
        raise _linear_error(input, weight, bias) from None


def _linear_error(input: Any, weight: Any, bias: Any) -> ChainruleError:
    """Say why ``linear`` refused its arguments (only computed when it did)."""
    def describe(t: Any) -> str:
        return f"shape {tuple(t.shape)} ({t.dtype})" if isinstance(t, Tensor) else type(t).__name__

    what = f"input {describe(input)}, weight {describe(weight)}, bias {describe(bias)}"
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor) or not (
            bias is None or isinstance(bias, Tensor)):
        return ChainruleError(f"linear: expected tensors, got {what}")
    if input.dtype != weight.dtype:
        return ChainruleError(f"linear: input and weight must have the same dtype, got {what}; convert the "
                              "input (x.float() / x.double()) or the model (model.to(dtype))")
    return ChainruleError(
        f"linear: cannot apply a weight of shape (out_features, in_features) = {tuple(weight.shape)} to an "
        f"input whose last dimension must be in_features: got {what}")


# ---------------------------------------------------------------------------- activations
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(x, 0)``."""
    return input.relu_() if inplace else ew.Relu.apply(input)


def relu_(input: Tensor) -> Tensor:
    """``max(x, 0)`` in place."""
    return input.relu_()


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``x`` for positive ``x``, else ``negative_slope · x``."""
    if inplace:
        return apply_inplace("leaky_relu_", input, lambda x: ew.leaky_relu(x, negative_slope))
    return ew.leaky_relu(input, negative_slope)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` for positive ``x``, else ``alpha · (eˣ - 1)``."""
    if inplace:
        return apply_inplace("elu_", input, lambda x: ew.elu(x, alpha))
    return ew.elu(input, alpha)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """``x · Φ(x)`` (the exact normal CDF), or its ``approximate='tanh'`` form."""
    return ew.gelu(input, approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``x · σ(x)`` (swish)."""
    return apply_inplace("silu_", input, ew.silu) if inplace else ew.silu(input)


def sigmoid(input: Tensor) -> Tensor:
    """``1 / (1 + e⁻ˣ)``."""
    return ew.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    """The hyperbolic tangent."""
    return ew.tanh(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + e^(βx)) / β``, and ``x`` itself where ``βx > threshold``."""
    return ew.softplus(input, beta, threshold)


def _softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    """PyTorch's legacy choice when ``dim`` is left out (with its deprecation warning)."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
                  "dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """``eˣ / Σeˣ`` along ``dim`` (computed stably); ``dtype`` casts the input first."""
    if dim is None:
        dim = _softmax_dim("softmax", input.ndim, _stacklevel)
    return nnops.softmax(input, dim, dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """``x - log Σeˣ`` along ``dim``, without the underflow of ``log(softmax(x))``."""
    if dim is None:
        dim = _softmax_dim("log_softmax", input.ndim, _stacklevel)
    return nnops.log_softmax(input, dim, dtype)


# ---------------------------------------------------------------------------- dropout
def _check_probability(op: str, p: Any) -> None:
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 <= p <= 1:
        raise ChainruleError(f"{op}: the dropout probability must be a number between 0 and 1, got {p!r}")


def _dropout_mask(shape: tuple[int, ...], p: float, dtype: np.dtype) -> np.ndarray:
    """Inverted dropout's multiplier of ``shape`` from chainrule's seeded generator: each entry is
    kept with probability ``1 - p``, holding 0 or ``1 / (1 - p)`` in ``dtype``."""
    draws = numpy_generator().random(shape, dtype=np.float64 if dtype == np.float64 else np.float32)
    return np.multiply(draws >= p, 0.0 if p == 1 else 1.0 / (1.0 - p), dtype=dtype)


class InvertedDropout(Primitive):
    """``x · mask``, the mask of inverted dropout (:func:`_dropout_mask`, of shape ``mask_shape``,
    broadcast against ``x``) drawn in forward: the same draws and products as multiplying by a mask
    drawn beforehand, but inside the operation, so that a compiled step (``chainrule.compile``) draws
    a new mask at every replay."""

    @staticmethod
    def forward(ctx, x, p, mask_shape):
        mask = _dropout_mask(mask_shape, p, x.dtype)
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return g * mask, None, None


def _apply_dropout_mask(input: Tensor, p: float, mask_shape: tuple[int, ...], inplace: bool) -> Tensor:
    """``input`` times an inverted-dropout mask of ``mask_shape`` (broadcast against it): drawn inside
    :class:`InvertedDropout`, or drawn here and multiplied in place when ``inplace``."""
    if not inplace:
        return InvertedDropout.apply(input, float(p), mask_shape)
    return input.mul_(wrap(_dropout_mask(mask_shape, p, input._data.dtype)))


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Inverted dropout: in training, zero each element with probability ``p`` and scale the others
    by ``1 / (1 - p)``, so the expected value is unchanged; the identity when ``training=False``.
    The mask comes from chainrule's seeded generator (``chainrule.manual_seed``)."""
    _check_probability("dropout", p)
    if not training or p == 0:
        return input
    return _apply_dropout_mask(input, p, input._data.shape, inplace)


# ---------------------------------------------------------------------------- losses
from chainrule.nn.losses_functional import (  # noqa: E402 - the losses live in their own module
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, huber_loss, kl_div, l1_loss, mse_loss,
    nll_loss, smooth_l1_loss)

__all__ += ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss",
            "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div"]


# ---------------------------------------------------------------------------- normalisation
from chainrule.nn.normalization_functional import batch_norm, group_norm, layer_norm  # noqa: E402

__all__ += ["batch_norm", "layer_norm", "group_norm"]


# ---------------------------------------------------------------------------- attention
from chainrule.nn.attention_functional import multi_head_attention_forward, scaled_dot_product_attention  # noqa: E402

__all__ += ["scaled_dot_product_attention", "multi_head_attention_forward"]


# ---------------------------------------------------------------------------- recurrent
from chainrule.nn.recurrent_functional import (  # noqa: E402
    gru, gru_cell, lstm, lstm_cell, rnn_relu, rnn_relu_cell, rnn_tanh, rnn_tanh_cell)

__all__ += ["lstm", "gru", "rnn_tanh", "rnn_relu", "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell"]


# ---------------------------------------------------------------------------- pooling, upsampling, embedding
from chainrule.nn.embedding_functional import embedding  # noqa: E402
from chainrule.nn.pooling_functional import (  # noqa: E402
    adaptive_avg_pool2d, avg_pool2d, dropout2d, interpolate, max_pool1d, max_pool2d)

__all__ += ["max_pool1d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "interpolate", "dropout2d", "embedding"]


# ---------------------------------------------------------------------------- convolutions
from chainrule.nn.conv_functional import conv1d, conv2d, conv_transpose2d  # noqa: E402

__all__ += ["conv1d", "conv2d", "conv_transpose2d"]
