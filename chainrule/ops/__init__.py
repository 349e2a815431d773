"""Differentiable primitives, grouped by kind; each module also declares its Tensor methods."""

from chainrule.ops import elementwise, index, inplace, linalg, nnops, reduce, shape

OPS_MODULES = (elementwise, reduce, shape, linalg, nnops, index, inplace)
