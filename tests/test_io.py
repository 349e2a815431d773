"""Checkpoints: ``chainrule.save``/``chainrule.load`` round trips, the safetensors format, rejection of
truncated, corrupted and foreign files, and atomic writes."""

from __future__ import annotations

import enum
import errno
import io
import json
import math
import os
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import safetensors.numpy

import chainrule as cr
import chainrule.io as cr_io
from chainrule import nn
from chainrule.errors import ChainruleError
from tests.helpers import require_torch


def round_trip(obj, tmp_path):
    path = tmp_path / "checkpoint.safetensors"
    cr.save(obj, path)
    return cr.load(path)


def assert_same(loaded, original):
    """Equal values and equal types all the way down (a Tensor stays a Tensor, a tuple a tuple …)."""
    if isinstance(original, cr.Tensor):
        assert type(loaded) is type(original)
        assert loaded.dtype == original.dtype and loaded.shape == original.shape
        assert loaded.requires_grad == original.requires_grad
        np.testing.assert_array_equal(loaded.detach().numpy(), original.detach().numpy())
    elif isinstance(original, (np.ndarray, np.generic)):
        assert type(loaded) is type(original) and loaded.dtype == original.dtype
        np.testing.assert_array_equal(loaded, original)
    elif isinstance(original, dict):
        assert type(loaded) is dict and list(loaded) == list(original)
        assert all(type(a) is type(b) for a, b in zip(loaded, original))  # an int key stays an int
        for key in original:
            assert_same(loaded[key], original[key])
    elif isinstance(original, (list, tuple)):
        assert type(loaded) is type(original) and len(loaded) == len(original)
        for a, b in zip(loaded, original):
            assert_same(a, b)
    elif isinstance(original, float) and math.isnan(original):
        assert type(loaded) is float and math.isnan(loaded)
    else:
        assert type(loaded) is type(original) and loaded == original


# ------------------------------------------------------------------ round trips

@pytest.mark.parametrize("value", [
    0, -7, 2 ** 80, 1.5, -0.0, 1e-300, float("inf"), float("-inf"), float("nan"), True, False, None,
    "", "text", "ünïcode ✓ \u2028", "$tensor", "\ud800",
    [], (), {}, [1, [2, [3, []]]], (1, "a", None), ((),), [(), {}, []],
    {"a": {"b": {"c": {}}}}, {0: "zero", 1: "one"}, {0: 1, "0": 2}, {-5: None, 10 ** 20: 1},
    {"$tensor": "not a tensor", "$dict": 1}, {"a": 1, "$b": 2}, {"": 0},
])
def test_round_trip_of_plain_values(value, tmp_path):
    assert_same(round_trip(value, tmp_path), value)
    assert_same(round_trip({"nested": [value, {"again": value}]}, tmp_path), {"nested": [value, {"again": value}]})


DTYPES = [cr.float64, cr.float32, cr.float16, cr.int64, cr.int32, cr.int16, cr.int8, cr.uint8, cr.bool]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", [(), (0,), (3, 0, 2), (5,), (2, 3, 4)], ids=str)
def test_round_trip_of_tensors(dtype, shape, tmp_path):
    values = np.random.default_rng(0).normal(size=shape) * 50
    t = cr.tensor(values.astype(dtype.numpy))
    assert_same(round_trip(t, tmp_path), t)
    assert_same(round_trip({"t": t, "a": t.numpy().copy()}, tmp_path), {"t": t, "a": t.numpy().copy()})


@pytest.mark.parametrize("view", [
    lambda x: x.t(), lambda x: x[::2, 1:], lambda x: x[:, 2], lambda x: x.unsqueeze(0).expand(3, 4, 5),
], ids=["transpose", "strided", "column", "broadcast"])
def test_non_contiguous_tensors_are_saved_by_value(view, tmp_path):
    t = view(cr.arange(20, dtype=cr.float64).reshape(4, 5))
    assert not t.numpy().flags.c_contiguous
    assert_same(round_trip(t, tmp_path), t)


@pytest.mark.parametrize("array", [
    np.asfortranarray(np.arange(6.0).reshape(2, 3)), np.arange(12, dtype=np.uint32).reshape(3, 4)[:, ::2],
    np.array([1 + 2j], dtype=np.complex64), np.array(3.5), np.arange(4, dtype=">i4"),
    np.zeros((0, 2), dtype=np.uint64),
], ids=["fortran", "uint32-view", "complex64", "0-d", "big-endian", "empty-uint64"])
def test_round_trip_of_numpy_arrays(array, tmp_path):
    loaded = round_trip({"array": array}, tmp_path)["array"]
    assert type(loaded) is np.ndarray and loaded.dtype == array.dtype.newbyteorder("=")
    np.testing.assert_array_equal(loaded, array)


@pytest.mark.parametrize("scalar", [np.float32(2.5), np.float64(-1.25), np.int64(-3), np.uint8(255), np.bool_(True)],
                         ids=repr)
def test_numpy_scalars_come_back_as_numpy_scalars(scalar, tmp_path):
    assert_same(round_trip({"scalar": scalar}, tmp_path)["scalar"], scalar)


def test_requires_grad_and_parameters_survive(tmp_path):
    p = nn.Parameter(cr.randn(3, dtype=cr.float64))
    frozen = nn.Parameter(cr.randn(2), requires_grad=False)
    leaf = cr.randn(4, requires_grad=True)
    loaded = round_trip({"p": p, "frozen": frozen, "leaf": leaf, "computed": leaf * 2}, tmp_path)
    assert_same(loaded["p"], p)
    assert_same(loaded["frozen"], frozen)
    assert_same(loaded["leaf"], leaf)
    assert loaded["computed"].requires_grad and loaded["computed"].grad_fn is None  # a leaf again
    np.testing.assert_array_equal(loaded["computed"].detach().numpy(), (leaf * 2).detach().numpy())


def test_loaded_tensors_are_writable_and_own_their_memory(tmp_path):
    t = cr.zeros(3)
    loaded = round_trip({"t": t, "a": np.zeros(2)}, tmp_path)
    loaded["t"].add_(1)
    loaded["a"][:] = 5
    assert t.sum().item() == 0 and loaded["t"].sum().item() == 3


def test_an_object_saved_twice_is_stored_once_and_restored_as_one(tmp_path):
    shared = cr.randn(1000)
    loaded = round_trip({"encoder.weight": shared, "decoder.weight": shared}, tmp_path)
    assert loaded["encoder.weight"] is loaded["decoder.weight"]
    assert len(safetensors.numpy.load_file(tmp_path / "checkpoint.safetensors")) == 1


def test_tensor_names_that_collide_stay_apart(tmp_path):
    a, b, c, d = (cr.full((1,), float(i)) for i in range(4))
    obj = {"a/b": a, "a": {"b": b}, "__metadata__": c, "tensor": [d]}
    assert_same(round_trip(obj, tmp_path), obj)


def test_subclasses_come_back_as_their_base_type(tmp_path):
    class Level(enum.IntEnum):
        HIGH = 2

    loaded = round_trip(OrderedDict(size=cr.Size([2, 3]), level=Level.HIGH), tmp_path)
    assert loaded == {"size": (2, 3), "level": 2} and type(loaded) is dict
    assert type(loaded["size"]) is tuple and type(loaded["level"]) is int


def test_a_flat_state_dict_keeps_its_names_for_safetensors_readers(tmp_path):
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    cr.save(model.state_dict(), tmp_path / "model.safetensors")
    arrays = safetensors.numpy.load_file(tmp_path / "model.safetensors")
    assert list(arrays) == sorted(model.state_dict())
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(arrays[name], value.numpy())
    # ... and PyTorch loads them straight into the same architecture
    torch = require_torch()
    from safetensors.torch import load_file

    twin = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    twin.load_state_dict(load_file(tmp_path / "model.safetensors"))
    x = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_allclose(twin(torch.from_numpy(x)).detach().numpy(), model(cr.tensor(x)).detach().numpy(),
                               rtol=1e-6)


def test_a_nested_checkpoint_opens_with_safetensors_numpy(tmp_path):
    obj = {"model": {"w": cr.ones(2, 2)}, "optimizer": {"state": {0: {"exp_avg": cr.zeros(2)}}}, "epoch": 3}
    cr.save(obj, tmp_path / "c.safetensors")
    arrays = safetensors.numpy.load_file(tmp_path / "c.safetensors")
    assert set(arrays) == {"model/w", "optimizer/state/0/exp_avg"}
    with safetensors.safe_open(tmp_path / "c.safetensors", framework="np") as f:
        metadata = f.metadata()
    assert metadata["chainrule.format"] == "chainrule.checkpoint" and metadata["chainrule.version"] == "1"
    assert json.loads(metadata["chainrule.structure"])["epoch"] == 3


def training_setup(seed):
    cr.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Dropout(0.2), nn.Linear(8, 3))
    optimizer = cr.optim.AdamW(model.parameters(), lr=0.01, amsgrad=True)
    scheduler = cr.optim.lr_scheduler.ReduceLROnPlateau(optimizer)
    return model, optimizer, scheduler


def train_step(model, optimizer, scheduler):
    x, y = cr.randn(16, 6), cr.randn(16, 3)
    loss = ((model(x) - y) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    scheduler.step(loss.item())


def test_a_training_checkpoint_round_trips_and_restores_a_run(tmp_path):
    model, optimizer, scheduler = training_setup(0)
    for _ in range(3):
        train_step(model, optimizer, scheduler)
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                  "scheduler": scheduler.state_dict(), "epoch": 3, "rng": cr.get_rng_state(),
                  "config": {"hidden": [8], "activation": "tanh", "classes": ["a", "b", "c"],
                             "mean": np.zeros(6, np.float32), "std": np.ones(6, np.float32)}}
    loaded = round_trip(checkpoint, tmp_path)
    assert_same(loaded, checkpoint)
    assert set(loaded["optimizer"]["state"]) == {0, 1, 2, 3}  # integer keys, as PyTorch
    assert loaded["scheduler"]["mode_worse"] == math.inf

    # the original run goes on; a fresh one restored from the checkpoint must match it bitwise
    for _ in range(2):
        train_step(model, optimizer, scheduler)
    twin, twin_optimizer, twin_scheduler = training_setup(1)
    twin.load_state_dict(loaded["model"])
    twin_optimizer.load_state_dict(loaded["optimizer"])
    twin_scheduler.load_state_dict(loaded["scheduler"])
    cr.set_rng_state(loaded["rng"])
    for _ in range(2):
        train_step(twin, twin_optimizer, twin_scheduler)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(twin.state_dict()[name].numpy(), value.numpy())


def test_the_rng_state_round_trips(tmp_path):
    cr.manual_seed(123)
    cr.randn(10)
    generator = cr.Generator().manual_seed(7)
    cr.save({"rng": cr.get_rng_state(), "generator": generator.get_state()}, tmp_path / "rng.safetensors")
    expected, expected_own = cr.randn(50), cr.rand(5, generator=generator)
    cr.manual_seed(999)
    loaded = cr.load(tmp_path / "rng.safetensors")
    cr.set_rng_state(loaded["rng"])
    generator.set_state(loaded["generator"])
    np.testing.assert_array_equal(cr.randn(50).numpy(), expected.numpy())
    np.testing.assert_array_equal(cr.rand(5, generator=generator).numpy(), expected_own.numpy())


def test_file_objects_work_like_paths():
    buffer = io.BytesIO()
    cr.save({"w": cr.ones(3)}, buffer)
    buffer.seek(0)
    assert_same(cr.load(buffer), {"w": cr.ones(3)})


# ------------------------------------------------------------------ what save refuses

def test_save_names_what_it_cannot_store_and_where(tmp_path):
    path = tmp_path / "c.safetensors"
    with pytest.raises(ChainruleError, match=r"save: cannot store a function at \['config'\]\['fn'\]"):
        cr.save({"config": {"fn": lambda x: x}}, path)
    with pytest.raises(ChainruleError, match=r"cannot store a Linear at the top level \(save its state_dict"):
        cr.save(nn.Linear(2, 2), path)
    with pytest.raises(ChainruleError, match=r"cannot store a set at \['a'\]\[1\]"):
        cr.save({"a": [1, {2}]}, path)
    with pytest.raises(ChainruleError, match=r"cannot store a bytes at \['raw'\]"):
        cr.save({"raw": b"\x00"}, path)
    with pytest.raises(ChainruleError, match=r"cannot store the ndarray of dtype object at \['names'\]"):
        cr.save({"names": np.array(["a", None], dtype=object)}, path)
    with pytest.raises(ChainruleError, match=r"the dict at \['d'\] has a key 1.5 of type float; .* strings or ints"):
        cr.save({"d": {1.5: 0}}, path)
    with pytest.raises(ChainruleError, match=r"has a key True of type bool"):
        cr.save({True: 0}, path)
    loop: list = [1]
    loop.append({"back": loop})
    with pytest.raises(ChainruleError, match=r"contains itself at \[1\]\['back'\]"):
        cr.save(loop, path)
    with pytest.raises(ChainruleError, match="pickle_protocol.*never pickles"):
        cr.save({}, path, pickle_protocol=4)
    assert os.listdir(tmp_path) == []


def test_save_refuses_a_folder_or_a_missing_folder(tmp_path):
    with pytest.raises(ChainruleError, match="is a folder; give a file name"):
        cr.save({}, tmp_path)
    with pytest.raises(ChainruleError, match="the folder .*missing does not exist"):
        cr.save({}, tmp_path / "missing" / "c.safetensors")


# ------------------------------------------------------------------ atomic writes

def test_saving_over_an_existing_file_replaces_it_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "c.safetensors"
    for epoch in range(3):
        cr.save({"epoch": epoch, "w": cr.full((2,), float(epoch))}, path)
        assert os.listdir(tmp_path) == ["c.safetensors"]
    assert cr.load(path)["epoch"] == 2
    reference = tmp_path / "reference"
    reference.write_bytes(b"")
    assert os.stat(path).st_mode == os.stat(reference).st_mode  # the umask's permissions, not 0600


class FailingFile:
    """A file whose write stores half the data and then fails, as a full disk or a crash would."""

    def __init__(self, file, error):
        self.file, self.error = file, error

    def write(self, data):
        self.file.write(data[:len(data) // 2])
        self.file.flush()
        raise self.error

    def __getattr__(self, name):
        return getattr(self.file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.file.close()


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()],
                         ids=["disk-full", "interrupt"])
def test_an_interrupted_save_leaves_the_previous_checkpoint_intact(error, tmp_path, monkeypatch):
    path = tmp_path / "c.safetensors"
    cr.save({"epoch": 1, "w": cr.ones(1000)}, path)
    before = path.read_bytes()
    monkeypatch.setattr(cr_io, "open", lambda *args: FailingFile(open(*args), error), raising=False)
    expected = (ChainruleError, "cannot write .*No space left on device; any previous file there is unchanged") \
        if isinstance(error, OSError) else (KeyboardInterrupt, None)
    with pytest.raises(expected[0], match=expected[1]):
        cr.save({"epoch": 2, "w": cr.zeros(1000)}, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["c.safetensors"]
    assert cr.load(path)["epoch"] == 1


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_a_failure_after_writing_leaves_the_previous_checkpoint_intact(step, tmp_path, monkeypatch):
    path = tmp_path / "c.safetensors"
    cr.save({"epoch": 1}, path)

    def fail(*args):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(cr_io.os, step, fail)
    with pytest.raises(ChainruleError, match="Input/output error"):
        cr.save({"epoch": 2}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["c.safetensors"] and cr.load(path)["epoch"] == 1


# ------------------------------------------------------------------ what load refuses

def checkpoint_bytes():
    """A small checkpoint with every part: tensors, nested structure, int keys, digests."""
    obj = {"model": {"fc.weight": cr.arange(12.0).reshape(3, 4), "fc.bias": cr.zeros(3, dtype=cr.float64)},
           "optimizer": {"state": {0: {"step": 5, "exp_avg": cr.ones(3, 4)}}, "param_groups": [{"lr": 0.1}]},
           "epoch": 7, "classes": ["cat", "dog"], "mask": cr.tensor([True, False])}
    buffer = io.BytesIO()
    cr.save(obj, buffer)
    return buffer.getvalue()


def regions(data):
    """Byte positions in each part of a safetensors file."""
    size = int.from_bytes(data[:8], "little")
    header = data[8:8 + size].decode()
    def at(text):
        return 8 + header.index(text)
    return {"length": [0, 1, 7], "tensor-index": [at('"dtype"') + 10, at("data_offsets") + 15, at('"shape"') + 9],
            "metadata-keys": [at("chainrule.format"), at("chainrule.structure") + 5],
            "structure": [at("fc.weight"), at("epoch") + 7, at("cat"), at("$dict") + 1],
            "digests": [at("payload_sha256") + 20, at("header_sha256") + 40], "padding": [8 + size - 1],
            "payload": [8 + size, 8 + size + 40, len(data) - 1]}


def load_bytes(data, tmp_path, name="c.safetensors"):
    path = tmp_path / name
    path.write_bytes(data)
    return cr.load(path)


@pytest.mark.parametrize("region", ["length", "tensor-index", "metadata-keys", "structure", "digests", "padding",
                                    "payload"])
@pytest.mark.parametrize("flip", [0x01, 0x80, 0xFF])
def test_a_flipped_byte_is_caught(region, flip, tmp_path):
    data = checkpoint_bytes()
    for position in regions(data)[region]:
        corrupted = bytearray(data)
        corrupted[position] ^= flip
        with pytest.raises(ChainruleError, match=r"load: cannot read .*c\.safetensors: "):
            load_bytes(bytes(corrupted), tmp_path)


def test_a_flipped_byte_anywhere_is_caught(tmp_path):
    data = checkpoint_bytes()
    for position in range(len(data)):
        for flip in (0x01, 0x20, 0xFF):
            corrupted = bytearray(data)
            corrupted[position] ^= flip
            try:
                cr.load(io.BytesIO(bytes(corrupted)))
            except ChainruleError:
                continue
            pytest.fail(f"flipping byte {position} of {len(data)} with {flip:#x} went unnoticed")


@pytest.mark.parametrize("cut", [0.0, 0.001, 0.01, 0.2, 0.5, 0.9, 0.999])
def test_a_truncated_file_is_rejected(cut, tmp_path):
    data = checkpoint_bytes()
    with pytest.raises(ChainruleError, match="truncated|empty"):
        load_bytes(data[:int(len(data) * cut)], tmp_path)


def test_a_file_cut_inside_the_tensor_data_says_so(tmp_path):
    data = checkpoint_bytes()
    with pytest.raises(ChainruleError, match=r"the file is truncated: its tensors need [\d,]+ bytes after the header"):
        load_bytes(data[:-1], tmp_path)


def test_an_empty_file_is_rejected(tmp_path):
    with pytest.raises(ChainruleError, match=r"cannot read .*c\.safetensors: the file is empty"):
        load_bytes(b"", tmp_path)


@pytest.mark.parametrize("size", [3, 8, 100, 5000])
@pytest.mark.parametrize("seed", range(3))
def test_random_bytes_are_rejected(size, seed, tmp_path):
    data = np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()
    with pytest.raises(ChainruleError, match="cannot read .*(truncated|not a safetensors|not valid|pickle)"):
        load_bytes(data, tmp_path)


def test_random_bytes_after_a_plausible_header_length_are_rejected(tmp_path):
    data = (100).to_bytes(8, "little") + np.random.default_rng(0).integers(0, 256, 400, np.uint8).tobytes()
    with pytest.raises(ChainruleError, match="the header is not valid safetensors JSON"):
        load_bytes(data, tmp_path)


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_a_pickle_file_is_refused_without_unpickling(protocol, tmp_path):
    class Trap:
        def __reduce__(self):
            return (os.remove, (str(tmp_path / "canary"),))

    (tmp_path / "canary").write_text("alive")
    with open(tmp_path / "c.pkl", "wb") as file:
        pickle.dump({"w": np.ones(3), "trap": Trap()}, file, protocol=protocol)
    with pytest.raises(ChainruleError, match=r"c\.pkl: this looks like a pickle/torch\.save file.*never unpickles"):
        cr.load(tmp_path / "c.pkl")
    assert (tmp_path / "canary").exists()


@pytest.mark.parametrize("zipfile_format", [True, False], ids=["zip", "legacy"])
def test_a_torch_save_file_is_refused_with_the_way_to_convert_it(zipfile_format, tmp_path):
    torch = require_torch()
    torch.save({"w": torch.ones(3)}, tmp_path / "model.pt", _use_new_zipfile_serialization=zipfile_format)
    with pytest.raises(ChainruleError, match=r"pickle/torch\.save file.*safetensors\.torch\.save_file"):
        cr.load(tmp_path / "model.pt")


def test_a_missing_file_or_a_folder_is_named(tmp_path):
    with pytest.raises(ChainruleError, match=r"load: .*nope\.safetensors does not exist"):
        cr.load(tmp_path / "nope.safetensors")
    with pytest.raises(ChainruleError, match=r"is a folder, not a checkpoint file"):
        cr.load(tmp_path)


def test_a_checkpoint_from_a_newer_format_asks_for_an_upgrade(tmp_path, monkeypatch):
    monkeypatch.setattr(cr_io, "VERSION", "2")
    cr.save({"w": cr.ones(1)}, tmp_path / "c.safetensors")
    monkeypatch.undo()
    with pytest.raises(ChainruleError, match=r"written by a newer chainrule \(checkpoint format 2\); upgrade"):
        cr.load(tmp_path / "c.safetensors")


# ------------------------------------------------------------------ foreign safetensors files

def test_a_foreign_safetensors_file_loads_as_a_flat_state_dict(tmp_path):
    arrays = {"layer.weight": np.arange(6, dtype=np.float32).reshape(2, 3), "layer.bias": np.zeros(2),
              "steps": np.array(4, dtype=np.int64), "mask": np.array([True, False])}
    safetensors.numpy.save_file(arrays, tmp_path / "foreign.safetensors")
    loaded = cr.load(tmp_path / "foreign.safetensors")
    assert set(loaded) == set(arrays)
    for name, array in arrays.items():
        assert type(loaded[name]) is cr.Tensor
        assert_same(loaded[name], cr.tensor(array))


def test_a_safetensors_file_written_by_pytorch_loads_into_a_chainrule_model(tmp_path):
    torch = require_torch()
    from safetensors.torch import save_file

    twin = torch.nn.Linear(3, 2)
    save_file(twin.state_dict(), tmp_path / "torch.safetensors")  # its metadata is {"format": "pt"}
    model = nn.Linear(3, 2)
    model.load_state_dict(cr.load(tmp_path / "torch.safetensors"))
    np.testing.assert_array_equal(model.weight.detach().numpy(), twin.weight.detach().numpy())


@pytest.mark.parametrize("dtype,message", [("uint32", "dtype uint32, which chainrule tensors do not support"),
                                           ("bfloat16", "dtype 'BF16', which NumPy cannot represent")])
def test_a_foreign_file_with_dtypes_chainrule_lacks_is_refused(dtype, message, tmp_path):
    torch = require_torch()
    from safetensors.torch import save_file

    save_file({"x": torch.ones(2, dtype=getattr(torch, dtype))}, tmp_path / "x.safetensors")
    with pytest.raises(ChainruleError, match=message):
        cr.load(tmp_path / "x.safetensors")


def test_a_corrupted_foreign_file_is_still_checked(tmp_path):
    safetensors.numpy.save_file({"w": np.ones(100)}, tmp_path / "foreign.safetensors")
    data = (tmp_path / "foreign.safetensors").read_bytes()
    with pytest.raises(ChainruleError, match="corrupted or truncated \\(safetensors: "):
        load_bytes(data[:-8], tmp_path)


# ------------------------------------------------------------------ PyTorch's arguments

@pytest.mark.parametrize("location", [None, "cpu", "cpu:0", cr.device("cpu")])
def test_load_accepts_the_cpu_as_map_location(location, tmp_path):
    cr.save({"w": cr.ones(2)}, tmp_path / "c.safetensors")
    for weights_only in (None, True, False):
        assert_same(cr.load(tmp_path / "c.safetensors", map_location=location, weights_only=weights_only),
                    {"w": cr.ones(2)})


@pytest.mark.parametrize("kwargs,message", [
    ({"map_location": "cuda:0"}, "map_location='cuda:0' is not supported.*map_location='cpu'"),
    ({"map_location": {"cuda:0": "cpu"}}, "map_location=.*is not supported"),
    ({"pickle_module": pickle}, "pickle_module configure.*never unpickles"),
    ({"mmap": True}, "mmap configure"),
    ({"encoding": "latin1"}, "encoding configure"),
])
def test_load_refuses_what_it_does_not_support(kwargs, message, tmp_path):
    cr.save({}, tmp_path / "c.safetensors")
    with pytest.raises(ChainruleError, match=message):
        cr.load(tmp_path / "c.safetensors", **kwargs)
