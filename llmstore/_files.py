"""The models directory: where it is, what is in it, and deleting only inside it.

Nothing here follows a symlink: a link planted in the models dir is neither
read as a model nor deleted through, only ever removed itself.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from llmstore._lock import lock_is_held, try_remove_lock
from llmstore._partial import partial_paths, read_sidecar
from llmstore.catalog import ModelSpec, check_filename
from llmstore.errors import LLMStoreError, UnsafePathError

__all__ = [
    "MODELS_DIR_VARIABLE",
    "ScanResult",
    "ensure_models_dir",
    "free_bytes",
    "model_path",
    "part_path",
    "remove_file_in_dir",
    "resolve_models_dir",
    "scan_models_dir",
]

MODELS_DIR_VARIABLE = "LLMSTORE_MODELS_DIR"
_GGUF_MAGIC = b"GGUF"
_TEMP_SUFFIXES = (".part", ".part.json", ".part.json.tmp")


def resolve_models_dir(models_dir: str | os.PathLike[str] | None = None) -> Path:
    """``models_dir``, else ``$LLMSTORE_MODELS_DIR``, else the user cache dir, made absolute."""
    if models_dir is None:
        models_dir = os.environ.get(MODELS_DIR_VARIABLE) or None
    if models_dir is None:
        return Path(platformdirs.user_cache_dir("llmstore", appauthor=False)) / "models"
    return Path(models_dir).expanduser().absolute()


def ensure_models_dir(models_dir: Path) -> None:
    """Create the models dir if needed; raise ``LLMStoreError`` if it cannot be used."""
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise LLMStoreError(
            f"the models dir {models_dir} exists but is not a directory; "
            "move that file away or choose another dir with --models-dir"
        ) from None
    except OSError as error:
        raise LLMStoreError(
            f"cannot create the models dir {models_dir}: {error.strerror or error}; "
            "choose another with --models-dir or $LLMSTORE_MODELS_DIR"
        ) from error
    if not os.access(models_dir, os.W_OK | os.X_OK):
        raise LLMStoreError(
            f"the models dir {models_dir} is not writable; fix its permissions or choose "
            "another with --models-dir or $LLMSTORE_MODELS_DIR"
        )


def model_path(models_dir: Path, filename: str) -> Path:
    """The path of ``filename`` in the models dir; ``UnsafePathError`` if it would leave it."""
    try:
        check_filename(filename)
    except ValueError as error:
        raise UnsafePathError(f"refusing the file name {filename!r}: {error}") from None
    return models_dir / filename


def part_path(dest: Path) -> Path:
    """The temporary file a download of ``dest`` writes to."""
    return partial_paths(dest)[0]


def free_bytes(directory: Path) -> int:
    """Free space where ``directory`` lives, in bytes."""
    return shutil.disk_usage(directory).free


def remove_file_in_dir(models_dir: Path, path: Path) -> bool:
    """Delete ``path`` if it is an entry directly inside ``models_dir``; True if it existed.

    A symlink is removed itself, never its target. Refuses (``UnsafePathError``)
    anything outside the dir, and directories.
    """
    path = Path(path)
    if path.name in ("", ".", "..") or _real_dir(path.parent) != _real_dir(models_dir):
        raise UnsafePathError(
            f"refusing to delete {path}: it is not a file directly inside the models dir "
            f"{models_dir}"
        )
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(mode):
        raise UnsafePathError(f"refusing to delete {path}: it is a directory, not a model file")
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def _real_dir(directory: Path) -> str:
    return os.path.realpath(directory)


@dataclass
class ScanResult:
    """What ``scan_models_dir`` found, by catalog key (or file stem for extra ``.gguf``)."""

    #: catalog models whose file is complete (right size, GGUF magic for ``.gguf``);
    #: for a model split in parts, every part is, and this is the first part's path
    complete: dict[str, Path] = field(default_factory=dict)
    #: other ``.gguf`` files in the dir, keyed by file stem
    extra: dict[str, Path] = field(default_factory=dict)
    #: ``.part`` files of interrupted downloads that the next download can resume
    partial: dict[str, Path] = field(default_factory=dict)
    #: leftovers to delete: mismatched or unreadable temporary files
    stale: list[Path] = field(default_factory=list)
    #: files ignored, and why (for ``store.warnings``)
    warnings: list[str] = field(default_factory=list)


def scan_models_dir(
    models_dir: Path, specs: Iterable[ModelSpec], *, read_only: bool = False
) -> ScanResult:
    """Classify the entries of the models dir against the catalog (reads headers only).

    Files under a lock held by another process (a download in progress there)
    are left out entirely, neither resumed nor deleted. Stale lock files are
    removed, unless ``read_only``.
    """
    result = ScanResult()
    models = {spec.key: spec for spec in specs}
    catalog = _specs_by_filename(models.values())
    keys = set(models)
    found: dict[str, set[str]] = {}  # key -> its files found complete
    try:
        entries = sorted(os.scandir(models_dir), key=lambda entry: entry.name)
    except OSError as error:
        raise LLMStoreError(f"cannot read the models dir {models_dir}: {error}") from error
    names = {entry.name for entry in entries}
    busy: set[str] = set()
    judged: set[str] = set()  # bases whose temporary files were already classified
    for entry in entries:
        if not entry.name.endswith(".lock"):
            continue
        lock = Path(entry.path)
        if lock_is_held(lock) if read_only else not try_remove_lock(lock):
            busy.add(entry.name.removesuffix(".lock"))
    for entry in entries:
        name = entry.name
        if name.endswith(".lock") or name.startswith("."):
            continue
        base = _temp_base(name)
        if base is not None:
            if (
                base in busy
                or base in judged
                or (base + ".part" in names and name != base + ".part")
            ):
                continue  # judged with its .part, below
            judged.add(base)
            _scan_partial(models_dir / base, catalog.get(base), result)
            continue
        if name in busy or (not name.endswith(".gguf") and name not in catalog):
            continue
        if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
            result.warnings.append(f"ignored {name}: not a regular file")
            continue
        spec = catalog.get(name)
        problem = _check_complete(Path(entry.path), spec)
        if problem:
            result.warnings.append(f"ignored {name}: {problem}")
        elif spec is not None:
            found.setdefault(spec.key, set()).add(name)
        else:
            key = name.removesuffix(".gguf")
            if key in keys or key in result.extra:
                result.warnings.append(f"ignored {name}: its name clashes with the model {key!r}")
            else:
                result.extra[key] = Path(entry.path)
    for key, names in found.items():
        spec = models[key]
        # A model split in parts is complete only with every part; its path is the first's.
        if all(file.filename in names for file in spec.files):
            result.complete[key] = models_dir / spec.filename
    return result


def _specs_by_filename(specs: Iterable[ModelSpec]) -> dict[str, ModelSpec]:
    """Each file of each model, as a spec of that file alone (same key), by file name."""
    catalog: dict[str, ModelSpec] = {}
    for spec in specs:
        catalog[spec.filename] = spec
        for part in spec.parts:
            catalog[part.filename] = spec.model_copy(update={**part.model_dump(), "parts": ()})
    return catalog


def _temp_base(name: str) -> str | None:
    for suffix in _TEMP_SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return None


def _scan_partial(dest: Path, spec: ModelSpec | None, result: ScanResult) -> None:
    part, sidecar = partial_paths(dest)
    state = read_sidecar(sidecar)
    size = _regular_size(part)
    limit = spec.size_bytes if spec is not None else None
    if (
        spec is None
        or state is None
        or size is None
        or state.url != spec.url
        or (state.total is not None and size > state.total)
        or (limit is not None and (size > limit or state.total not in (None, limit)))
    ):
        leftovers = (part, sidecar, sidecar.with_name(sidecar.name + ".tmp"))
        result.stale.extend(path for path in leftovers if _exists(path))
        return
    result.partial[spec.key] = part
    # A crash while the sidecar was being replaced leaves its temporary file.
    interrupted = sidecar.with_name(sidecar.name + ".tmp")
    if _exists(interrupted):
        result.stale.append(interrupted)


def _check_complete(path: Path, spec: ModelSpec | None) -> str | None:
    size = _regular_size(path)
    if size is None:
        return "unreadable"
    if spec is not None:
        if spec.size_bytes is not None and size != spec.size_bytes:
            return f"{size} bytes, but the catalog says {spec.size_bytes}"
        if size < spec.min_size_bytes:
            return f"only {size} bytes, less than {spec.min_size_bytes}"
    if path.suffix == ".gguf":
        try:
            with open(path, "rb") as file:
                magic = file.read(4)
        except OSError as error:
            return f"unreadable ({error.strerror})"
        if magic != _GGUF_MAGIC:
            return "not a GGUF file (bad magic)"
    return None


def _regular_size(path: Path) -> int | None:
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def _exists(path: Path) -> bool:
    with contextlib.suppress(OSError):
        os.lstat(path)
        return True
    return False
