"""Read (and, for tests and the demo, write) the header of a GGUF model file.

A small parser of the format llama.cpp documents (docs/gguf.md): magic
``GGUF``, version, tensor and metadata counts, typed key/value metadata, then
tensor infos. It reads only the header, with hard limits on every length, so
a hostile or truncated file gives a ``VerificationError`` and never a huge
allocation. We do not depend on the ``gguf`` package for this: it pulls in
numpy, requests and tqdm to read a few kilobytes; the tests check our reader
and writer against it.
"""

from __future__ import annotations

import os
import random
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final

from llmstore.errors import VerificationError

__all__ = ["GGUFInfo", "read_gguf_header", "verify_gguf", "write_gguf_file"]

MAGIC: Final = b"GGUF"
_MAX_STRING = 16 * 1024 * 1024
_MAX_ITEMS = 16 * 1024 * 1024  # metadata entries, tensors, array items
_MAX_DIMS = 8
_KEPT_ARRAY_ITEMS = 32  # longer arrays (token lists) are summarised by their length
_DEFAULT_ALIGNMENT = 32

# value type -> struct format of a scalar
_SCALARS: Final = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?",
                   10: "Q", 11: "q", 12: "d"}  # fmt: skip
_STRING, _ARRAY = 8, 9

#: llama.cpp's ``general.file_type`` values (enum llama_ftype) for the common files
FILE_TYPES: Final = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
    10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
    16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S",
    22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M",
    28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16",
}  # fmt: skip


@dataclass(frozen=True)
class GGUFInfo:
    """What a GGUF header says about a model."""

    version: int
    tensor_count: int
    #: metadata values; arrays longer than 32 items are given as ``{"array_length": n}``
    metadata: Mapping[str, Any] = field(repr=False)
    #: sum of the element counts of all tensors
    parameter_count: int
    #: where tensor data starts (the header's size, aligned)
    data_offset: int

    @property
    def architecture(self) -> str | None:
        """``general.architecture``, e.g. ``llama``."""
        value = self.metadata.get("general.architecture")
        return value if isinstance(value, str) else None

    @property
    def name(self) -> str | None:
        """``general.name``."""
        value = self.metadata.get("general.name")
        return value if isinstance(value, str) else None

    @property
    def context_length(self) -> int | None:
        """``<architecture>.context_length``: the context the model was trained for."""
        value = self.metadata.get(f"{self.architecture}.context_length")
        return value if isinstance(value, int) else None

    @property
    def quantization(self) -> str | None:
        """The file type, e.g. ``Q4_K_M``, from ``general.file_type``."""
        value = self.metadata.get("general.file_type")
        if isinstance(value, int) and not isinstance(value, bool):
            return FILE_TYPES.get(value, f"type {value}")
        return None

    def summary(self) -> dict[str, Any]:
        """The headline fields as a JSON-able dict."""
        return {
            "gguf_version": self.version,
            "architecture": self.architecture,
            "name": self.name,
            "parameter_count": self.parameter_count,
            "context_length": self.context_length,
            "quantization": self.quantization,
            "tensor_count": self.tensor_count,
        }


class _Reader:
    def __init__(self, file: BinaryIO, path: Path, endian: str) -> None:
        self.file, self.path, self.endian = file, path, endian

    def fail(self, problem: str) -> VerificationError:
        return VerificationError(f"{self.path} is not a valid GGUF model file: {problem}")

    def unpack(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        data = self.file.read(size)
        if len(data) != size:
            raise self.fail(f"the header ends early, at byte {self.file.tell()}")
        return struct.unpack(self.endian + fmt, data)[0]

    def count(self, what: str) -> int:
        value: int = self.unpack("Q")
        if value > _MAX_ITEMS:
            raise self.fail(f"{value} {what} is more than any real model has")
        return value

    def string(self) -> str:
        length = self.unpack("Q")
        if length > _MAX_STRING:
            raise self.fail(f"a string of {length} bytes at byte {self.file.tell() - 8}")
        data = self.file.read(length)
        if len(data) != length:
            raise self.fail("the header ends inside a string")
        return data.decode("utf-8", errors="replace")

    def value(self, kind: int, depth: int = 0) -> Any:
        if kind in _SCALARS:
            return self.unpack(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY and depth == 0:
            item_kind = self.unpack("I")
            length = self.count("array items")
            if item_kind in _SCALARS and length > _KEPT_ARRAY_ITEMS:
                size = struct.calcsize(_SCALARS[item_kind]) * length
                self.file.seek(size, os.SEEK_CUR)  # checked against the file size later
                return {"array_length": length}
            items = [self.value(item_kind, depth + 1) for _ in range(length)]
            return items if length <= _KEPT_ARRAY_ITEMS else {"array_length": length}
        raise self.fail(f"unknown metadata value type {kind}")


def read_gguf_header(path: str | os.PathLike[str]) -> GGUFInfo:
    """Parse the GGUF header of ``path``; ``VerificationError`` if it is not a GGUF file."""
    path = Path(path)
    try:
        with open(path, "rb") as file:
            return _read(file, path)
    except OSError as error:
        raise VerificationError(f"cannot read {path}: {error.strerror or error}") from error


def _read(file: BinaryIO, path: Path) -> GGUFInfo:
    magic = file.read(4)
    if magic != MAGIC:
        raise VerificationError(
            f"{path} is not a GGUF model file: it starts with {magic!r}, not {MAGIC!r} "
            "(an HTML error page or another format saved under a model's name?)"
        )
    raw = file.read(4)
    if len(raw) != 4:
        raise VerificationError(f"{path} is not a valid GGUF model file: it ends after the magic")
    endian = "<" if struct.unpack("<I", raw)[0] < 0x10000 else ">"
    reader = _Reader(file, path, endian)
    version = struct.unpack(endian + "I", raw)[0]
    if version not in (2, 3):
        raise reader.fail(f"GGUF version {version} is not supported (only 2 and 3)")
    tensor_count = reader.count("tensors")
    metadata: dict[str, Any] = {}
    for _ in range(reader.count("metadata entries")):
        key = reader.string()
        metadata[key] = reader.value(reader.unpack("I"))
    parameters = 0
    for _ in range(tensor_count):
        reader.string()
        dims = reader.unpack("I")
        if dims > _MAX_DIMS:
            raise reader.fail(f"a tensor with {dims} dimensions")
        elements = 1
        for _ in range(dims):
            elements *= reader.unpack("Q")
        parameters += elements
        reader.unpack("I")  # tensor type
        reader.unpack("Q")  # offset in the data section
    alignment = metadata.get("general.alignment", _DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise reader.fail(f"general.alignment {alignment!r} is not a power of two")
    end = file.tell()
    data_offset = -(-end // alignment) * alignment
    size = os.fstat(file.fileno()).st_size
    if end > size or (tensor_count and data_offset > size):
        raise reader.fail(f"the header needs {data_offset} bytes but the file has {size}")
    return GGUFInfo(version, tensor_count, metadata, parameters, data_offset)


def verify_gguf(path: Path) -> None:
    """Raise ``VerificationError`` unless ``path`` has a readable GGUF header."""
    read_gguf_header(path)


def write_gguf_file(
    path: str | os.PathLike[str],
    *,
    size_bytes: int,
    metadata: Mapping[str, str | int | float | bool] | None = None,
    seed: int = 0,
) -> Path:
    """Write a valid GGUF v3 file of exactly ``size_bytes`` (for tests and the demo).

    The header names a small llama-like model (overridable with ``metadata``)
    and one F32 tensor filling the file with bytes drawn from ``seed``, so two
    seeds give two different files with the same header layout.
    """
    path = Path(path)
    values: dict[str, str | int | float | bool] = {
        "general.architecture": "llama",
        "general.name": "llmstore demo",
        "general.file_type": 15,
        "llama.context_length": 4096,
        "general.alignment": _DEFAULT_ALIGNMENT,
    }
    values.update(metadata or {})
    header = bytearray(MAGIC + struct.pack("<IQQ", 3, 1, len(values)))
    for key, value in values.items():
        header += _pack_string(key) + _pack_value(value)
    tensor_at = len(header)
    header += _pack_string("demo.weight") + struct.pack("<IQIQ", 1, 0, 0, 0)
    alignment = int(values["general.alignment"])
    data_offset = -(-len(header) // alignment) * alignment
    elements = (size_bytes - data_offset) // 4
    if elements < 1:
        raise ValueError(f"size_bytes must be more than {data_offset + 3} for this header")
    struct.pack_into("<Q", header, tensor_at + 8 + len("demo.weight") + 4, elements)
    header += bytes(data_offset - len(header))
    rng = random.Random(seed)
    with open(path, "wb") as file:
        file.write(header)
        left = size_bytes - data_offset
        block = rng.randbytes(min(left, 1 << 20))
        while left > 0:
            # Vary each MiB cheaply so the file is not one repeated block.
            piece = block[: min(left, len(block))]
            file.write(rng.randbytes(16) + piece[16:] if len(piece) > 16 else piece)
            left -= len(piece)
    return path


def _pack_string(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("<Q", len(data)) + data


def _pack_value(value: str | int | float | bool) -> bytes:
    if isinstance(value, bool):
        return struct.pack("<I?", 7, value)
    if isinstance(value, int):
        return struct.pack("<Iq", 11, value) if value < 0 else _pack_uint(value)
    if isinstance(value, float):
        return struct.pack("<Id", 12, value)
    return struct.pack("<I", _STRING) + _pack_string(value)


def _pack_uint(value: int) -> bytes:
    return struct.pack("<II", 4, value) if value < 1 << 32 else struct.pack("<IQ", 10, value)
