"""Differentiable primitives, grouped by kind; each module also declares its Tensor methods."""

from chainrule.ops import elementwise, inplace, linalg, reduce, shape

OPS_MODULES = (elementwise, reduce, shape, linalg, inplace)
