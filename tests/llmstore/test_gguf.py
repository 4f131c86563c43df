"""Our GGUF header reader and writer, checked against the reference ``gguf`` package."""

from __future__ import annotations

import os
import struct
import tracemalloc
from pathlib import Path
from typing import Any

import gguf
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmstore._gguf import GGUFInfo, read_gguf_header, verify_gguf, write_gguf_file
from llmstore.errors import VerificationError

TOKENS = [f"token-{index}" for index in range(40)]
SCORES = list(range(100))


def packed_string(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("<Q", len(data)) + data


def header(*, version: int = 3, tensors: int = 0, entries: int = 0) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", version, tensors, entries)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.fixture
def reference_file(tmp_path: Path) -> Path:
    """A file written by the reference ``gguf.GGUFWriter``."""
    path = tmp_path / "reference.gguf"
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("reference model")
    writer.add_context_length(8192)
    writer.add_file_type(18)
    writer.add_uint8("test.u8", 200)
    writer.add_int16("test.i16", -300)
    writer.add_uint64("test.u64", 2**40 + 7)
    writer.add_int64("test.i64", -(2**40))
    writer.add_float32("test.f32", 0.5)
    writer.add_float64("test.f64", -1.25)
    writer.add_bool("test.flag", True)
    writer.add_string("test.text", "héllo wörld")
    writer.add_array("tokenizer.ggml.tokens", TOKENS)
    writer.add_array("test.scores", SCORES)
    writer.add_array("test.small", [3, 1, 4])
    writer.add_array("test.words", ["a", "b"])
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.add_tensor("output_norm.weight", np.ones((3, 5, 2), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


# --- our writer, our reader --------------------------------------------------------------


def test_written_file_reads_back_with_its_headline_fields(tmp_path: Path) -> None:
    path = write_gguf_file(tmp_path / "m.gguf", size_bytes=10_000)
    info = read_gguf_header(path)
    assert path.stat().st_size == 10_000
    assert (info.version, info.tensor_count) == (3, 1)
    assert info.architecture == "llama"
    assert info.name == "llmstore demo"
    assert info.context_length == 4096
    assert info.quantization == "Q4_K_M"
    assert info.data_offset % 32 == 0
    assert info.parameter_count == (10_000 - info.data_offset) // 4
    assert info.summary() == {
        "gguf_version": 3,
        "architecture": "llama",
        "name": "llmstore demo",
        "parameter_count": info.parameter_count,
        "context_length": 4096,
        "quantization": "Q4_K_M",
        "tensor_count": 1,
    }
    verify_gguf(path)


def test_written_metadata_overrides_and_extra_types_read_back(tmp_path: Path) -> None:
    metadata: dict[str, str | int | float | bool] = {
        "general.architecture": "qwen2",
        "general.name": "Qwen tiny",
        "qwen2.context_length": 32768,
        "general.file_type": 7,
        "test.negative": -3,
        "test.big": 2**40,
        "test.ratio": 0.25,
        "test.flag": False,
    }
    path = write_gguf_file(tmp_path / "q.gguf", size_bytes=2_000, metadata=metadata)
    info = read_gguf_header(path)
    assert path.stat().st_size == 2_000
    for key, value in metadata.items():
        assert info.metadata[key] == value
        assert type(info.metadata[key]) is type(value)
    assert (info.architecture, info.context_length, info.quantization) == ("qwen2", 32768, "Q8_0")


def test_unknown_file_type_is_shown_by_number(tmp_path: Path) -> None:
    path = write_gguf_file(
        tmp_path / "m.gguf", size_bytes=1_000, metadata={"general.file_type": 99}
    )
    assert read_gguf_header(path).quantization == "type 99"


def test_seeds_give_different_files_with_the_same_header(tmp_path: Path) -> None:
    one = write_gguf_file(tmp_path / "one.gguf", size_bytes=3 << 20, seed=1)
    two = write_gguf_file(tmp_path / "two.gguf", size_bytes=3 << 20, seed=2)
    again = write_gguf_file(tmp_path / "again.gguf", size_bytes=3 << 20, seed=1)
    offset = read_gguf_header(one).data_offset
    assert one.read_bytes()[:offset] == two.read_bytes()[:offset]
    assert one.read_bytes() != two.read_bytes()
    assert one.read_bytes() == again.read_bytes()
    body = one.read_bytes()[offset:]
    assert body[: 1 << 20] != body[1 << 20 : 2 << 20]  # not one repeated block


def test_too_small_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="size_bytes must be more than"):
        write_gguf_file(tmp_path / "m.gguf", size_bytes=100)


# --- cross-checks with the reference implementation --------------------------------------


def test_reference_file_is_read_correctly(reference_file: Path) -> None:
    info = read_gguf_header(reference_file)
    reference = gguf.GGUFReader(reference_file)
    assert info.tensor_count == len(reference.tensors) == 2
    assert info.parameter_count == sum(int(t.n_elements) for t in reference.tensors) == 32 + 30
    assert info.data_offset == reference.data_offset
    assert (info.architecture, info.name) == ("llama", "reference model")
    assert (info.context_length, info.quantization) == (8192, "Q6_K")
    expected: dict[str, Any] = {
        "test.u8": 200,
        "test.i16": -300,
        "test.u64": 2**40 + 7,
        "test.i64": -(2**40),
        "test.f32": 0.5,
        "test.f64": -1.25,
        "test.flag": True,
        "test.text": "héllo wörld",
        "tokenizer.ggml.tokens": {"array_length": 40},
        "test.scores": {"array_length": 100},
        "test.small": [3, 1, 4],
        "test.words": ["a", "b"],
    }
    for key, value in expected.items():
        assert info.metadata[key] == value, key
    fields = {k: f for k, f in reference.fields.items() if not k.startswith("GGUF.")}
    assert set(info.metadata) == set(fields)
    for key, field in fields.items():
        contents = field.contents()
        if isinstance(contents, list) and len(contents) > 32:
            assert info.metadata[key] == {"array_length": len(contents)}
        else:
            assert info.metadata[key] == contents, key


def test_big_endian_reference_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.gguf"
    writer = gguf.GGUFWriter(path, "llama", endianess=gguf.GGUFEndian.BIG)
    writer.add_context_length(1024)
    writer.add_array("tokenizer.ggml.tokens", TOKENS)
    writer.add_tensor("w", np.zeros((2, 3), dtype=np.float32).byteswap())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    info = read_gguf_header(path)
    assert (info.version, info.tensor_count, info.parameter_count) == (3, 1, 6)
    assert info.context_length == 1024
    assert info.metadata["tokenizer.ggml.tokens"] == {"array_length": 40}


def test_our_file_is_read_by_the_reference_reader(tmp_path: Path) -> None:
    path = write_gguf_file(tmp_path / "m.gguf", size_bytes=5_000, metadata={"test.neg": -2})
    info = read_gguf_header(path)
    reference = gguf.GGUFReader(path)
    fields = {
        key: field.contents() for key, field in reference.fields.items() if key != "GGUF.kv_count"
    }
    assert fields.pop("GGUF.version") == 3
    assert fields.pop("GGUF.tensor_count") == 1
    assert fields == dict(info.metadata)
    (tensor,) = reference.tensors
    assert tensor.name == "demo.weight"
    assert tensor.tensor_type == gguf.GGMLQuantizationType.F32
    assert int(tensor.n_elements) == info.parameter_count
    assert reference.data_offset == info.data_offset
    assert tensor.data_offset + tensor.n_bytes <= path.stat().st_size


# --- broken files ------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["ours", "reference"])
def test_truncation_anywhere_in_the_header_is_a_verification_error(
    tmp_path: Path, reference_file: Path, source: str
) -> None:
    full = (
        write_gguf_file(tmp_path / "m.gguf", size_bytes=1_000)
        if source == "ours"
        else reference_file
    )
    offset = read_gguf_header(full).data_offset
    cut = write(tmp_path / "cut.gguf", full.read_bytes()[:offset])
    assert read_gguf_header(cut).parameter_count == read_gguf_header(full).parameter_count
    for length in reversed(range(offset)):  # shrinking in place is much faster than rewriting
        os.truncate(cut, length)
        with pytest.raises(VerificationError) as info:
            read_gguf_header(cut)
        assert str(cut) in str(info.value), length


def test_html_page_is_not_a_gguf_file(tmp_path: Path) -> None:
    page = write(tmp_path / "m.gguf", b"<!DOCTYPE html>\n<html><body>404 Not Found</body></html>")
    with pytest.raises(VerificationError, match="is not a GGUF model file") as info:
        read_gguf_header(page)
    assert "HTML error page" in str(info.value)
    assert "b'<!DO'" in str(info.value)


@pytest.mark.parametrize("content", [b"", b"GG", b"GGUF", b"GGUF\x03\0"])
def test_empty_or_tiny_files_are_rejected(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(VerificationError):
        read_gguf_header(write(tmp_path / "m.gguf", content))


def test_missing_file_and_directory_are_verification_errors(tmp_path: Path) -> None:
    with pytest.raises(VerificationError, match="cannot read"):
        read_gguf_header(tmp_path / "missing.gguf")
    with pytest.raises(VerificationError, match="cannot read"):
        verify_gguf(tmp_path)


@pytest.mark.parametrize("version", [0, 1, 4, 0xFFFF])
def test_unsupported_versions_are_rejected(tmp_path: Path, version: int) -> None:
    with pytest.raises(VerificationError, match=f"GGUF version {version} is not supported"):
        read_gguf_header(write(tmp_path / "m.gguf", header(version=version)))


def test_version_2_is_accepted(tmp_path: Path) -> None:
    info = read_gguf_header(write(tmp_path / "m.gguf", header(version=2)))
    assert (info.version, info.tensor_count, dict(info.metadata)) == (2, 0, {})


def test_huge_declared_counts_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    for data in (header(tensors=2**63), header(entries=2**64 - 1), header(entries=16 * 2**20 + 1)):
        with pytest.raises(VerificationError, match="more than any real model has"):
            read_gguf_header(write(path, data))


def test_huge_declared_lengths_are_rejected_without_allocating(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    cases = [
        header(entries=1) + struct.pack("<Q", 2**62),  # key length
        header(entries=1) + packed_string("k") + struct.pack("<IQ", 8, 2**40),  # string value
        header(entries=1) + packed_string("k") + struct.pack("<IIQ", 9, 8, 2**40),  # array
        header(entries=1) + packed_string("k") + struct.pack("<IIQ", 9, 10, 2**24),  # seek past
        header(tensors=1) + struct.pack("<Q", 2**50),  # tensor name
    ]
    tracemalloc.start()
    try:
        for data in cases:
            with pytest.raises(VerificationError):
                read_gguf_header(write(path, data))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_truncated_string_and_unknown_types_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    cases = {
        "ends inside a string": header(entries=1) + struct.pack("<Q", 10) + b"abc",
        "unknown metadata value type 13": header(entries=1) + packed_string("k") + b"\x0d\0\0\0",
        "unknown metadata value type 9": header(entries=1)
        + packed_string("k")
        + struct.pack("<IIQ", 9, 9, 1),  # arrays of arrays are not GGUF
        "a tensor with 9 dimensions": header(tensors=1) + packed_string("t") + struct.pack("<I", 9),
    }
    for problem, data in cases.items():
        with pytest.raises(VerificationError, match=problem):
            read_gguf_header(write(path, data))


@pytest.mark.parametrize("alignment", [0, 3, 48])
def test_alignment_must_be_a_power_of_two(tmp_path: Path, alignment: int) -> None:
    data = header(entries=1) + packed_string("general.alignment") + struct.pack("<II", 4, alignment)
    with pytest.raises(VerificationError, match="is not a power of two"):
        read_gguf_header(write(tmp_path / "m.gguf", data))


def test_header_claiming_tensor_data_past_the_end_is_rejected(tmp_path: Path) -> None:
    # One tensor info, no data at all: the aligned data offset lies past the file's end.
    data = header(tensors=1) + packed_string("w") + struct.pack("<IQIQ", 1, 4, 0, 0)
    with pytest.raises(VerificationError, match="the header needs"):
        read_gguf_header(write(tmp_path / "m.gguf", data))


# --- property: nothing but VerificationError or a result ----------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tail=st.binary(max_size=400))
def test_arbitrary_bytes_after_the_magic_never_escape(
    tmp_path_factory: pytest.TempPathFactory, tail: bytes
) -> None:
    path = tmp_path_factory.getbasetemp() / "fuzz-tail.gguf"
    path.unlink(missing_ok=True)  # a new file is cheaper than truncating the old one
    path.write_bytes(b"GGUF" + tail)
    try:
        info = read_gguf_header(path)
    except VerificationError:
        return
    assert isinstance(info, GGUFInfo)
    assert info.version in (2, 3)
    assert info.data_offset >= 24


@settings(max_examples=300, deadline=None)
@given(
    edits=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), min_size=1, max_size=4)
)
def test_corrupted_bytes_in_a_real_header_never_escape(
    tmp_path_factory: pytest.TempPathFactory, edits: list[tuple[int, int]]
) -> None:
    base = tmp_path_factory.getbasetemp()
    original = base / "fuzz-original.gguf"
    if not original.exists():
        write_gguf_file(original, size_bytes=400, metadata={"test.tokens": "x" * 20})
    data = bytearray(original.read_bytes())
    for position, value in edits:
        data[position % 300] = value
    mutated = base / "fuzz-mutated.gguf"
    mutated.unlink(missing_ok=True)
    mutated.write_bytes(bytes(data))
    try:
        info = read_gguf_header(mutated)
    except VerificationError:
        return
    assert isinstance(info, GGUFInfo)
