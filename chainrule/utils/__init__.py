"""Utilities under PyTorch's module paths: :mod:`chainrule.utils.data` (datasets, samplers, loaders)."""

from chainrule.utils import data

__all__ = ["data"]
