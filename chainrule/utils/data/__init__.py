"""Datasets, samplers and the ``DataLoader``, as in ``torch.utils.data``.

    from chainrule.utils.data import DataLoader, TensorDataset
    loader = DataLoader(TensorDataset(x, y), batch_size=128, shuffle=True)
    for xb, yb in loader: ...

A dataset may offer ``__getbatch__(indices)``, returning the whole collated batch at once (one NumPy
fancy index per tensor for a ``TensorDataset``); the loader calls it instead of fetching and stacking
items one by one whenever the default collate function is in use.
"""

from chainrule.utils.data.collate import default_collate, default_convert
from chainrule.utils.data.dataloader import DataLoader
from chainrule.utils.data.dataset import DataArgumentError, Dataset, Subset, TensorDataset, random_split
from chainrule.utils.data.sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,
                                          SubsetRandomSampler)

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "Sampler", "SequentialSampler",
           "RandomSampler", "SubsetRandomSampler", "BatchSampler", "DataLoader", "default_collate",
           "default_convert", "DataArgumentError"]
