"""chainrule: a fast, transparent backpropagation engine on NumPy with PyTorch's API.

    import chainrule as cr
    x = cr.randn(3, requires_grad=True)
    (x * x).sum().backward()
    x.grad  # 2 * x
"""

from chainrule import allocator  # noqa: I001 - before any array is allocated
allocator.configure()
from chainrule.tensor import Size, Tensor, device  # noqa: E402, I001 - binds the Tensor methods first
from chainrule import autograd
from chainrule.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from chainrule.creation import (arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like,
                                linspace, normal, ones, ones_like, rand, rand_like, randint, randint_like,
                                randn, randn_like, randperm, tensor, zeros, zeros_like)
from chainrule.dtype import (bool, double, dtype, float, float16, float32, float64, get_default_dtype, half,
                             int, int8, int16, int32, int64, long, promote_types, result_type,
                             set_default_dtype, short, uint8)
from chainrule.errors import ChainruleError
from chainrule.io import load, save
from chainrule.ops.elementwise import (abs, add, bitwise_and, bitwise_not, bitwise_or, bitwise_xor, ceil,
                                       clamp, clip, cos, div, elu, eq, erf, exp, expm1, floor, floor_divide,
                                       ge, gelu, gt, isfinite, isinf, isnan, le, leaky_relu, log, log1p,
                                       logical_and, logical_not, logical_or, logical_xor, lt, maximum,
                                       minimum, mul, ne, neg, pow, reciprocal, relu, remainder, round, rsqrt,
                                       sigmoid, sign, silu, sin, softplus, sqrt, square, sub, tan, tanh,
                                       trunc, where)
from chainrule.ops.index import (argwhere, gather, index_add, index_put, index_select, masked_fill,
                                 masked_select, nonzero, scatter, scatter_add, take_along_dim)
from chainrule.ops.linalg import bmm, dot, einsum, matmul, mm, mv, outer
from chainrule.ops.nnops import log_softmax, softmax
from chainrule.ops.reduce import (all, amax, amin, any, argmax, argmin, count_nonzero, cumsum, logsumexp, max,
                                  mean, min, norm, prod, std, sum, var)
from chainrule.ops.shape import (broadcast_to, cat, chunk, clone, concat, concatenate, expand_as, flatten, flip,
                                 movedim, moveaxis, narrow, pad, permute, repeat, reshape, roll, split, squeeze,
                                 stack, swapaxes, swapdims, t, tile, transpose, unbind, unflatten, unsqueeze)
from chainrule.random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from chainrule import utils  # chainrule.utils.data, as torch.utils.data
from chainrule import optim  # noqa: E402 - after the tensor API it builds on
from chainrule import nn  # noqa: E402 - after the tensor API it builds on
from chainrule.compiled import compile  # noqa: E402, A004 - chainrule.compile, as torch.compile

__version__ = "0.1.0"

multiply, subtract, divide, true_divide, negative = mul, sub, div, div, neg
absolute, greater, less, greater_equal, less_equal, not_equal = abs, gt, lt, ge, le, ne

from chainrule import train  # noqa: E402
