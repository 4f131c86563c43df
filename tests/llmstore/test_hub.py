"""Hub names: parsing every form, choosing the repo's file or split parts, safe file names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmstore._files import model_path
from llmstore._hub import (
    HubName,
    RepoFile,
    choose_files,
    hub_endpoint,
    hub_offline,
    known_key,
    local_filename,
    make_spec,
    parse_hub_name,
)
from llmstore.catalog import ModelSpec, check_filename
from llmstore.errors import HubError, HubNameError, UnknownModelError

REPO = "bartowski/Llama-3.2-1B-Instruct-GGUF"
SHA = "ab" * 32

names = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9_-]{0,20}[A-Za-z0-9])?", fullmatch=True).filter(
    lambda name: "--" not in name
)
quants = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_]{0,10}", fullmatch=True)
prefixes = st.sampled_from(
    ["", "hf.co/", "HF.CO/", "huggingface.co/", "https://huggingface.co/", "https://hf.co/"]
)


def files(*paths: str, size: int = 1000) -> list[RepoFile]:
    return [RepoFile(path, size, SHA) for path in paths]


# --- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        (f"hf.co/{REPO}:Q4_K_M", HubName(REPO, quant="Q4_K_M")),
        (f"{REPO}:q4_k_m", HubName(REPO, quant="q4_k_m")),
        (f"huggingface.co/{REPO}:IQ2_XXS", HubName(REPO, quant="IQ2_XXS")),
        (f"https://huggingface.co/{REPO}:Q8_0", HubName(REPO, quant="Q8_0")),
        (f"{REPO}/Llama-3.2-1B-Instruct-Q4_K_M.gguf",
         HubName(REPO, path="Llama-3.2-1B-Instruct-Q4_K_M.gguf")),
        (f"hf.co/{REPO}/Q8_0/model-00001-of-00002.gguf",
         HubName(REPO, path="Q8_0/model-00001-of-00002.gguf")),
        (f"  hf.co/{REPO}  ", HubName(REPO)),
    ],
)  # fmt: skip
def test_every_name_form_parses(name: str, parsed: HubName) -> None:
    assert parse_hub_name(name) == parsed


def test_keys_are_the_normalised_name() -> None:
    assert HubName(REPO, quant="q4_k_m").key == f"{REPO}:Q4_K_M"
    assert HubName(REPO, path="a/b.gguf").key == f"{REPO}/a/b.gguf"


@pytest.mark.parametrize("name", ["1B", "tiny-model", "hf.co", ""])
def test_a_name_without_a_slash_is_a_plain_key(name: str) -> None:
    assert parse_hub_name(name) is None


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("owner/", "bad repo"),
        ("/repo:Q4", "bad owner"),
        ("own er/repo:Q4", "bad owner"),
        ("owner/re..po:Q4", "bad repo"),
        ("owner/re--po:Q4", "bad repo"),
        ("owner/repo-:Q4", "bad repo"),
        ("owner./repo:Q4", "bad owner"),
        ("owner/repo:", "bad quantization"),
        ("owner/repo:Q4/file.gguf", "bad quantization"),
        ("owner/repo:Q 4", "bad quantization"),
        ("owner/repo/model.bin", "does not name a .gguf file"),
        ("owner/repo/../x.gguf", "does not name a .gguf file"),
        ("owner/repo/.hidden.gguf", "does not name a .gguf file"),
        ("owner/repo/a\\b.gguf", "does not name a .gguf file"),
        ("owner/repo//x.gguf", "does not name a .gguf file"),
    ],
)
def test_malformed_names_are_refused_clearly(name: str, problem: str) -> None:
    with pytest.raises(HubNameError, match=re.escape(problem)) as caught:
        parse_hub_name(name)
    assert isinstance(caught.value, UnknownModelError)
    assert "OWNER/REPO:QUANT" in str(caught.value)


@given(prefixes, names, names, quants)
def test_any_prefixed_quant_name_gives_the_same_key(
    prefix: str, owner: str, repo: str, quant: str
) -> None:
    parsed = parse_hub_name(f"{prefix}{owner}/{repo}:{quant}")
    assert parsed is not None
    assert parsed.key == f"{owner}/{repo}:{quant.upper()}"
    assert ModelSpec(key=parsed.key, display_name="x", url="https://h/x", filename="x").key


def test_known_key_matches_any_spelling_of_a_known_name() -> None:
    keys = ["1B", f"{REPO}:Q4_K_M", f"{REPO}/sub/file.gguf"]
    assert known_key(keys, "1B") == "1B"
    assert known_key(keys, f"hf.co/{REPO.lower()}:q4_k_m") == f"{REPO}:Q4_K_M"
    assert known_key(keys, f"huggingface.co/{REPO}/sub/file.gguf") == f"{REPO}/sub/file.gguf"
    assert known_key(keys, f"{REPO}:Q8_0") is None
    assert known_key(keys, "owner/repo:") is None  # malformed: not known, no error


def test_endpoint_comes_from_the_store_then_hf_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    assert hub_endpoint(None) == "https://huggingface.co"
    monkeypatch.setenv("HF_ENDPOINT", "http://mirror.example/hf/")
    assert hub_endpoint(None) == "http://mirror.example/hf"
    assert hub_endpoint("https://other.example") == "https://other.example"
    monkeypatch.setenv("HF_ENDPOINT", "mirror.example")
    with pytest.raises(HubError, match=r"\$HF_ENDPOINT"):
        hub_endpoint(None)


@pytest.mark.parametrize(
    ("value", "offline"),
    [("1", True), ("true", True), ("ON", True), ("yes", True), ("0", False), ("", False)],
)
def test_offline_mode_reads_hf_hub_offline_on_each_call(
    monkeypatch: pytest.MonkeyPatch, value: str, offline: bool
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", value)
    assert hub_offline() is offline


# --- choosing files ------------------------------------------------------------------------

BARTOWSKI = files(
    "README.md",
    "Llama-3.2-1B-Instruct-IQ4_XS.gguf",
    "Llama-3.2-1B-Instruct-Q4_K.gguf",
    "Llama-3.2-1B-Instruct-Q4_K_M.gguf",
    "Llama-3.2-1B-Instruct-Q4_K_S.gguf",
    "Llama-3.2-1B-Instruct-f16.gguf",
    "mmproj-Llama-3.2-1B-f16.gguf",
)


@pytest.mark.parametrize(
    ("quant", "chosen"),
    [
        ("Q4_K_M", "Llama-3.2-1B-Instruct-Q4_K_M.gguf"),
        ("q4_k_m", "Llama-3.2-1B-Instruct-Q4_K_M.gguf"),
        ("Q4_K", "Llama-3.2-1B-Instruct-Q4_K.gguf"),  # not Q4_K_M nor Q4_K_S
        ("IQ4_XS", "Llama-3.2-1B-Instruct-IQ4_XS.gguf"),
        ("F16", "Llama-3.2-1B-Instruct-f16.gguf"),  # the projector is not a model
    ],
)
def test_the_quant_matches_the_file_name_case_insensitively_as_a_whole_word(
    quant: str, chosen: str
) -> None:
    assert [f.path for f in choose_files(HubName(REPO, quant=quant), REPO, BARTOWSKI)] == [chosen]


def test_a_quant_matching_no_file_lists_the_repos_gguf_files() -> None:
    with pytest.raises(HubNameError) as caught:
        choose_files(HubName(REPO, quant="Q5_K_M"), REPO, BARTOWSKI)
    message = str(caught.value)
    assert message.startswith(f"{REPO} has no GGUF file with Q5_K_M in its name; its GGUF files:")
    for file in BARTOWSKI[1:]:
        assert file.path in message
    assert "README.md" not in message


def test_a_quant_matching_several_files_says_which_and_how_to_choose() -> None:
    repo = files("a/model-Q4_0.gguf", "b/model-Q4_0.gguf", "model-Q8_0.gguf")
    with pytest.raises(HubNameError) as caught:
        choose_files(HubName("o/r", quant="Q4_0"), "o/r", repo)
    message = str(caught.value)
    assert "matches several GGUF models in o/r (a/model-Q4_0.gguf, b/model-Q4_0.gguf)" in message
    assert "o/r/FILE.gguf" in message and "model-Q8_0.gguf" in message
    chosen = choose_files(HubName("o/r", path="b/model-Q4_0.gguf"), "o/r", repo)
    assert [f.path for f in chosen] == ["b/model-Q4_0.gguf"]


def test_no_quant_takes_the_only_model_or_asks_for_one() -> None:
    single = files("README.md", "model-Q4_0.gguf", "mmproj-model-f16.gguf")
    assert [f.path for f in choose_files(HubName("o/r"), "o/r", single)] == ["model-Q4_0.gguf"]
    with pytest.raises(HubNameError, match="several GGUF models: say which with :QUANT"):
        choose_files(HubName("o/r"), "o/r", BARTOWSKI)
    with pytest.raises(HubNameError, match="o/r has no GGUF file; it has no GGUF files"):
        choose_files(HubName("o/r"), "o/r", files("README.md", "model.safetensors"))


def test_a_file_is_matched_exactly_then_case_insensitively() -> None:
    chosen = choose_files(HubName(REPO, path="llama-3.2-1b-instruct-q4_k_m.gguf"), REPO, BARTOWSKI)
    assert [f.path for f in chosen] == ["Llama-3.2-1B-Instruct-Q4_K_M.gguf"]
    with pytest.raises(HubNameError, match=r"has no file nope\.gguf"):
        choose_files(HubName(REPO, path="nope.gguf"), REPO, BARTOWSKI)


SPLIT = files(
    "Q8_0/big-Q8_0-00002-of-00003.gguf",
    "Q8_0/big-Q8_0-00001-of-00003.gguf",
    "Q8_0/big-Q8_0-00003-of-00003.gguf",
    "big-Q4_K_M.gguf",
)


def test_split_parts_are_one_model_in_part_order() -> None:
    expected = [f"Q8_0/big-Q8_0-0000{i}-of-00003.gguf" for i in (1, 2, 3)]
    assert [f.path for f in choose_files(HubName("o/r", quant="Q8_0"), "o/r", SPLIT)] == expected
    # Naming any part names the whole model.
    by_part = choose_files(HubName("o/r", path=expected[1]), "o/r", SPLIT)
    assert [f.path for f in by_part] == expected
    with pytest.raises(HubNameError, match=r"Q8_0/big-Q8_0-00001-of-00003.gguf \(\+2 more parts\)"):
        choose_files(HubName("o/r", quant="Q2_K"), "o/r", SPLIT)


def test_a_split_model_missing_a_part_is_refused() -> None:
    with pytest.raises(HubNameError, match=r"lists 2 of the 3 parts .*incomplete"):
        choose_files(HubName("o/r", quant="Q8_0"), "o/r", [SPLIT[0], SPLIT[2]])


def test_the_spec_of_a_split_model_has_every_part_pinned_to_the_commit() -> None:
    parts = choose_files(HubName("o/r", quant="Q8_0"), "o/r", SPLIT)
    spec = make_spec("o/r:Q8_0", "o/r", "c0ffee", parts, endpoint="http://hub.test")
    assert spec.display_name == "big-Q8_0"
    assert [f.url for f in spec.files] == [
        f"http://hub.test/o/r/resolve/c0ffee/Q8_0/big-Q8_0-0000{i}-of-00003.gguf" for i in (1, 2, 3)
    ]
    assert spec.filename == "o--r--Q8_0--big-Q8_0-00001-of-00003.gguf"
    assert spec.total_size == 3000 and spec.sha256 == SHA


def test_a_file_without_a_size_is_refused() -> None:
    with pytest.raises(HubError, match=r"did not give the size of m\.gguf"):
        make_spec("o/r/m.gguf", "o/r", "main", [RepoFile("m.gguf", None, None)], endpoint="h")


# --- file names ----------------------------------------------------------------------------

path_parts = st.from_regex(r"[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,40}", fullmatch=True)


@given(names, names, st.lists(path_parts, min_size=1, max_size=6))
def test_local_file_names_are_plain_names_inside_the_models_dir(
    owner: str, repo: str, parts: list[str]
) -> None:
    name = local_filename(f"{owner}/{repo}", "/".join(parts) + ".gguf")
    check_filename(name)
    assert model_path(Path("/models"), name).parent == Path("/models")


def test_distinct_repo_files_get_distinct_local_names() -> None:
    assert local_filename("o/r", "a/m.gguf") != local_filename("o/r", "b/m.gguf")
    assert local_filename("o/r", "m.gguf") != local_filename("p/r", "m.gguf")
    long = local_filename("o" * 90 + "/" + "r" * 90, "d" * 80 + "/m.gguf")
    assert len(long.encode()) <= 255 and long.endswith("--m.gguf")


@pytest.mark.parametrize("path", ["../m.gguf", "a/../../m.gguf", ".m.gguf", "a\\b.gguf", "/m.gguf"])
def test_unsafe_repo_paths_are_never_offered_nor_stored(path: str) -> None:
    with pytest.raises(HubNameError, match="refusing the file name"):
        local_filename("o/r", path)
    with pytest.raises(HubNameError, match="has no GGUF file"):
        choose_files(HubName("o/r"), "o/r", files(path))
