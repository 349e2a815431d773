"""The IDX reader on files written by the test: valid ones (raw and gzip, every type) and broken ones."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from chainrule import ChainruleError
from chainrule.datasets.idx import IDX_TYPES, MAX_BYTES, read_idx


def idx_bytes(array: np.ndarray, code: int | None = None) -> bytes:
    """An IDX file's bytes for ``array`` (its type code looked up unless given)."""
    if code is None:
        code = next(c for c, t in IDX_TYPES.items() if t.kind == array.dtype.kind and t.itemsize == array.dtype.itemsize)
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(IDX_TYPES[code]).tobytes()


@pytest.fixture
def write(tmp_path):
    def write(name: str, content: bytes):
        path = tmp_path / name
        path.write_bytes(content)
        return path
    return write


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("compress", [False, True])
def test_reads_every_type_raw_and_gzip(write, dtype, compress):
    rng = np.random.default_rng(0)
    array = (rng.normal(size=(3, 4, 5)) * 100).astype(dtype)
    content = idx_bytes(array)
    path = write("data.idx", gzip.compress(content) if compress else content)
    result = read_idx(path)
    assert result.dtype == np.dtype(dtype) and result.dtype.isnative
    np.testing.assert_array_equal(result, array)
    assert result.flags.writeable


def test_gzip_is_recognised_by_content_not_name(write):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    np.testing.assert_array_equal(read_idx(write("labels.gz", idx_bytes(array))), array)  # raw under .gz
    np.testing.assert_array_equal(read_idx(write("labels", gzip.compress(idx_bytes(array)))), array)


def test_one_dimensional_labels(write):
    labels = np.array([5, 0, 4, 1, 9], dtype=np.uint8)
    np.testing.assert_array_equal(read_idx(write("l", idx_bytes(labels))), labels)


def test_multibyte_values_are_big_endian(write):
    path = write("x", bytes([0, 0, 0x0C, 1, 0, 0, 0, 2, 0, 0, 1, 0, 0xFF, 0xFF, 0xFF, 0xFE]))
    assert read_idx(path).tolist() == [256, -2]


GOOD = idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


@pytest.mark.parametrize("content, message", [
    (GOOD[:-1], r"truncated: dimensions \(2, 3, 4\) of uint8 need 40 bytes, the file has 39"),
    (GOOD[:10], r"truncated: the file ends after 6 of the 12 bytes of the dimensions"),
    (GOOD[:2], r"truncated: the file ends after 2 of the 4 bytes of the 4-byte magic number"),
    (b"", r"truncated: the file ends after 0 of the 4 bytes"),
    (GOOD + b"\0", r"trailing bytes: dimensions \(2, 3, 4\) of uint8 need 40 bytes, the file has 41"),
    (b"\x01\x00" + GOOD[2:], r"not an IDX file: the magic number 01000803"),
    (b"PK\x03\x04" + GOOD[4:], r"not an IDX file: the magic number 504b0304"),
    (GOOD[:2] + b"\x0A" + GOOD[3:], r"unsupported type code 0x0A \(IDX knows 0x08 \(uint8\)"),
    (GOOD[:2] + b"\x08\x00" + GOOD[4:], "declares 0 dimensions"),
    (GOOD[:4] + struct.pack(">3I", 60000, 0, 28) + GOOD[16:], r"implausible dimensions \(60000, 0, 28\)"),
    (bytes([0, 0, 8, 3]) + struct.pack(">3I", 2 ** 32 - 1, 2 ** 32 - 1, 28), r"implausible dimensions"),
    (bytes([0, 0, 0x0E, 1]) + struct.pack(">I", MAX_BYTES // 8 + 1), r"at most 2,147,483,648 bytes"),
])
@pytest.mark.parametrize("compress", [False, True])
def test_rejects_broken_files(write, content, message, compress):
    if compress:  # through gzip the file length is not known in advance: the same faults, found while reading
        message = message.replace("dimensions \\(2, 3, 4\\) of uint8 need 40 bytes, the file has 39",
                                  "the file ends after 23 of the 24 bytes")
        message = message.replace(r"trailing bytes: dimensions \(2, 3, 4\) of uint8 need 40 bytes, the file has 41",
                                  r"trailing bytes after the 24 bytes of data for dimensions \(2, 3, 4\)")
    path = write("bad.idx", gzip.compress(content) if compress else content)
    with pytest.raises(ChainruleError, match=message) as error:
        read_idx(path)
    assert str(path) in str(error.value) and str(error.value).startswith("read_idx: ")


def test_oversized_header_is_rejected_before_allocating(write, monkeypatch):
    def no_allocation(*args, **kwargs):
        raise AssertionError("read_idx allocated before checking the dimensions")

    path = write("huge", bytes([0, 0, 8, 3]) + struct.pack(">3I", 10 ** 6, 10 ** 4, 10 ** 3))
    monkeypatch.setattr(np, "empty", no_allocation)
    with pytest.raises(ChainruleError, match="implausible dimensions"):
        read_idx(path)


def test_gzip_bomb_is_read_no_further_than_the_header_allows(write):
    """A small header followed by a huge compressed stream stops after one extra byte, not at its end."""
    bomb = gzip.compress(GOOD + b"\0" * 50_000_000, compresslevel=1)
    with pytest.raises(ChainruleError, match="trailing bytes after the 24 bytes"):
        read_idx(write("bomb.gz", bomb))


@pytest.mark.parametrize("damage, message", [
    (lambda z: z[:len(z) // 2], "truncated gzip data"),
    (lambda z: z[:12] + bytes([z[12] ^ 0xFF]) + z[13:], "corrupted gzip data"),
    (lambda z: z[:-8] + bytes(8), "corrupted gzip data.*CRC"),
    (lambda z: z[:3] + b"\xff" + z[4:], "corrupted gzip data"),
])
def test_corrupted_gzip_is_a_clear_error(write, damage, message):
    content = gzip.compress(idx_bytes(np.random.default_rng(1).integers(0, 255, (50, 28, 28), dtype=np.uint8)))
    path = write("images.gz", damage(content))
    with pytest.raises(ChainruleError, match=f"read_idx: .*images.gz: {message}"):
        read_idx(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ChainruleError, match="read_idx: .*nothing: cannot be read .*No such file"):
        read_idx(tmp_path / "nothing")
    with pytest.raises(ChainruleError, match="cannot be read"):
        read_idx(tmp_path)
