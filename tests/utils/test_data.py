"""chainrule.utils.data: datasets, samplers, collation and the DataLoader, against torch.utils.data."""

from __future__ import annotations

import collections
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.utils.data import (BatchSampler, DataArgumentError, DataLoader, Dataset, RandomSampler,
                                  SequentialSampler, Subset, SubsetRandomSampler, TensorDataset, default_collate,
                                  default_convert, random_split)
from tests.helpers import require_torch


def _dataset(n: int = 10, features: int = 3) -> TensorDataset:
    return TensorDataset(cr.arange(n * features, dtype=cr.float32).reshape(n, features), cr.arange(n))


def _order(loader: DataLoader) -> list[int]:
    """The labels of one epoch, in the order the loader yields them."""
    return [int(label) for _, labels in loader for label in labels]


class ItemsOnly(Dataset):
    """A dataset with only __getitem__ and __len__ (the per-item path)."""

    def __init__(self, base: TensorDataset) -> None:
        self.base = base

    def __getitem__(self, index: int):
        return self.base[index]

    def __len__(self) -> int:
        return len(self.base)


# ---------------------------------------------------------------- datasets
def test_tensor_dataset_items_and_length():
    x, y = cr.randn(5, 2), cr.arange(5)
    ds = TensorDataset(x, y)
    assert len(ds) == 5
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi.numpy(), x.numpy()[3])
    assert yi.item() == 3


def test_tensor_dataset_rejects_unequal_lengths():
    with pytest.raises(DataArgumentError, match=r"equal length.*\(5, 2\).*\(4,\)"):
        TensorDataset(cr.zeros(5, 2), cr.zeros(4))
    with pytest.raises(ValueError):  # also a ValueError, as in PyTorch
        TensorDataset()


def test_subset_maps_indices():
    ds = _dataset()
    sub = Subset(ds, [7, 2, 5])
    assert len(sub) == 3
    assert sub[0][1].item() == 7
    assert [int(s[1]) for s in sub.__getitems__([2, 0])] == [5, 7]
    assert sub.__getbatch__([1, 2])[1].tolist() == [2, 5]


def test_subset_of_items_only_dataset_collates():
    sub = Subset(ItemsOnly(_dataset()), [4, 1])
    xb, yb = sub.__getbatch__([0, 1])
    assert yb.tolist() == [4, 1] and xb.shape == (2, 3)


# ---------------------------------------------------------------- collate
def test_default_collate_matches_torch():
    torch = require_torch()
    from torch.utils.data import default_collate as torch_collate

    point = collections.namedtuple("point", "x y")
    batches = [
        [(1, 2.0, True), (3, 4.0, False)],
        [{"a": np.ones(2, np.float32), "b": "s", "c": np.float64(1.5)}, {"a": np.zeros(2, np.float32), "b": "t",
                                                                       "c": np.float64(2.5)}],
        [[1, 2], [3, 4]],
        [point(1, 2.5), point(3, 4.5)],
        [np.int32(1), np.int32(7)],
    ]
    for batch in batches:
        ours, theirs = default_collate(batch), torch_collate(batch)
        _assert_same_structure(ours, theirs, torch)


def _assert_same_structure(ours, theirs, torch):
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, cr.Tensor)
        assert str(ours.dtype).split(".")[1] == str(theirs.dtype).split(".")[1]
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs) and ours.keys() == theirs.keys()
        for key in theirs:
            _assert_same_structure(ours[key], theirs[key], torch)
    elif isinstance(theirs, (list, tuple)) and not isinstance(theirs[0], str):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _assert_same_structure(a, b, torch)
    else:
        assert ours == theirs


def test_default_collate_stacks_tensors_and_arrays():
    xb = default_collate([cr.ones(2, 3), cr.zeros(2, 3)])
    assert xb.shape == (2, 2, 3)
    ab = default_collate([np.arange(3, dtype=np.float32)] * 4)
    assert ab.shape == (4, 3) and ab.dtype == cr.float32


def test_default_collate_errors():
    with pytest.raises(cr.ChainruleError, match="equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(cr.ChainruleError, match="found <class 'object'>"):
        default_collate([object()])
    with pytest.raises(cr.ChainruleError, match="dtype <U1"):
        default_collate([np.array(["a"])])
    with pytest.raises(cr.ChainruleError, match="equal size"):
        default_collate([cr.zeros(2), cr.zeros(3)])


def test_default_convert_leaves_batching_alone():
    converted = default_convert({"x": np.ones(3), "label": (np.int64(2), "name")})
    assert isinstance(converted["x"], cr.Tensor) and converted["x"].shape == (3,)
    assert isinstance(converted["label"], list) and converted["label"][0].item() == 2
    assert converted["label"][1] == "name"


# ---------------------------------------------------------------- samplers
def test_sequential_and_batch_sampler():
    assert list(SequentialSampler(range(5))) == [0, 1, 2, 3, 4]
    assert list(BatchSampler(range(7), 3, drop_last=False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(range(7), 3, drop_last=True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(range(7), 3, False)) == 3 and len(BatchSampler(range(7), 3, True)) == 2


@pytest.mark.parametrize("kwargs, message", [
    (dict(batch_size=0, drop_last=False), "batch_size should be a positive integer"),
    (dict(batch_size=True, drop_last=False), "batch_size should be a positive integer"),
    (dict(batch_size=2, drop_last=1), "drop_last should be a boolean"),
])
def test_batch_sampler_rejects_bad_arguments(kwargs, message):
    with pytest.raises(DataArgumentError, match=message):
        BatchSampler(range(4), **kwargs)


def test_random_sampler_is_a_seeded_permutation():
    cr.manual_seed(3)
    first = list(RandomSampler(range(20)))
    cr.manual_seed(3)
    assert list(RandomSampler(range(20))) == first
    assert sorted(first) == list(range(20)) and first != list(range(20))


def test_random_sampler_num_samples_and_replacement():
    chained = list(RandomSampler(range(4), num_samples=10))
    assert len(chained) == 10
    assert sorted(chained[:4]) == sorted(chained[4:8]) == [0, 1, 2, 3]
    drawn = list(RandomSampler(range(3), replacement=True, num_samples=50))
    assert len(drawn) == 50 and set(drawn) == {0, 1, 2}
    assert len(RandomSampler(range(3), num_samples=50)) == 50


@pytest.mark.parametrize("kwargs, message", [
    (dict(replacement=1), "replacement should be a boolean"),
    (dict(num_samples=0), "num_samples should be a positive integer"),
    (dict(num_samples=2.5), "num_samples should be a positive integer"),
    (dict(generator=np.random.default_rng()), "generator must be a chainrule.Generator"),
])
def test_random_sampler_rejects_bad_arguments(kwargs, message):
    with pytest.raises(DataArgumentError, match=message):
        RandomSampler(range(4), **kwargs)


def test_random_sampler_rejects_an_empty_dataset():
    with pytest.raises(DataArgumentError, match="empty dataset"):
        RandomSampler([])
    with pytest.raises(DataArgumentError, match="empty dataset"):
        RandomSampler([], replacement=True, num_samples=3)


def test_subset_random_sampler():
    g = cr.Generator().manual_seed(1)
    order = list(SubsetRandomSampler([10, 20, 30, 40], generator=g))
    assert sorted(order) == [10, 20, 30, 40]
    assert list(SubsetRandomSampler([10, 20, 30, 40], generator=cr.Generator().manual_seed(1))) == order


# ---------------------------------------------------------------- loader
def test_loader_batches_in_order_without_shuffle():
    loader = DataLoader(_dataset(10), batch_size=4)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert isinstance(batches[0], list) and batches[0][0].shape == (4, 3)  # a list, as in PyTorch


def test_loader_matches_torch_without_shuffle():
    torch = require_torch()
    x = np.random.default_rng(0).normal(size=(11, 3)).astype(np.float32)
    y = np.arange(11)
    ours = list(DataLoader(TensorDataset(cr.from_numpy(x), cr.from_numpy(y)), batch_size=4, drop_last=True))
    theirs = list(torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=4, drop_last=True))
    assert len(ours) == len(theirs) == 2
    for (xa, ya), (xb, yb) in zip(ours, theirs):
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())


@pytest.mark.parametrize("n, batch_size, drop_last, expected", [
    (10, 3, False, 4), (10, 3, True, 3), (9, 3, True, 3), (9, 3, False, 3), (2, 5, False, 1), (2, 5, True, 0)])
def test_batch_counts_and_drop_last(n, batch_size, drop_last, expected):
    loader = DataLoader(_dataset(n), batch_size=batch_size, shuffle=True, drop_last=drop_last)
    sizes = [len(labels) for _, labels in loader]
    assert len(loader) == len(sizes) == expected
    assert all(size == batch_size for size in sizes[:-1])
    if drop_last:
        assert all(size == batch_size for size in sizes)


def test_shuffle_is_reproducible_with_manual_seed():
    loader = DataLoader(_dataset(50), batch_size=8, shuffle=True)
    cr.manual_seed(7)
    first, second = _order(loader), _order(loader)
    cr.manual_seed(7)
    assert _order(loader) == first and _order(loader) == second
    assert first != second  # a new order each epoch
    assert sorted(first) == list(range(50))
    cr.manual_seed(8)
    assert _order(loader) != first  # another seed, another order


def test_shuffle_with_a_generator_ignores_the_default_one():
    def epoch(seed: int) -> list[int]:
        loader = DataLoader(_dataset(40), batch_size=8, shuffle=True, generator=cr.Generator().manual_seed(seed))
        return _order(loader)

    cr.manual_seed(1)
    a = epoch(5)
    cr.manual_seed(2)
    assert epoch(5) == a
    assert epoch(6) != a


def test_loader_restores_from_rng_state():
    """An epoch's order depends only on the generator's state when iteration starts (what resume needs)."""
    loader = DataLoader(_dataset(30), batch_size=4, shuffle=True)
    state = cr.get_rng_state()
    first = _order(loader)
    cr.set_rng_state(state)
    assert _order(loader) == first


def test_batched_fetch_equals_per_item_collation():
    ds = TensorDataset(cr.randn(37, 2, 3), cr.randint(0, 5, (37,)), cr.randn(37))
    for wrapped in (ds, Subset(ds, list(range(36, -1, -1)))):
        cr.manual_seed(0)
        fast = list(DataLoader(wrapped, batch_size=5, shuffle=True))
        cr.manual_seed(0)
        slow = list(DataLoader(ItemsOnly(wrapped) if wrapped is ds else Subset(ItemsOnly(ds), wrapped.indices),
                               batch_size=5, shuffle=True))
        assert len(fast) == len(slow) == 8
        for batch_fast, batch_slow in zip(fast, slow):
            assert type(batch_fast) is type(batch_slow) is list
            for a, b in zip(batch_fast, batch_slow):
                assert a.dtype == b.dtype
                np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_loader_uses_getbatch_only_with_the_default_collate():
    calls = []

    class Recorder(TensorDataset):
        def __getbatch__(self, indices):
            calls.append(list(indices))
            return super().__getbatch__(indices)

    ds = Recorder(cr.arange(6))
    assert [b[0].tolist() for b in DataLoader(ds, batch_size=4)] == [[0, 1, 2, 3], [4, 5]]
    assert calls == [[0, 1, 2, 3], [4, 5]]
    sums = list(DataLoader(ds, batch_size=4, collate_fn=lambda items: sum(int(i[0]) for i in items)))
    assert sums == [6, 9] and len(calls) == 2


def test_loader_honours_torch_getitems_hook():
    class Batched(Dataset):
        def __getitems__(self, indices):
            return [(i * 10,) for i in indices]

        def __len__(self):
            return 5

    assert [b[0].tolist() for b in DataLoader(Batched(), batch_size=2)] == [[0, 10], [20, 30], [40]]


def test_loader_with_sampler_and_batch_sampler():
    ds = _dataset(10)
    assert _order(DataLoader(ds, batch_size=2, sampler=[9, 3, 5])) == [9, 3, 5]
    loader = DataLoader(ds, batch_sampler=[[1, 2], [8]])
    assert [b[1].tolist() for b in loader] == [[1, 2], [8]] and len(loader) == 2
    assert loader.batch_size is None


def test_loader_without_batching():
    loader = DataLoader(TensorDataset(np.arange(4.0)), batch_size=None)
    items = list(loader)
    assert len(loader) == 4 and len(items) == 4
    assert isinstance(items[0], list) and items[2][0].item() == 2.0 and items[2][0].shape == ()


def test_loader_with_collate_fn():
    loader = DataLoader(list(range(7)), batch_size=3, collate_fn=lambda items: tuple(items))
    assert list(loader) == [(0, 1, 2), (3, 4, 5), (6,)]


def test_loader_over_plain_lists_and_dicts():
    data = [{"x": np.full(2, i, np.float32), "y": i} for i in range(5)]
    batch = next(iter(DataLoader(data, batch_size=5)))
    assert batch["x"].shape == (5, 2) and batch["y"].dtype == cr.int64


@pytest.mark.parametrize("kwargs, message", [
    (dict(sampler=[0, 1], shuffle=True), "sampler option is mutually exclusive with shuffle"),
    (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler option is mutually exclusive"),
    (dict(batch_sampler=[[0]], shuffle=True), "batch_sampler option is mutually exclusive"),
    (dict(batch_sampler=[[0]], sampler=[0]), "batch_sampler option is mutually exclusive"),
    (dict(batch_sampler=[[0]], drop_last=True), "batch_sampler option is mutually exclusive"),
    (dict(batch_size=None, drop_last=True), "mutually exclusive with drop_last"),
    (dict(num_workers=2), "num_workers=2 is not supported.*num_workers=0"),
    (dict(num_workers=-1), "num_workers=-1 is not supported"),
    (dict(timeout=-1), "timeout option should be non-negative"),
    (dict(prefetch_factor=2), "prefetch_factor=2 needs worker processes"),
    (dict(persistent_workers=True), "persistent_workers=True needs worker processes"),
    (dict(multiprocessing_context="fork"), "multiprocessing_context='fork' needs worker processes"),
    (dict(batch_size=0), "batch_size should be a positive integer"),
    (dict(shuffle=True, generator=object()), "generator must be a chainrule.Generator"),
    (dict(generator=np.random.default_rng()), "generator must be a chainrule.Generator"),
])
def test_loader_rejects_what_torch_rejects(kwargs, message):
    with pytest.raises(DataArgumentError, match=message):
        DataLoader(_dataset(), **kwargs)


def test_loader_rejects_iterable_style_datasets():
    with pytest.raises(DataArgumentError, match="must be map-style.*got generator"):
        DataLoader(i for i in range(3))


def test_loader_conflicts_are_value_errors_as_in_torch():
    torch = require_torch()
    tds = torch.utils.data.TensorDataset(torch.zeros(3))
    for kwargs in (dict(sampler=[0], shuffle=True), dict(batch_sampler=[[0]], batch_size=2),
                   dict(batch_size=None, drop_last=True)):
        with pytest.raises(ValueError):
            torch.utils.data.DataLoader(tds, **kwargs)
        with pytest.raises(ValueError):
            DataLoader(_dataset(), **kwargs)


def test_loader_accepts_arguments_that_mean_nothing_here():
    loader = DataLoader(_dataset(4), batch_size=2, pin_memory=True, timeout=5, worker_init_fn=print,
                        pin_memory_device="cpu", in_order=False)
    assert [b[1].tolist() for b in loader] == [[0, 1], [2, 3]]
    with pytest.raises(cr.ChainruleError, match="cuda"):
        DataLoader(_dataset(4), pin_memory_device="cuda")


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 60), batch_size=st.integers(1, 17), shuffle=st.booleans(), seed=st.integers(0, 2 ** 31))
def test_every_index_once_per_epoch(n, batch_size, shuffle, seed):
    cr.manual_seed(seed)
    loader = DataLoader(_dataset(n, 1), batch_size=batch_size, shuffle=shuffle)
    for _ in range(2):
        labels = _order(loader)
        assert sorted(labels) == list(range(n))
    assert len(loader) == math.ceil(n / batch_size)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 60), batch_size=st.integers(1, 17), seed=st.integers(0, 2 ** 31))
def test_drop_last_drops_only_the_short_batch(n, batch_size, seed):
    cr.manual_seed(seed)
    labels = _order(DataLoader(_dataset(n, 1), batch_size=batch_size, shuffle=True, drop_last=True))
    assert len(labels) == n - n % batch_size and len(set(labels)) == len(labels)


# ---------------------------------------------------------------- random_split
def test_random_split_counts():
    parts = random_split(range(10), [3, 7])
    assert [len(p) for p in parts] == [3, 7]
    assert sorted(i for p in parts for i in p) == list(range(10))


@pytest.mark.parametrize("n, fractions", [(10, [0.33, 0.33, 0.34]), (11, [0.5, 0.5]), (7, [0.1, 0.2, 0.7]),
                                          (100, [0.8, 0.2]), (6, [0.25, 0.25, 0.25, 0.25])])
def test_random_split_fraction_lengths_match_torch(n, fractions):
    torch = require_torch()
    ours = [len(p) for p in random_split(range(n), fractions)]
    assert ours == [len(p) for p in torch.utils.data.random_split(range(n), fractions)]
    assert sum(ours) == n


def test_random_split_warns_of_an_empty_split():
    with pytest.warns(UserWarning, match="index 3 is 0"):
        lengths = [len(p) for p in random_split(range(3), [0.25, 0.25, 0.25, 0.25])]
    assert lengths == [1, 1, 1, 0]


def test_random_split_is_reproducible():
    a = random_split(range(20), [0.5, 0.5], generator=cr.Generator().manual_seed(4))
    b = random_split(range(20), [0.5, 0.5], generator=cr.Generator().manual_seed(4))
    c = random_split(range(20), [0.5, 0.5], generator=cr.Generator().manual_seed(5))
    assert [p.indices for p in a] == [p.indices for p in b] != [p.indices for p in c]
    cr.manual_seed(9)
    d = random_split(range(20), [10, 10])
    cr.manual_seed(9)
    assert [p.indices for p in random_split(range(20), [10, 10])] == [p.indices for p in d]


@pytest.mark.parametrize("lengths, message", [
    ([3, 3], "summing to the dataset's length 10"),
    ([1.5, -0.5], "fraction at index 0 is not between 0 and 1"),
    ([0.5, 0.3], "summing to the dataset's length 10"),
    ([11, -1], "non-negative counts"),
])
def test_random_split_rejects_bad_lengths(lengths, message):
    with pytest.raises(DataArgumentError, match=message):
        random_split(range(10), lengths)


def test_random_split_of_tensor_dataset_loads_in_batches():
    train, test = random_split(_dataset(20), [15, 5])
    assert sum(len(labels) for _, labels in DataLoader(train, batch_size=4)) == 15
    batch_labels = next(iter(DataLoader(test, batch_size=5)))[1].tolist()
    assert batch_labels == test.indices


def test_reachable_as_torch_paths():
    import chainrule.utils.data as data

    assert cr.utils.data is data and cr.utils.data.DataLoader is DataLoader
