"""The IDX file format of MNIST and Fashion-MNIST, read with every field checked.

An IDX file is a 4-byte magic number ``0x00 0x00 TYPE NDIM``, then ``NDIM`` big-endian uint32
dimensions, then the values in C order, big-endian. The file may be gzip-compressed (recognised by
its first two bytes, whatever its name). Anything else is rejected with a ``ChainruleError`` that
names the file and the fault, before any large allocation.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from chainrule.errors import ChainruleError

__all__ = ["read_idx", "IDX_TYPES", "MAX_BYTES"]

IDX_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
             0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
MAX_BYTES = 2 ** 31  # the largest payload accepted: far above MNIST's 47 MB, far below a bogus header's

_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """The array stored in the IDX file at ``path`` (raw or gzip), in native byte order."""
    path = Path(path)
    try:
        with open(path, "rb") as raw:
            compressed = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            if compressed:
                with gzip.GzipFile(fileobj=raw) as stream:
                    return _read(path, stream, None)
            return _read(path, raw, os.fstat(raw.fileno()).st_size)
    except EOFError as error:  # gzip's "compressed file ended before the end-of-stream marker"
        raise _error(path, f"truncated gzip data ({error})") from None
    except (gzip.BadGzipFile, zlib.error) as error:
        raise _error(path, f"corrupted gzip data ({error})") from None
    except OSError as error:
        raise _error(path, f"cannot be read ({error.strerror or error})") from None


def _read(path: Path, stream: BinaryIO, file_size: int | None) -> np.ndarray:
    """Parse the header, check it against ``file_size`` (when known, i.e. uncompressed), read the values."""
    magic = _read_exactly(path, stream, 4, "the 4-byte magic number")
    if magic[:2] != b"\0\0":
        raise _error(path, f"not an IDX file: the magic number {magic.hex()} does not start with 0000")
    code, ndim = magic[2], magic[3]
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X} ({t.name})" for c, t in IDX_TYPES.items())
        raise _error(path, f"unsupported type code 0x{code:02X} (IDX knows {known})")
    if ndim == 0:
        raise _error(path, "the header declares 0 dimensions")
    shape = tuple(int(d) for d in np.frombuffer(_read_exactly(path, stream, 4 * ndim, "the dimensions"), ">u4"))
    dtype, header = IDX_TYPES[code], 4 + 4 * ndim
    nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if 0 in shape or nbytes > MAX_BYTES:
        raise _error(path, f"implausible dimensions {shape} ({nbytes:,} bytes of {dtype.name}; each dimension "
                           f"must be positive and the data at most {MAX_BYTES:,} bytes)")
    if file_size is not None and file_size != header + nbytes:
        fault = "truncated" if file_size < header + nbytes else "trailing bytes"
        raise _error(path, f"{fault}: dimensions {shape} of {dtype.name} need {header + nbytes:,} bytes, "
                           f"the file has {file_size:,}")
    values = np.empty(shape, dtype)
    _fill(path, stream, memoryview(values.reshape(-1).view(np.uint8)), f"data for dimensions {shape}")
    if stream.read(1):
        raise _error(path, f"trailing bytes after the {nbytes:,} bytes of data for dimensions {shape}")
    return values.astype(dtype.newbyteorder("="), copy=False)


def _read_exactly(path: Path, stream: BinaryIO, n: int, what: str) -> bytes:
    """The next ``n`` bytes of ``stream``."""
    buffer = bytearray(n)
    _fill(path, stream, memoryview(buffer), what)
    return bytes(buffer)


def _fill(path: Path, stream: BinaryIO, buffer: memoryview, what: str) -> None:
    """Fill ``buffer`` from ``stream``; a short read means the file is truncated."""
    done = 0
    while done < len(buffer):
        got = stream.readinto(buffer[done:])
        if not got:
            raise _error(path, f"truncated: the file ends after {done:,} of the {len(buffer):,} bytes of {what}")
        done += got


def _error(path: Path, fault: str) -> ChainruleError:
    return ChainruleError(f"read_idx: {path}: {fault}")
