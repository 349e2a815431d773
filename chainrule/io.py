"""Checkpoints: ``save(obj, f)`` and ``load(f)``, as ``torch.save``/``torch.load``, in safetensors files.

What can be saved: tensors, NumPy arrays and scalars, ``int``, ``float``, ``bool``, ``None``, ``str``,
and dicts (string or int keys), lists and tuples of those, nested freely — a state dict, or a whole
training checkpoint (model and optimizer state dicts, scheduler state, epoch, RNG state, settings).
Subclasses come back as their base type (an ``OrderedDict`` as a ``dict``); a tensor or array that
appears twice in one structure is stored once and comes back as one object.

The file is an ordinary safetensors file (``safetensors.numpy.load_file`` opens it):

- each tensor or array is a safetensors tensor under a path-like name (``model/fc1.weight``; a flat
  state dict keeps its own names);
- the header's metadata holds the rest (format version 1):

  ``chainrule.format``          ``"chainrule.checkpoint"``
  ``chainrule.version``         ``"1"``
  ``chainrule.structure``       ``obj`` as JSON, arrays replaced by references (encoding below)
  ``chainrule.payload_sha256``  SHA-256 of the bytes after the header (the tensor data)
  ``chainrule.header_sha256``   SHA-256 of the header as canonical JSON (sorted keys, no spaces,
                                ASCII), without this entry

  JSON's own types stand for themselves; a dict whose keys are all strings not starting with ``$``
  is a JSON object. Everything else is an object with one ``$`` tag: ``{"$tensor": name}`` (with
  ``"requires_grad": true`` and ``"parameter": true`` when they apply), ``{"$ndarray": name}``,
  ``{"$numpy_scalar": name}``, ``{"$float": "nan" | "inf" | "-inf"}``, ``{"$tuple": [...]}`` and
  ``{"$dict": [[key, value], ...]}``.

The two digests make any changed byte an error. Loading parses JSON and copies arrays out of the
file: nothing in the format can hold code, so loading never unpickles. A safetensors file written
by another program loads as a flat ``{name: Tensor}`` state dict. Saving writes a temporary file in
the target's folder, fsyncs it and renames it over the target, so a crash never leaves a
half-written checkpoint.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import secrets
from typing import Any, BinaryIO, Union

import numpy as np
import safetensors.numpy
from safetensors import SafetensorError

from chainrule.dtype import from_numpy_dtype
from chainrule.errors import ChainruleError
from chainrule.tensor import Tensor, device, wrap

__all__ = ["save", "load"]

FileLike = Union[str, "os.PathLike[str]", BinaryIO]

FORMAT, VERSION = "chainrule.checkpoint", "1"
_PREFIX = "chainrule."
_HEADER_DIGEST = _PREFIX + "header_sha256"
# NumPy dtypes that safetensors stores (its numpy API's table).
_STORABLE = {np.dtype(t) for t in (np.float16, np.float32, np.float64, np.complex64, np.bool_, np.int8,
                                   np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64)}


# ------------------------------------------------------------------ save

def save(obj: Any, f: FileLike, **pickle_options: Any) -> None:
    """Save ``obj`` (a state dict, or a nested dict of tensors, arrays, numbers and strings) to ``f``,
    a path (written atomically) or a binary file object, as a safetensors file; see the module doc."""
    if pickle_options:
        raise ChainruleError(
            f"save: {', '.join(sorted(pickle_options))} configure(s) torch.save's pickling; chainrule "
            "writes safetensors files and never pickles: leave them out")
    data = _serialize(obj)
    if hasattr(f, "write"):
        f.write(data)  # type: ignore[union-attr]
    else:
        _write_atomically(os.fspath(f), data)  # type: ignore[arg-type]


class _Encoder:
    """Turns a structure into JSON-able form, collecting its arrays under path-like names."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self._names: dict[int, str] = {}  # id(saved object) -> its tensor name, so shared ones are stored once
        self._open: set[int] = set()  # ids of the containers being encoded, to catch cycles

    def encode(self, obj: Any, path: tuple[Any, ...]) -> Any:
        if isinstance(obj, (Tensor, np.ndarray, np.generic)):  # before float: np.float64 is a float
            return self._array(obj, path)
        if obj is None or isinstance(obj, (bool, int, str)):
            return _base_scalar(obj)
        if isinstance(obj, float):
            return float(obj) if math.isfinite(obj) else {"$float": repr(float(obj))}
        if not isinstance(obj, (dict, list, tuple)):
            hint = (" (save its state_dict() instead)" if hasattr(obj, "state_dict") else
                    "; a checkpoint holds tensors, NumPy arrays, numbers, strings, None, and dicts, lists "
                    "and tuples of those")
            raise ChainruleError(f"save: cannot store a {type(obj).__name__} at {_where(path)}{hint}")
        if id(obj) in self._open:
            raise ChainruleError(f"save: the structure contains itself at {_where(path)}; a checkpoint "
                                 "must be a tree")
        self._open.add(id(obj))
        try:
            if isinstance(obj, dict):
                return self._dict(obj, path)
            items = [self.encode(item, (*path, i)) for i, item in enumerate(obj)]
            return {"$tuple": items} if isinstance(obj, tuple) else items
        finally:
            self._open.discard(id(obj))

    def _dict(self, obj: dict[Any, Any], path: tuple[Any, ...]) -> Any:
        for key in obj:
            if not isinstance(key, str) and (not isinstance(key, int) or isinstance(key, bool)):
                raise ChainruleError(
                    f"save: the dict at {_where(path)} has a key {key!r} of type {type(key).__name__}; "
                    "checkpoint keys must be strings or ints")
        pairs = [(_base_scalar(key), self.encode(value, (*path, key))) for key, value in obj.items()]
        if all(isinstance(key, str) and not key.startswith("$") for key, _ in pairs):
            return dict(pairs)
        return {"$dict": [list(pair) for pair in pairs]}

    def _array(self, obj: Tensor | np.ndarray | np.generic, path: tuple[Any, ...]) -> dict[str, Any]:
        if not isinstance(obj, Tensor):
            return {"$ndarray" if isinstance(obj, np.ndarray) else "$numpy_scalar": self._store(obj, path)}
        from chainrule.nn.module import Parameter

        node: dict[str, Any] = {"$tensor": self._store(obj, path)}
        if obj.requires_grad:
            node["requires_grad"] = True
        if isinstance(obj, Parameter):
            node["parameter"] = True
        return node

    def _store(self, obj: Tensor | np.ndarray | np.generic, path: tuple[Any, ...]) -> str:
        """The tensor name under which ``obj``'s values are stored (once per object)."""
        name = self._names.get(id(obj))
        if name is None:
            array = obj._data if isinstance(obj, Tensor) else np.asarray(obj)
            if array.dtype.newbyteorder("=") not in _STORABLE:
                raise ChainruleError(
                    f"save: cannot store the {type(obj).__name__} of dtype {array.dtype} at {_where(path)}; "
                    f"safetensors holds {', '.join(sorted(str(d) for d in _STORABLE))}")
            name = self._new_name(path)
            # safetensors reads raw memory: a view must be made contiguous first.
            self.arrays[name] = array if array.flags.c_contiguous else array.copy(order="C")
            self._names[id(obj)] = name
        return name

    def _new_name(self, path: tuple[Any, ...]) -> str:
        """``model/fc1.weight`` for path ('model', 'fc1.weight'); a suffix keeps names unique."""
        base = "/".join(map(str, path)) or "tensor"
        name, n = base, 1
        while name in self.arrays or name == "__metadata__":
            name, n = f"{base}~{n}", n + 1
        return name


def _base_scalar(value: Any) -> Any:
    """An int, str or bool subclass (an IntEnum …) as its base type, which JSON keeps."""
    for base in (bool, int, str):
        if isinstance(value, base):
            return base(value)
    return value


def _where(path: tuple[Any, ...]) -> str:
    """A path inside the structure, as Python would index it: ``['optimizer']['state'][0]``."""
    return "".join(f"[{key!r}]" for key in path) if path else "the top level"


def _serialize(obj: Any) -> bytes:
    """The checkpoint file's bytes."""
    encoder = _Encoder()
    structure = json.dumps(encoder.encode(obj, ()), allow_nan=False, separators=(",", ":"))
    # safetensors lays the tensor data out the same way whatever the metadata: serialize once to get
    # the payload and the tensor index, then again with the metadata that describes them.
    plain = safetensors.numpy.save(encoder.arrays)
    header, offset = _header(plain)
    metadata = {_PREFIX + "format": FORMAT, _PREFIX + "version": VERSION,
                _PREFIX + "structure": structure,
                _PREFIX + "payload_sha256": hashlib.sha256(memoryview(plain)[offset:]).hexdigest()}
    del plain
    header["__metadata__"] = metadata
    metadata[_HEADER_DIGEST] = _header_digest(header)
    return safetensors.numpy.save(encoder.arrays, metadata)


def _header(data: bytes) -> tuple[dict[str, Any], int]:
    """The parsed header of well-formed safetensors bytes and where the payload starts."""
    size = int.from_bytes(data[:8], "little")
    return json.loads(data[8:8 + size]), 8 + size


def _header_digest(header: dict[str, Any]) -> str:
    """SHA-256 of the header in canonical form, leaving out the digest itself."""
    metadata = {key: value for key, value in header["__metadata__"].items() if key != _HEADER_DIGEST}
    canonical = json.dumps({**header, "__metadata__": metadata}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _write_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it and rename it onto ``path``: the
    target is always either the old file or the whole new one; on failure the temporary file goes."""
    if os.path.isdir(path):
        raise ChainruleError(f"save: {path} is a folder; give a file name, e.g. "
                             f"{os.path.join(path, 'checkpoint.safetensors')}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ChainruleError(f"save: cannot write {path}: the folder {folder} does not exist; create it first")
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    try:
        with open(temporary, "xb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(error, OSError):
            raise ChainruleError(f"save: cannot write {path}: {error.strerror or error}; "
                                 "any previous file there is unchanged") from error
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: str) -> None:
    """Make the rename durable; systems that cannot open a folder (Windows) skip this."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ------------------------------------------------------------------ load

def load(f: FileLike, map_location: Any = None, pickle_module: Any = None, *, weights_only: bool | None = None,
         mmap: bool | None = None, **pickle_load_args: Any) -> Any:
    """Load what :func:`save` wrote (tensors come back as chainrule tensors, arrays as arrays …), or a
    safetensors file from elsewhere as a flat ``{name: Tensor}`` state dict.

    ``map_location`` may be ``None`` or the CPU. ``weights_only`` is accepted either way: the format
    holds only data, so loading is always as safe as PyTorch's ``weights_only=True``. Raises
    :class:`ChainruleError` naming the file and the problem for a missing, truncated, corrupted or
    foreign (pickle, ``torch.save``) file.
    """
    if map_location is not None and not (isinstance(map_location, (str, device))
                                         and str(map_location).split(":")[0] == "cpu"):
        raise ChainruleError(f"load: map_location={map_location!r} is not supported; chainrule runs on the "
                             "CPU: pass map_location='cpu' or leave it out")
    unsupported = [name for name, value in (("pickle_module", pickle_module), ("mmap", mmap)) if value]
    if unsupported or pickle_load_args:
        names = ", ".join(unsupported + sorted(pickle_load_args))
        raise ChainruleError(f"load: {names} configure(s) torch.load's unpickling; chainrule reads "
                             "safetensors files into memory and never unpickles: leave them out")
    del weights_only  # always effectively True (see the docstring)
    name, data = _read(f)
    return _parse(name, data)


def _read(f: FileLike) -> tuple[str, bytes]:
    """The file's name (for messages) and its bytes."""
    if hasattr(f, "read"):
        return str(getattr(f, "name", f"the {type(f).__name__}")), f.read()  # type: ignore[union-attr]
    path = os.fspath(f)  # type: ignore[arg-type]
    try:
        with open(path, "rb") as file:
            return str(path), file.read()
    except FileNotFoundError:
        raise ChainruleError(f"load: {path} does not exist; check the path") from None
    except IsADirectoryError:
        raise ChainruleError(f"load: {path} is a folder, not a checkpoint file") from None
    except OSError as error:
        raise ChainruleError(f"load: cannot read {path}: {error.strerror or error}") from None


def _parse(name: str, data: bytes) -> Any:
    def fail(problem: str) -> ChainruleError:
        return ChainruleError(f"load: cannot read {name}: {problem}")

    if not data:
        raise fail("the file is empty")
    size = int.from_bytes(data[:8], "little")
    header = None
    if len(data) >= 8 and size <= len(data) - 8:
        with contextlib.suppress(UnicodeDecodeError, ValueError, RecursionError):
            header = json.loads(data[8:8 + size])
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(header, dict) or not isinstance(metadata, (dict, type(None))):
        raise fail(_not_safetensors(data, size))
    if not any(key.startswith(_PREFIX.rstrip(".")) for key in metadata or ()):
        return _foreign(fail, data)
    if metadata.get(_PREFIX + "format") != FORMAT or metadata.get(_PREFIX + "version") != VERSION:
        version = metadata.get(_PREFIX + "version")
        newer = isinstance(version, str) and version.isdigit() and int(version) > int(VERSION)
        raise fail(f"it was written by a newer chainrule (checkpoint format {version}); upgrade chainrule"
                   if newer else "its chainrule metadata is damaged: the file is corrupted")
    if metadata.get(_HEADER_DIGEST) != _header_digest(header):
        raise fail("the header's SHA-256 does not match: the file is corrupted")
    payload = memoryview(data)[8 + size:]
    try:
        needed = max((int(entry["data_offsets"][1]) for key, entry in header.items() if key != "__metadata__"),
                     default=0)
    except (KeyError, TypeError, IndexError, ValueError):
        raise fail("its tensor index is malformed") from None
    if len(payload) < needed:
        raise fail(f"the file is truncated: its tensors need {needed:,} bytes after the header, "
                   f"it holds {len(payload):,}")
    if hashlib.sha256(payload).hexdigest() != metadata.get(_PREFIX + "payload_sha256"):
        raise fail("the tensor data's SHA-256 does not match: the file is corrupted")
    arrays = _deserialize(fail, data)
    try:
        return _decode(json.loads(metadata[_PREFIX + "structure"]), arrays, {})
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, RecursionError) as error:
        raise fail(f"its structure is malformed ({type(error).__name__}: {error})") from None


def _not_safetensors(data: bytes, size: int) -> str:
    """Why bytes whose header does not parse are not a checkpoint, recognising pickles and zips."""
    if (data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")) or data[:4] == b"PK\x03\x04":
        return ("this looks like a pickle/torch.save file (or a zip archive such as NumPy's .npz); chainrule "
                "never unpickles, because unpickling can run code. To convert a PyTorch checkpoint you trust: "
                "in PyTorch, safetensors.torch.save_file(torch.load(path), 'model.safetensors'), then load "
                "that file here")
    if len(data) < 8:
        return f"the file is truncated or is not a safetensors file (it has only {len(data)} bytes)"
    if size > len(data) - 8:
        return (f"the file is truncated or is not a safetensors file (its header claims {size:,} bytes, "
                f"{len(data) - 8:,} follow)")
    return "the header is not valid safetensors JSON: the file is corrupted or is not a checkpoint"


def _deserialize(fail: Any, data: bytes) -> dict[str, np.ndarray]:
    """The file's arrays, parsed (and checked) by safetensors."""
    try:
        return safetensors.numpy.load(data)
    except SafetensorError as error:
        raise fail(f"the file is corrupted or truncated (safetensors: {error})") from None
    except KeyError as error:  # a dtype NumPy lacks, such as BF16
        raise fail(f"it holds tensors of dtype {error}, which NumPy cannot represent") from None


def _foreign(fail: Any, data: bytes) -> dict[str, Tensor]:
    """A safetensors file without chainrule's metadata, as a flat ``{name: Tensor}`` state dict."""
    state = {}
    for key, array in _deserialize(fail, data).items():
        try:
            from_numpy_dtype(array.dtype)
        except ChainruleError:
            raise fail(f"its tensor {key!r} has dtype {array.dtype}, which chainrule tensors do not support; "
                       "read the arrays with safetensors.numpy.load_file") from None
        state[key] = wrap(array.copy())
    return state


def _decode(node: Any, arrays: dict[str, np.ndarray], shared: dict[str, Any]) -> Any:
    """The inverse of ``_Encoder.encode``; ``shared`` maps tensor names already restored to their object."""
    if isinstance(node, list):
        return [_decode(item, arrays, shared) for item in node]
    if not isinstance(node, dict):
        return node
    tag = next(iter(node), "")
    if not tag.startswith("$"):
        return {key: _decode(value, arrays, shared) for key, value in node.items()}
    if tag == "$float":
        return float(node[tag])
    if tag == "$tuple":
        return tuple(_decode(item, arrays, shared) for item in node[tag])
    if tag == "$dict":
        return {key: _decode(value, arrays, shared) for key, value in node[tag]}
    name = node[tag]
    if name not in shared:
        array = arrays[name].copy()  # writable, and independent of the file's bytes
        if tag == "$ndarray":
            shared[name] = array
        elif tag == "$numpy_scalar":
            shared[name] = array[()]
        elif tag == "$tensor" and node.get("parameter"):
            from chainrule.nn.module import Parameter

            shared[name] = Parameter(array, requires_grad=bool(node.get("requires_grad")))
        elif tag == "$tensor":
            shared[name] = wrap(array, requires_grad=bool(node.get("requires_grad")))
        else:
            raise ValueError(f"unknown tag {tag}")
    return shared[name]
