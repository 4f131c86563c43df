"""The models dir: where it is, creating it, deleting inside it, and scanning it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from llmstore import _lock
from llmstore._files import (
    ensure_models_dir,
    model_path,
    remove_file_in_dir,
    resolve_models_dir,
    scan_models_dir,
)
from llmstore._gguf import write_gguf_file
from llmstore._lock import _release, _try_lock, lock_path
from llmstore._partial import PartialState, partial_paths, write_sidecar
from llmstore.catalog import ModelFile, ModelSpec
from llmstore.errors import LLMStoreError, UnsafePathError

SIZE = 4096
HOLD_LOCK_SCRIPT = """
import importlib.util
import sys
from pathlib import Path
# Load _lock.py alone: importing the llmstore package would make every child slow to start.
spec = importlib.util.spec_from_file_location("llmstore_lock", sys.argv[2])
lock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lock)
fd = lock._try_lock(Path(sys.argv[1]))
print("held" if fd is not None else "busy", flush=True)
sys.stdin.readline()
"""


def spec(key: str, filename: str, *, size: int | None = SIZE, min_size: int = 0) -> ModelSpec:
    return ModelSpec(
        key=key,
        display_name=key.upper(),
        url=f"https://models.example/{filename}",
        filename=filename,
        size_bytes=size,
        min_size_bytes=min_size,
    )


def gguf(path: Path, size: int = SIZE) -> Path:
    return write_gguf_file(path, size_bytes=size)


def names(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


@pytest.fixture
def held_by_other_process() -> Iterator[Callable[[Path], None]]:
    """A function that makes a subprocess hold a lock file until the test ends."""
    children: list[subprocess.Popen[str]] = []

    def hold(path: Path) -> None:
        child = subprocess.Popen(
            [sys.executable, "-S", "-c", HOLD_LOCK_SCRIPT, str(path), _lock.__file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        children.append(child)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "held"

    yield hold
    for child in children:
        child.communicate("release\n", timeout=10)


# --- resolve_models_dir ------------------------------------------------------------------


def test_argument_wins_and_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMSTORE_MODELS_DIR", str(tmp_path / "from-env"))
    monkeypatch.chdir(tmp_path)
    assert resolve_models_dir("relative/models") == tmp_path / "relative" / "models"
    assert resolve_models_dir(tmp_path / "given") == tmp_path / "given"


def test_argument_with_tilde_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_models_dir("~/models") == tmp_path / "models"


def test_environment_variable_is_used_without_argument(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMSTORE_MODELS_DIR", str(tmp_path / "from-env"))
    assert resolve_models_dir(None) == tmp_path / "from-env"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG cache dir is Linux")
@pytest.mark.parametrize("variable", [None, ""])
def test_default_is_the_platformdirs_user_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str | None
) -> None:
    if variable is None:
        monkeypatch.delenv("LLMSTORE_MODELS_DIR", raising=False)
    else:
        monkeypatch.setenv("LLMSTORE_MODELS_DIR", variable)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert resolve_models_dir() == tmp_path / "cache" / "llmstore" / "models"


# --- ensure_models_dir -------------------------------------------------------------------


def test_missing_dir_is_created_with_its_parents(tmp_path: Path) -> None:
    models_dir = tmp_path / "a" / "b" / "models"
    ensure_models_dir(models_dir)
    assert models_dir.is_dir()
    ensure_models_dir(models_dir)  # idempotent
    assert models_dir.is_dir()


def test_file_in_the_way_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "models"
    blocker.write_text("not a dir")
    with pytest.raises(LLMStoreError, match="exists but is not a directory") as info:
        ensure_models_dir(blocker)
    assert str(blocker) in str(info.value)
    assert blocker.read_text() == "not a dir"


def test_file_in_the_way_of_a_parent_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(LLMStoreError, match="cannot create the models dir"):
        ensure_models_dir(tmp_path / "file" / "models")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_unwritable_dir_is_a_clear_error(tmp_path: Path) -> None:
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    models_dir.chmod(0o500)
    try:
        with pytest.raises(LLMStoreError, match="is not writable"):
            ensure_models_dir(models_dir)
    finally:
        models_dir.chmod(0o700)


# --- model_path --------------------------------------------------------------------------


def test_model_path_joins_a_plain_name(models_dir: Path) -> None:
    assert model_path(models_dir, "m.gguf") == models_dir / "m.gguf"


@pytest.mark.parametrize(
    "filename", ["", ".", "..", "../m.gguf", "a/b.gguf", "a\\b", "/abs.gguf", ".hidden", "m\0"]
)
def test_model_path_refuses_names_that_leave_the_dir(models_dir: Path, filename: str) -> None:
    with pytest.raises(UnsafePathError, match="refusing the file name") as info:
        model_path(models_dir, filename)
    assert repr(filename) in str(info.value)
    assert isinstance(info.value, ValueError)


# --- remove_file_in_dir ------------------------------------------------------------------


def test_removes_a_file_inside_and_reports_missing_ones(models_dir: Path) -> None:
    target = models_dir / "m.gguf"
    target.write_bytes(b"x")
    assert remove_file_in_dir(models_dir, target) is True
    assert names(models_dir) == []
    assert remove_file_in_dir(models_dir, target) is False


@pytest.mark.parametrize(
    "relative",
    [
        "../outside.txt",
        "sub/../../outside.txt",
        "../models-sibling/file",
    ],
)
def test_refuses_paths_that_resolve_outside(
    tmp_path: Path, models_dir: Path, relative: str
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    sibling = tmp_path / "models-sibling"
    sibling.mkdir()
    (sibling / "file").write_text("keep me too")
    with pytest.raises(UnsafePathError, match="not a file directly inside"):
        remove_file_in_dir(models_dir, models_dir / relative)
    assert outside.read_text() == "keep me"
    assert (sibling / "file").read_text() == "keep me too"


def test_refuses_absolute_outside_and_nested_paths(tmp_path: Path, models_dir: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    nested = models_dir / "sub" / "m.gguf"
    nested.parent.mkdir()
    nested.write_text("nested")
    for path in (outside, nested, models_dir / "sub" / "..", models_dir, Path("relative.gguf")):
        with pytest.raises(UnsafePathError):
            remove_file_in_dir(models_dir, path)
    assert outside.read_text() == "keep me"
    assert nested.read_text() == "nested"


def test_dotdot_that_stays_inside_is_allowed(models_dir: Path) -> None:
    (models_dir / "sub").mkdir()
    (models_dir / "m.gguf").write_text("x")
    assert remove_file_in_dir(models_dir, models_dir / "sub" / ".." / "m.gguf") is True
    assert names(models_dir) == ["sub"]


def test_symlink_is_removed_and_its_target_survives(tmp_path: Path, models_dir: Path) -> None:
    target = tmp_path / "precious.bin"
    target.write_text("precious")
    link = models_dir / "m.gguf"
    link.symlink_to(target)
    dangling = models_dir / "dangling.gguf"
    dangling.symlink_to(tmp_path / "nothing-here")
    assert remove_file_in_dir(models_dir, link) is True
    assert remove_file_in_dir(models_dir, dangling) is True
    assert names(models_dir) == []
    assert target.read_text() == "precious"


def test_symlink_to_a_dir_outside_is_not_deleted_through(tmp_path: Path, models_dir: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "m.gguf").write_text("keep")
    (models_dir / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePathError):
        remove_file_in_dir(models_dir, models_dir / "link" / "m.gguf")
    assert (outside / "m.gguf").read_text() == "keep"
    assert remove_file_in_dir(models_dir, models_dir / "link") is True  # the link itself
    assert (outside / "m.gguf").exists()


def test_models_dir_given_through_a_symlink_still_works(tmp_path: Path, models_dir: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(models_dir, target_is_directory=True)
    (models_dir / "m.gguf").write_text("x")
    assert remove_file_in_dir(alias, models_dir / "m.gguf") is True
    assert names(models_dir) == []


def test_directories_are_refused(models_dir: Path) -> None:
    (models_dir / "m.gguf").mkdir()
    (models_dir / "m.gguf" / "inner").write_text("x")
    with pytest.raises(UnsafePathError, match="is a directory"):
        remove_file_in_dir(models_dir, models_dir / "m.gguf")
    assert (models_dir / "m.gguf" / "inner").read_text() == "x"


# --- scan_models_dir: complete and extra files -------------------------------------------


def test_complete_catalog_files_are_found(models_dir: Path) -> None:
    gguf(models_dir / "a.gguf")
    (models_dir / "b.bin").write_bytes(b"\0" * 100)  # non-GGUF names skip the magic check
    specs = [spec("a", "a.gguf"), spec("b", "b.bin", size=100), spec("c", "c.gguf")]
    result = scan_models_dir(models_dir, specs)
    assert result.complete == {"a": models_dir / "a.gguf", "b": models_dir / "b.bin"}
    assert (result.extra, result.partial, result.stale, result.warnings) == ({}, {}, [], [])


def test_a_split_model_is_complete_only_with_every_part(models_dir: Path) -> None:
    names_ = [f"big-0000{i}-of-00003.gguf" for i in (1, 2, 3)]
    parts = tuple(
        ModelFile(url=f"https://models.example/{name}", filename=name, size_bytes=SIZE)
        for name in names_[1:]
    )
    split = spec("big", names_[0]).model_copy(update={"parts": parts})
    for name in names_[:2]:
        gguf(models_dir / name)
    result = scan_models_dir(models_dir, [split])
    # Not complete, and its parts are not taken for local models of their own.
    assert (result.complete, result.extra, result.warnings) == ({}, {}, [])
    gguf(models_dir / names_[2])
    result = scan_models_dir(models_dir, [split])
    assert (result.complete, result.extra) == ({"big": models_dir / names_[0]}, {})
    (models_dir / names_[1]).write_bytes(b"x" * SIZE)  # a part that is not GGUF
    result = scan_models_dir(models_dir, [split])
    assert result.complete == {}
    assert result.warnings == [f"ignored {names_[1]}: not a GGUF file (bad magic)"]


def test_catalog_file_without_known_size_needs_min_size(models_dir: Path) -> None:
    gguf(models_dir / "a.gguf")
    gguf(models_dir / "b.gguf")
    specs = [spec("a", "a.gguf", size=None, min_size=SIZE), spec("b", "b.gguf", min_size=SIZE + 1)]
    result = scan_models_dir(models_dir, specs)
    assert result.complete == {"a": models_dir / "a.gguf"}
    assert result.warnings == [f"ignored b.gguf: only {SIZE} bytes, less than {SIZE + 1}"]


def test_wrong_size_file_is_ignored_with_a_warning(models_dir: Path) -> None:
    gguf(models_dir / "a.gguf", size=SIZE - 1)
    result = scan_models_dir(models_dir, [spec("a", "a.gguf")])
    assert result.complete == {}
    assert result.extra == {}
    assert result.warnings == [f"ignored a.gguf: {SIZE - 1} bytes, but the catalog says {SIZE}"]
    assert names(models_dir) == ["a.gguf"]  # reported, never deleted


def test_non_gguf_content_under_gguf_names_is_ignored_with_a_warning(models_dir: Path) -> None:
    page = b"<!DOCTYPE html><html>rate limited</html>"
    (models_dir / "a.gguf").write_bytes(page.ljust(SIZE, b" "))
    (models_dir / "dropped.gguf").write_bytes(page)
    result = scan_models_dir(models_dir, [spec("a", "a.gguf")])
    assert (result.complete, result.extra) == ({}, {})
    assert sorted(result.warnings) == [
        "ignored a.gguf: not a GGUF file (bad magic)",
        "ignored dropped.gguf: not a GGUF file (bad magic)",
    ]


def test_extra_gguf_files_are_keyed_by_stem(models_dir: Path) -> None:
    gguf(models_dir / "my-finetune.Q8_0.gguf", size=1000)
    (models_dir / "notes.txt").write_text("not a model")
    (models_dir / ".hidden.gguf").write_text("dotfiles are skipped")
    (models_dir / "subdir").mkdir()
    result = scan_models_dir(models_dir, [spec("a", "a.gguf")])
    assert result.extra == {"my-finetune.Q8_0": models_dir / "my-finetune.Q8_0.gguf"}
    assert (result.complete, result.warnings) == ({}, [])


def test_extra_file_whose_stem_is_a_catalog_key_is_ignored(models_dir: Path) -> None:
    gguf(models_dir / "1B.gguf")
    gguf(models_dir / "llama-1b.gguf")
    result = scan_models_dir(models_dir, [spec("1B", "llama-1b.gguf")])
    assert result.complete == {"1B": models_dir / "llama-1b.gguf"}
    assert result.extra == {}
    assert result.warnings == ["ignored 1B.gguf: its name clashes with the model '1B'"]


def test_directory_with_a_model_name_is_not_a_model(models_dir: Path) -> None:
    (models_dir / "a.gguf").mkdir()
    (models_dir / "b.gguf").mkdir()
    result = scan_models_dir(models_dir, [spec("a", "a.gguf")])
    assert (result.complete, result.extra) == ({}, {})
    assert sorted(result.warnings) == [
        "ignored a.gguf: not a regular file",
        "ignored b.gguf: not a regular file",
    ]


def test_symlinked_gguf_pointing_outside_is_never_a_model(tmp_path: Path, models_dir: Path) -> None:
    real = gguf(tmp_path / "elsewhere.gguf")
    (models_dir / "a.gguf").symlink_to(real)
    (models_dir / "planted.gguf").symlink_to(real)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # reading this would block the scan forever
    (models_dir / "blocker.gguf").symlink_to(fifo)
    result = scan_models_dir(models_dir, [spec("a", "a.gguf")])
    assert (result.complete, result.extra, result.stale) == ({}, {}, [])
    assert sorted(result.warnings) == [
        "ignored a.gguf: not a regular file",
        "ignored blocker.gguf: not a regular file",
        "ignored planted.gguf: not a regular file",
    ]
    assert real.stat().st_size == SIZE


def test_missing_models_dir_is_an_llmstore_error(tmp_path: Path) -> None:
    with pytest.raises(LLMStoreError, match="cannot read the models dir"):
        scan_models_dir(tmp_path / "missing", [])


# --- scan_models_dir: interrupted downloads ----------------------------------------------


def leftover(
    models_dir: Path,
    model: ModelSpec,
    *,
    part_size: int = 100,
    state: PartialState | None = None,
    sidecar: bool = True,
) -> tuple[Path, Path]:
    part, side = partial_paths(models_dir / model.filename)
    part.write_bytes(b"\1" * part_size)
    if sidecar:
        write_sidecar(side, state or PartialState(url=model.url, etag='"v1"', total=SIZE))
    return part, side


def test_part_with_matching_sidecar_is_resumable(models_dir: Path) -> None:
    model = spec("a", "a.gguf")
    part, _ = leftover(models_dir, model)
    result = scan_models_dir(models_dir, [model])
    assert result.partial == {"a": part}
    assert (result.stale, result.complete, result.warnings) == ([], {}, [])
    assert names(models_dir) == ["a.gguf.part", "a.gguf.part.json"]


def test_part_of_full_length_is_still_resumable(models_dir: Path) -> None:
    model = spec("a", "a.gguf")
    part, _ = leftover(models_dir, model, part_size=SIZE, state=PartialState(url=model.url))
    assert scan_models_dir(models_dir, [model]).partial == {"a": part}


def test_part_for_a_spec_without_size_is_resumable(models_dir: Path) -> None:
    model = spec("a", "a.gguf", size=None)
    part, _ = leftover(models_dir, model, state=PartialState(url=model.url, total=500))
    assert scan_models_dir(models_dir, [model]).partial == {"a": part}


@pytest.mark.parametrize(
    ("case", "size", "state"),
    [
        ("other url", None, PartialState(url="https://models.example/other.gguf")),
        ("too long", SIZE + 1, None),
        ("other total", None, PartialState(url="https://models.example/a.gguf", total=SIZE + 5)),
    ],
)
def test_mismatched_part_is_stale(
    models_dir: Path, case: str, size: int | None, state: PartialState | None
) -> None:
    model = spec("a", "a.gguf")
    part, side = leftover(models_dir, model, part_size=size or 100, state=state)
    result = scan_models_dir(models_dir, [model])
    assert result.partial == {}, case
    assert sorted(result.stale) == [part, side], case
    assert names(models_dir) == ["a.gguf.part", "a.gguf.part.json"]  # scan deletes nothing


def test_part_longer_than_its_sidecar_total_is_stale(models_dir: Path) -> None:
    model = spec("a", "a.gguf", size=None)
    part, side = leftover(
        models_dir, model, part_size=600, state=PartialState(url=model.url, total=500)
    )
    result = scan_models_dir(models_dir, [model])
    assert result.partial == {}
    assert sorted(result.stale) == [part, side]


def test_part_without_sidecar_is_stale(models_dir: Path) -> None:
    model = spec("a", "a.gguf")
    part, _ = leftover(models_dir, model, sidecar=False)
    result = scan_models_dir(models_dir, [model])
    assert (result.partial, result.stale) == ({}, [part])


@pytest.mark.parametrize(
    "content",
    [b"not json", b'{"etag": "x"}', b'{"url": 5}', b'{"url": "u", "total": "7"}', b"[" * 50_000],
)
def test_part_with_unreadable_sidecar_is_stale(models_dir: Path, content: bytes) -> None:
    model = spec("a", "a.gguf")
    part, side = leftover(models_dir, model, sidecar=False)
    side.write_bytes(content)
    result = scan_models_dir(models_dir, [model])
    assert (result.partial, sorted(result.stale)) == ({}, [part, side])


def test_sidecar_only_leftovers_are_stale_once_each(models_dir: Path) -> None:
    model = spec("a", "a.gguf")
    _, side = partial_paths(models_dir / model.filename)
    write_sidecar(side, PartialState(url=model.url))
    side_tmp = side.with_name(side.name + ".tmp")
    side_tmp.write_text("{")
    result = scan_models_dir(models_dir, [model])
    assert result.partial == {}
    assert sorted(result.stale) == [side, side_tmp]


def test_part_of_an_unknown_file_is_stale(models_dir: Path) -> None:
    stranger = spec("x", "gone-from-catalog.gguf")
    part, side = leftover(models_dir, stranger)
    result = scan_models_dir(models_dir, [spec("a", "a.gguf")])
    assert (result.partial, sorted(result.stale)) == ({}, [part, side])


def test_symlinked_part_is_stale_and_not_followed(tmp_path: Path, models_dir: Path) -> None:
    model = spec("a", "a.gguf")
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"\1" * 100)
    part, side = partial_paths(models_dir / model.filename)
    part.symlink_to(outside)
    write_sidecar(side, PartialState(url=model.url))
    result = scan_models_dir(models_dir, [model])
    assert (result.partial, sorted(result.stale)) == ({}, [part, side])


def test_part_beside_a_complete_file_is_judged_separately(models_dir: Path) -> None:
    model = spec("a", "a.gguf")
    gguf(models_dir / "a.gguf")
    part, _ = leftover(models_dir, model)
    result = scan_models_dir(models_dir, [model])
    assert result.complete == {"a": models_dir / "a.gguf"}
    assert result.partial == {"a": part}


# --- scan_models_dir: locks --------------------------------------------------------------


def test_orphan_lock_is_removed(models_dir: Path) -> None:
    model = spec("a", "a.gguf")
    gguf(models_dir / "a.gguf")
    lock_path(models_dir / "a.gguf").write_text("")
    lock_path(models_dir / "gone.gguf").write_text("")
    result = scan_models_dir(models_dir, [model])
    assert result.complete == {"a": models_dir / "a.gguf"}
    assert names(models_dir) == ["a.gguf"]


def test_lock_held_in_another_open_file_leaves_the_model_alone(models_dir: Path) -> None:
    model, other = spec("a", "a.gguf"), spec("b", "b.gguf")
    gguf(models_dir / "a.gguf")
    leftover(models_dir, model, sidecar=False)  # would be stale without the lock
    gguf(models_dir / "b.gguf")
    b_part, _ = leftover(models_dir, other, sidecar=False)
    lock = lock_path(models_dir / "a.gguf")
    fd = _try_lock(lock)  # a separate open file description conflicts like another process
    assert fd is not None
    try:
        result = scan_models_dir(models_dir, [model, other])
        assert result.complete == {"b": models_dir / "b.gguf"}
        assert (result.partial, result.stale, result.warnings) == ({}, [b_part], [])
        assert lock.exists()
    finally:
        _release(lock, fd)
    result = scan_models_dir(models_dir, [model, other])
    assert result.complete == {"a": models_dir / "a.gguf", "b": models_dir / "b.gguf"}
    assert sorted(result.stale) == [models_dir / "a.gguf.part", b_part]


def test_lock_held_by_another_process_leaves_the_model_alone(
    models_dir: Path, held_by_other_process: Callable[[Path], None]
) -> None:
    model = spec("a", "a.gguf")
    leftover(models_dir, model, state=PartialState(url="https://elsewhere/a"))
    lock = lock_path(models_dir / "a.gguf")
    held_by_other_process(lock)
    result = scan_models_dir(models_dir, [model])
    assert (result.complete, result.partial, result.stale) == ({}, {}, [])
    assert names(models_dir) == ["a.gguf.lock", "a.gguf.part", "a.gguf.part.json"]


def test_symlinked_lock_is_not_followed(tmp_path: Path, models_dir: Path) -> None:
    target = tmp_path / "created-through-link"
    (models_dir / "a.gguf.lock").symlink_to(target)
    gguf(models_dir / "a.gguf")
    result = scan_models_dir(models_dir, [spec("a", "a.gguf")])
    assert not target.exists()
    assert result.complete == {"a": models_dir / "a.gguf"}
