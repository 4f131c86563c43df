"""The catalog: ModelSpec validation, the default catalog, catalog files and mirrors."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from llmstore.catalog import (
    DEFAULT_CATALOG,
    ModelSpec,
    catalog_from_data,
    check_filename,
    load_catalog,
    resolve_endpoint,
    with_endpoint,
)
from llmstore.errors import CatalogError, LLMStoreError

SHA = "ab" * 32


def spec_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": "tiny",
        "display_name": "Tiny model",
        "url": "https://example.com/models/tiny.gguf",
        "filename": "tiny.gguf",
    }
    data.update(overrides)
    return data


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# --- ModelSpec ---------------------------------------------------------------------------


def test_minimal_spec_has_the_documented_defaults() -> None:
    spec = ModelSpec(**spec_data())
    assert spec.key == "tiny"
    assert spec.filename == "tiny.gguf"
    assert spec.size_bytes is None
    assert spec.sha256 is None
    assert spec.min_size_bytes == 100_000_000


def test_spec_is_frozen_and_rejects_unknown_fields() -> None:
    spec = ModelSpec(**spec_data())
    with pytest.raises(ValidationError):
        spec.key = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="revision"):
        ModelSpec(**spec_data(revision="main"))


@pytest.mark.parametrize("key", ["1B", "a", "llama-3.2_1b", "X" * 128, "0.5B"])
def test_portable_keys_are_accepted(key: str) -> None:
    assert ModelSpec(**spec_data(key=key)).key == key


def test_whitespace_around_values_is_stripped() -> None:
    spec = ModelSpec(**spec_data(key="  1B ", filename=" tiny.gguf\n"))
    assert (spec.key, spec.filename) == ("1B", "tiny.gguf")


@pytest.mark.parametrize(
    "key", ["", "-1B", ".hidden", "_x", "a b", "a/b", "a\\b", "X" * 129, "modèle", "a\0b"]
)
def test_keys_outside_the_portable_alphabet_are_rejected(key: str) -> None:
    with pytest.raises(ValidationError, match="a key is 1 to 128"):
        ModelSpec(**spec_data(key=key))


UNSAFE_FILENAMES = [
    "",
    ".",
    "..",
    "../escape.gguf",
    "sub/model.gguf",
    "/etc/passwd",
    "..\\escape.gguf",
    "C:\\models\\m.gguf",
    "a\0b.gguf",
    ".hidden.gguf",
    "x" * 252 + ".gguf",  # 257 bytes
    "é" * 128,  # 256 bytes in UTF-8, 128 characters
]
TEMP_LIKE_FILENAMES = [
    "model.gguf.part",
    "model.gguf.part.json",
    "model.gguf.lock",
    "model.gguf.part.json.tmp",
]


@pytest.mark.parametrize("filename", UNSAFE_FILENAMES)
def test_unsafe_filenames_are_rejected(filename: str) -> None:
    with pytest.raises(ValueError, match="not a plain file name"):
        check_filename(filename)
    with pytest.raises(ValidationError, match="filename"):
        ModelSpec(**spec_data(filename=filename))


@pytest.mark.parametrize("filename", TEMP_LIKE_FILENAMES)
def test_filenames_the_store_uses_for_its_own_temporary_files_are_rejected(filename: str) -> None:
    with pytest.raises(ValueError, match="temporary file"):
        check_filename(filename)
    with pytest.raises(ValidationError, match="temporary file"):
        ModelSpec(**spec_data(filename=filename))


@pytest.mark.parametrize(
    "filename",
    ["model.gguf", "Llama-3.2-1B.Q4_K_M.gguf", "weights", "a..b.gguf", "é" * 127, "x" * 255],
)
def test_plain_filenames_are_accepted(filename: str) -> None:
    check_filename(filename)
    assert ModelSpec(**spec_data(filename=filename)).filename == filename


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/m.gguf",
        "https://huggingface.co/org/repo/resolve/main/m.gguf?download=true",
    ],
)
def test_http_urls_are_accepted(url: str) -> None:
    assert ModelSpec(**spec_data(url=url)).url == url


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/m.gguf",
        "file:///etc/passwd",
        "example.com/m.gguf",
        "https://",
        "https:///path-only",
        "",
        "http://[::1/m.gguf",  # urlsplit itself raises on this one
    ],
)
def test_urls_without_http_scheme_and_host_are_rejected(url: str) -> None:
    with pytest.raises(ValidationError) as info:
        ModelSpec(**spec_data(url=url))
    assert [error["loc"] for error in info.value.errors()] == [("url",)]


def test_sha256_is_normalised_to_lower_case() -> None:
    spec = ModelSpec(**spec_data(sha256="AB" * 32))
    assert spec.sha256 == SHA
    assert ModelSpec(**spec_data(sha256=None)).sha256 is None


@pytest.mark.parametrize("digest", ["ab" * 31, "ab" * 33, "g" * 64, "", "ab" * 31 + "a-"])
def test_malformed_sha256_is_rejected(digest: str) -> None:
    with pytest.raises(ValidationError, match="sha256 must be 64 hex digits"):
        ModelSpec(**spec_data(sha256=digest))


def test_sizes_must_be_positive() -> None:
    assert ModelSpec(**spec_data(size_bytes=1)).size_bytes == 1
    assert ModelSpec(**spec_data(min_size_bytes=0)).min_size_bytes == 0
    for bad in ({"size_bytes": 0}, {"size_bytes": -5}, {"min_size_bytes": -1}):
        with pytest.raises(ValidationError):
            ModelSpec(**spec_data(**bad))
    with pytest.raises(ValidationError):
        ModelSpec(**spec_data(size_bytes="lots"))


def test_from_huggingface_builds_the_resolve_url() -> None:
    spec = ModelSpec.from_huggingface("k", "K", "org/repo", "file.gguf", size_bytes=10)
    assert spec.url == "https://huggingface.co/org/repo/resolve/main/file.gguf"
    assert (spec.filename, spec.size_bytes) == ("file.gguf", 10)


# --- the default catalog -----------------------------------------------------------------

DESIGN_TABLE = [
    (
        "1B",
        "Llama 3.2 1B",
        "hugging-quants/Llama-3.2-1B-Instruct-Q4_K_M-GGUF",
        "llama-3.2-1b-instruct-q4_k_m.gguf",
        807690656,
        "1d0e9419ec4e12aef73ccf4ffd122703e94c48344a96bc7c5f0f2772c2152ce3",
    ),
    (
        "3B",
        "Llama 3.2 3B",
        "hugging-quants/Llama-3.2-3B-Instruct-Q4_K_M-GGUF",
        "llama-3.2-3b-instruct-q4_k_m.gguf",
        2019373920,
        "c55a83bfb6396799337853ca69918a0b9bbb2917621078c34570bc17d20fd7a1",
    ),
]


def test_default_catalog_is_the_design_table() -> None:
    actual = [
        (s.key, s.display_name, s.url, s.filename, s.size_bytes, s.sha256, s.min_size_bytes)
        for s in DEFAULT_CATALOG
    ]
    expected = [
        (key, name, f"https://huggingface.co/{repo}/resolve/main/{file}", file, size, sha, 10**8)
        for key, name, repo, file, size, sha in DESIGN_TABLE
    ]
    assert actual == expected


def test_default_catalog_round_trips_through_a_catalog_file(tmp_path: Path) -> None:
    path = write_json(tmp_path / "c.json", [s.model_dump() for s in DEFAULT_CATALOG])
    assert load_catalog(path) == list(DEFAULT_CATALOG)


# --- load_catalog ------------------------------------------------------------------------


def test_list_form_is_loaded(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "catalog.json",
        [spec_data(), spec_data(key="big", filename="big.gguf", size_bytes=5, sha256="CD" * 32)],
    )
    specs = load_catalog(path)
    assert [s.key for s in specs] == ["tiny", "big"]
    assert specs[1].sha256 == "cd" * 32
    assert specs[1].size_bytes == 5


def test_models_object_form_is_loaded(tmp_path: Path) -> None:
    path = write_json(tmp_path / "catalog.json", {"models": [spec_data()]})
    assert load_catalog(str(path)) == [ModelSpec(**spec_data())]


def test_empty_catalog_is_valid(tmp_path: Path) -> None:
    assert load_catalog(write_json(tmp_path / "c.json", [])) == []


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.json"
    with pytest.raises(CatalogError, match="cannot read the catalog") as info:
        load_catalog(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, LLMStoreError)


def test_directory_instead_of_file_is_a_catalog_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=str(tmp_path)):
        load_catalog(tmp_path)


def test_invalid_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[{"key": "a",', encoding="utf-8")
    with pytest.raises(CatalogError, match="not valid JSON") as info:
        load_catalog(path)
    assert str(path) in str(info.value)


def test_deeply_nested_json_is_a_catalog_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000, encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    assert str(path) in str(info.value)


def test_non_utf8_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes('[{"display_name": "modèle"}]'.encode("latin-1"))
    with pytest.raises(CatalogError, match="cannot read the catalog") as info:
        load_catalog(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "data", [{"model": []}, {"models": {"a": 1}}, 42, "catalog", None, {"models": None}]
)
def test_wrong_shape_is_reported(tmp_path: Path, data: Any) -> None:
    path = write_json(tmp_path / "shape.json", data)
    with pytest.raises(CatalogError, match="expected a JSON list of models") as info:
        load_catalog(path)
    assert str(path) in str(info.value)


def test_each_bad_entry_is_named_by_its_path(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "c.json",
        [
            spec_data(),
            spec_data(key="two", filename="../two.gguf"),
            "not an object",
            spec_data(key="four", filename="four.gguf", size_bytes=-1, url="ftp://x/y"),
            {"key": "five"},
        ],
    )
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    message = str(info.value)
    assert str(path) in message
    assert "models[1].filename:" in message
    assert "models[2]:" in message
    assert "models[3].size_bytes:" in message
    assert "models[3].url:" in message
    for field in ("display_name", "url", "filename"):
        assert f"models[4].{field}:" in message
    assert "models[0]" not in message


@pytest.mark.parametrize(
    ("second", "place"),
    [
        ({"filename": "other.gguf"}, "models[1].key"),
        ({"key": "other"}, "models[1].filename"),
    ],
)
def test_duplicates_are_named_by_entry_path(
    tmp_path: Path, second: dict[str, str], place: str
) -> None:
    path = write_json(tmp_path / "dup.json", {"models": [spec_data(), spec_data(**second)]})
    with pytest.raises(CatalogError, match="appears more than once") as info:
        load_catalog(path)
    message = str(info.value)
    assert str(path) in message
    assert place in message


def test_duplicate_after_an_invalid_entry_keeps_its_own_index() -> None:
    data = [spec_data(), spec_data(key="bad key"), spec_data(key="x")]
    with pytest.raises(CatalogError) as info:
        catalog_from_data(data, source="inline")
    message = str(info.value)
    assert message.startswith("inline is not a valid catalog")
    assert "models[1].key:" in message
    assert "models[2].filename" in message


def test_hub_names_are_keys_too() -> None:
    for key in ("owner/Repo-GGUF:Q4_K_M", "owner/Repo-GGUF/sub/model-Q8_0.gguf"):
        assert ModelSpec(**spec_data(key=key)).key == key
    for key in ("owner/repo", "owner/repo:", "owner/../x.gguf", "o/r/../x", "o/r:Q4 x"):
        with pytest.raises(ValidationError, match="OWNER/REPO:QUANT"):
            ModelSpec(**spec_data(key=key))


def test_parts_of_a_split_model_are_files_checked_like_the_first() -> None:
    part = {
        "url": "https://example.com/tiny-00002-of-00002.gguf",
        "filename": "tiny-00002-of-00002.gguf",
        "size_bytes": 7,
        "sha256": "CD" * 32,
    }
    spec = ModelSpec(**spec_data(size_bytes=5, parts=[part]))
    assert [f.filename for f in spec.files] == ["tiny.gguf", "tiny-00002-of-00002.gguf"]
    assert spec.parts[0].sha256 == "cd" * 32 and spec.total_size == 12
    assert ModelSpec(**spec_data(parts=[part])).total_size is None  # the first's size unknown
    for bad, problem in (({"filename": "../x.gguf"}, "not a plain file name"),
                         ({"url": "ftp://x/y"}, "http:// or https://"),
                         ({"sha256": "nope"}, "64 hex digits")):  # fmt: skip
        with pytest.raises(ValidationError, match=re.escape(problem)):
            ModelSpec(**spec_data(parts=[{**part, **bad}]))


def test_a_part_file_name_may_not_repeat_another_models() -> None:
    part = {"url": "https://example.com/a", "filename": "big.gguf"}
    data = [spec_data(parts=[part]), spec_data(key="big", filename="big.gguf")]
    with pytest.raises(CatalogError, match=r"models\[1\]\.filename: 'big\.gguf' appears more"):
        catalog_from_data(data)


def test_with_endpoint_moves_the_parts_too() -> None:
    part = {"url": "https://huggingface.co/o/r/resolve/main/t-2.gguf", "filename": "t-2.gguf"}
    (moved,) = with_endpoint([ModelSpec(**spec_data(parts=[part]))], "http://127.0.0.1:9")
    assert moved.parts[0].url == "http://127.0.0.1:9/o/r/resolve/main/t-2.gguf"


# --- endpoints ---------------------------------------------------------------------------


def test_endpoint_argument_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSTORE_ENDPOINT", "https://env-mirror.example")
    assert resolve_endpoint("https://arg-mirror.example") == "https://arg-mirror.example"
    assert resolve_endpoint(None) == "https://env-mirror.example"


def test_no_endpoint_anywhere_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMSTORE_ENDPOINT", raising=False)
    assert resolve_endpoint(None) is None
    monkeypatch.setenv("LLMSTORE_ENDPOINT", "")
    assert resolve_endpoint(None) is None


@pytest.mark.parametrize(
    "value",
    [
        "hf-mirror.com",
        "ftp://mirror.example",
        "https://mirror.example/?token=1",
        "https://mirror.example/#top",
        "https://",
        "http://[::1",
    ],
)
def test_invalid_endpoints_are_catalog_errors(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    with pytest.raises(CatalogError, match="endpoint must be an http") as info:
        resolve_endpoint(value)
    assert repr(value) in str(info.value)
    monkeypatch.setenv("LLMSTORE_ENDPOINT", value)
    with pytest.raises(CatalogError, match=r"\$LLMSTORE_ENDPOINT must be"):
        resolve_endpoint(None)


def test_with_endpoint_rewrites_scheme_and_host_only() -> None:
    (spec,) = with_endpoint(DEFAULT_CATALOG[:1], "http://127.0.0.1:9000")
    original = DEFAULT_CATALOG[0]
    assert spec.url == (
        "http://127.0.0.1:9000/hugging-quants/Llama-3.2-1B-Instruct-Q4_K_M-GGUF"
        "/resolve/main/llama-3.2-1b-instruct-q4_k_m.gguf"
    )
    assert spec.model_dump(exclude={"url"}) == original.model_dump(exclude={"url"})
    assert original.url.startswith("https://huggingface.co/")  # the input is untouched


@pytest.mark.parametrize("endpoint", ["https://mirror.example/hf", "https://mirror.example/hf/"])
def test_with_endpoint_keeps_its_path_prefix(endpoint: str) -> None:
    spec = ModelSpec(**spec_data(url="https://huggingface.co/a/b.gguf?download=1#frag"))
    (moved,) = with_endpoint([spec], endpoint)
    assert moved.url == "https://mirror.example/hf/a/b.gguf?download=1"


def test_with_endpoint_on_every_default_model_keeps_keys_and_files() -> None:
    moved = with_endpoint(DEFAULT_CATALOG, "https://hf-mirror.com")
    assert [s.key for s in moved] == ["1B", "3B"]
    assert all(s.url.startswith("https://hf-mirror.com/hugging-quants/") for s in moved)


# --- property: any file content gives a catalog or a CatalogError --------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["key", "display_name", "url", "filename", "size_bytes", "models", "x"]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)
catalog_bytes = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda value: json.dumps(value).encode("utf-8")),
    st.lists(
        st.fixed_dictionaries(
            {
                "key": st.sampled_from(["a", "b", "", "-x"]),
                "display_name": st.text(max_size=5),
                "url": st.sampled_from(["https://h/a", "ftp://h/a", "http://[::1"]),
                "filename": st.sampled_from(["a.gguf", "b.gguf", "../a", ".x", "a.part"]),
            }
        ),
        max_size=3,
    ).map(lambda value: json.dumps(value).encode("utf-8")),
)


@settings(max_examples=200, deadline=None)
@given(content=catalog_bytes)
def test_any_file_content_loads_or_raises_catalog_error(
    tmp_path_factory: pytest.TempPathFactory, content: bytes
) -> None:
    path = tmp_path_factory.getbasetemp() / "fuzz-catalog.json"
    path.unlink(missing_ok=True)  # a new file is cheaper than truncating the old one
    path.write_bytes(content)
    try:
        specs = load_catalog(path)
    except CatalogError as error:
        assert str(path) in str(error)
    else:
        assert all(isinstance(spec, ModelSpec) for spec in specs)
        assert len({s.key for s in specs}) == len(specs)
        assert len({s.filename for s in specs}) == len(specs)
