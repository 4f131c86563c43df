"""Models from the Hugging Face Hub by name: parse the name, list the repo, make a catalog entry.

Names: ``hf.co/OWNER/REPO:QUANT`` (Ollama's form), ``OWNER/REPO:QUANT``,
``OWNER/REPO/FILE.gguf`` and ``OWNER/REPO`` (a repo holding one GGUF model),
each also with ``hf.co/``, ``huggingface.co/`` or ``https://huggingface.co/``
in front. The repo's files, with their sizes and LFS SHA-256, come from one
``HfApi.model_info(files_metadata=True)`` call (``GET
{endpoint}/api/models/{repo}?blobs=true``); the bytes are then fetched by
llmstore's own downloader from ``{endpoint}/{repo}/resolve/{commit}/{file}``,
pinned to the commit listed, so the checksums always describe the bytes.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import final
from urllib.parse import quote, urlsplit

from llmstore.catalog import ModelFile, ModelSpec
from llmstore.errors import HubError, HubNameError

__all__ = [
    "DEFAULT_ENDPOINT",
    "HubName",
    "RepoFile",
    "choose_files",
    "hub_endpoint",
    "hub_offline",
    "known_key",
    "list_repo_files",
    "local_filename",
    "make_spec",
    "parse_hub_name",
    "resolve_hub_model",
]

DEFAULT_ENDPOINT = "https://huggingface.co"
ENDPOINT_VARIABLE = "HF_ENDPOINT"
OFFLINE_VARIABLE = "HF_HUB_OFFLINE"

_PREFIXES = ("https://huggingface.co/", "http://huggingface.co/", "https://hf.co/",
             "http://hf.co/", "huggingface.co/", "hf.co/")  # fmt: skip
# The Hub's own rule for user, org and repo names (huggingface_hub's validate_repo_id).
_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?")
_QUANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_PATH_PART = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9._+-]*")
# llama.cpp's gguf-split names parts "%s-%05d-of-%05d.gguf".
_SPLIT = re.compile(r"(?P<stem>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.gguf", re.IGNORECASE)
_TIMEOUT = 30.0
# Transient answers of the API are asked again after these pauses (seconds).
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_RETRY_DELAYS = (0.5, 1.5)


@final
@dataclass(frozen=True, slots=True)
class HubName:
    """A parsed Hub name: the repo and either a quantization, a file, or neither."""

    repo: str
    quant: str | None = None
    path: str | None = None

    @property
    def key(self) -> str:
        """The store key for this name: ``OWNER/REPO:QUANT`` or ``OWNER/REPO/FILE``."""
        if self.quant is not None:
            return f"{self.repo}:{self.quant.upper()}"
        return f"{self.repo}/{self.path}" if self.path is not None else self.repo


@final
@dataclass(frozen=True, slots=True)
class RepoFile:
    """A file the Hub lists in a repo: its path, size and (for LFS files) SHA-256."""

    path: str
    size: int | None
    sha256: str | None

    @property
    def name(self) -> str:
        """The file name, without the folders."""
        return self.path.rpartition("/")[2]


def parse_hub_name(name: str) -> HubName | None:
    """The Hub name in ``name``, or None when it is a plain key (no ``/``).

    Raises ``HubNameError`` when ``name`` has a ``/`` but is not a valid Hub name.
    """
    text = name.strip()
    for prefix in _PREFIXES:
        if text.lower().startswith(prefix):
            text = text[len(prefix) :]
            break
    if "/" not in text:
        return None
    owner, _, rest = text.partition("/")
    repo, _, path = rest.partition("/")
    repo, colon, quant = repo.partition(":")
    form = "give OWNER/REPO:QUANT (like bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M) or "
    form += "OWNER/REPO/FILE.gguf"
    for part, what in ((owner, "owner"), (repo, "repo")):
        if not _NAME.fullmatch(part) or ".." in part or "--" in part:
            raise HubNameError(f"{name!r} is not a Hugging Face model name: bad {what}; {form}")
    if colon and (path or not _QUANT.fullmatch(quant)):
        raise HubNameError(f"{name!r} is not a Hugging Face model name: bad quantization; {form}")
    if path and not (path.lower().endswith(".gguf") and _safe_path(path)):
        raise HubNameError(f"{name!r} does not name a .gguf file in the repo; {form}")
    return HubName(f"{owner}/{repo}", quant or None, path or None)


def hub_endpoint(configured: str | None) -> str:
    """The Hub to ask: ``configured`` (the store's mirror), else ``$HF_ENDPOINT``, else the Hub."""
    value = configured or os.environ.get(ENDPOINT_VARIABLE) or DEFAULT_ENDPOINT
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise HubError(
            f"the Hub endpoint must be an http:// or https:// URL (got {value!r} from "
            f"{'the endpoint setting' if configured else '$' + ENDPOINT_VARIABLE})"
        )
    return value.rstrip("/")


def hub_offline() -> bool:
    """True when ``$HF_HUB_OFFLINE`` asks for no network calls to the Hub (read on each call)."""
    return os.environ.get(OFFLINE_VARIABLE, "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def resolve_hub_model(name: HubName, *, endpoint: str, token: str | None) -> ModelSpec:
    """Look ``name`` up on the Hub and return its catalog entry (blocking: run in a thread).

    Raises ``HubNameError`` when the repo, file or quantization is not there
    (or matches several models), ``HubError`` when the Hub cannot be asked.
    """
    commit, repo_id, files = list_repo_files(name.repo, endpoint=endpoint, token=token)
    chosen = choose_files(name, repo_id, files)
    key = HubName(repo_id, name.quant, None if name.quant else chosen[0].path).key
    return make_spec(key, repo_id, commit, chosen, endpoint=endpoint)


def list_repo_files(
    repo: str, *, endpoint: str, token: str | None
) -> tuple[str, str, list[RepoFile]]:
    """The repo's commit, its canonical id and its files, from one Hub API call."""
    if hub_offline():
        raise HubError(
            f"cannot look up {repo} on the Hub: offline mode is on (${OFFLINE_VARIABLE}); "
            "unset it, or use a model already added (`llmstore list`)"
        )
    from huggingface_hub import HfApi
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    # token=False: never a token huggingface_hub would find on its own (its
    # login file), so the API sees exactly the token the downloads use.
    api = HfApi(endpoint=endpoint, token=token or False)
    where = f"{endpoint}/{repo}"
    for delay in (*_RETRY_DELAYS, None):  # model_info itself never retries
        try:
            info = api.model_info(repo, files_metadata=True, timeout=_TIMEOUT)
            break
        except OfflineModeIsEnabled as error:
            raise HubError(f"cannot look up {repo}: huggingface_hub is in offline mode") from error
        except GatedRepoError as error:
            raise HubError(
                f"{where} is gated: accept its terms on the Hub, then set $HF_TOKEN to a token "
                "of that account"
            ) from error
        except RepositoryNotFoundError as error:
            hint = "check the name"
            hint += "" if token else ", or set $HF_TOKEN if it is private"
            raise HubNameError(f"there is no model repo {repo} on {endpoint}; {hint}") from error
        except HfHubHTTPError as error:
            status = error.response.status_code if error.response is not None else None
            if status in _RETRY_STATUSES and delay is not None:
                time.sleep(delay)
                continue
            hint = "; a token is needed: set $HF_TOKEN" if status in (401, 403) else ""
            raise HubError(f"the Hub API answered HTTP {status} for {where}{hint}") from error
        except ValueError as error:  # huggingface_hub's HFValidationError: a repo id it refuses
            raise HubNameError(f"{repo!r} is not a valid Hugging Face repo id: {error}") from error
        except Exception as error:  # the transport's errors (connection refused, timeouts, ...)
            if delay is not None:
                time.sleep(delay)
                continue
            raise HubError(f"cannot reach the Hub at {endpoint}: {error}") from error
    files = [
        RepoFile(
            sibling.rfilename,
            sibling.lfs.size if sibling.lfs is not None else sibling.size,
            sibling.lfs.sha256 if sibling.lfs is not None else None,
        )
        for sibling in info.siblings or ()
    ]
    return info.sha or "main", info.id or repo, files


def choose_files(name: HubName, repo_id: str, files: Iterable[RepoFile]) -> list[RepoFile]:
    """The file (or split parts, in order) ``name`` asks for among the repo's files.

    Raises ``HubNameError`` listing the repo's GGUF models when none or several match.
    """
    models = _group_models(f for f in files if f.path.lower().endswith(".gguf"))
    if name.path is not None:
        wanted = [g for g in models if any(f.path == name.path for f in g)] or [
            g for g in models if any(f.path.lower() == name.path.lower() for f in g)
        ]
        what = f"no file {name.path}"
    elif name.quant is not None:
        wanted = [g for g in models if _carries_quant(g[0].name, name.quant)]
        what = f"no GGUF file with {name.quant.upper()} in its name"
    else:
        wanted = [g for g in models if not _is_projector(g[0].name)]
        what = "no GGUF file"
    if len(wanted) == 1:
        _check_complete_split(repo_id, wanted[0])
        return wanted[0]
    listing = _listing(models)
    if not wanted:
        raise HubNameError(f"{repo_id} has {what}; {listing}")
    if name.quant is None and name.path is None:
        raise HubNameError(f"{repo_id} has several GGUF models: say which with :QUANT; {listing}")
    choices = ", ".join(g[0].path for g in wanted)
    raise HubNameError(
        f"{name.quant!r} matches several GGUF models in {repo_id} ({choices}); "
        f"name one file as {repo_id}/FILE.gguf; {listing}"
    )


def make_spec(
    key: str, repo_id: str, commit: str, files: Sequence[RepoFile], *, endpoint: str
) -> ModelSpec:
    """The catalog entry downloading ``files`` of ``repo_id`` at ``commit`` from ``endpoint``."""
    entries: list[ModelFile] = []
    for file in files:
        if file.size is None:
            raise HubError(f"the Hub did not give the size of {file.path} in {repo_id}")
        url = f"{endpoint}/{repo_id}/resolve/{quote(commit, safe='')}/{quote(file.path)}"
        entries.append(
            ModelFile(
                url=url,
                filename=local_filename(repo_id, file.path),
                size_bytes=file.size,
                sha256=file.sha256,
            )
        )
    first = entries[0]
    stem = _SPLIT.fullmatch(files[0].name)
    display = stem["stem"] if stem else files[0].name[: -len(".gguf")]
    return ModelSpec(
        key=key,
        display_name=display,
        url=first.url,
        filename=first.filename,
        size_bytes=first.size_bytes,
        sha256=first.sha256,
        # Every size is exact (and usually the SHA-256 known): no minimum is needed
        # to tell an error page from a model.
        min_size_bytes=0,
        parts=tuple(entries[1:]),
        # The endpoint is the Hub (or the mirror configured for it): it gets the token.
        auth="hf",
    )


def local_filename(repo_id: str, path: str) -> str:
    """The file name in the models dir for ``path`` of ``repo_id``: one plain name, unique.

    ``OWNER--REPO--DIR--FILE.gguf`` (folders joined with ``--``), or, when that
    would pass 255 bytes, a hash of it before the file's own name.
    """
    if not _safe_path(path):
        raise HubNameError(f"refusing the file name {path!r} listed by {repo_id}")
    name = "--".join([*repo_id.split("/"), *path.split("/")])
    if len(name.encode("utf-8")) <= 255:
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
    base = path.rpartition("/")[2]
    return f"{digest}--{base[-200:].lstrip('.')}"


def known_key(keys: Iterable[str], name: str) -> str | None:
    """The key among ``keys`` that ``name`` denotes (exactly, or as a Hub name in any case)."""
    keys = list(keys)
    if name in keys:
        return name
    try:
        parsed = parse_hub_name(name)
    except HubNameError:
        return None
    if parsed is None:
        return None
    wanted = parsed.key.lower()
    return next((key for key in keys if key.lower() == wanted), None)


def _safe_path(path: str) -> bool:
    """True for a relative repo path whose every part is a plain, visible name."""
    # 300 characters: the key (OWNER/REPO/PATH) then stays within ModelSpec's 512.
    return len(path) <= 300 and all(_PATH_PART.fullmatch(part) for part in path.split("/"))


def _group_models(files: Iterable[RepoFile]) -> list[list[RepoFile]]:
    """GGUF files as models: a file alone, or the parts of one split, sorted by index."""
    groups: dict[tuple[str, ...], list[RepoFile]] = {}
    for file in files:
        if not _safe_path(file.path):
            continue  # never offered: its name could not be stored safely
        folder = file.path.rpartition("/")[0]
        split = _SPLIT.fullmatch(file.name)
        group = (folder, split["stem"], split["count"]) if split else (file.path,)
        groups.setdefault(group, []).append(file)
    for parts in groups.values():
        parts.sort(key=lambda file: file.path)
    return sorted(groups.values(), key=lambda parts: parts[0].path)


def _check_complete_split(repo_id: str, parts: list[RepoFile]) -> None:
    split = _SPLIT.fullmatch(parts[0].name)
    if split is None:
        return
    count = int(split["count"])
    indexes = [int(m["index"]) for p in parts if (m := _SPLIT.fullmatch(p.name))]
    if indexes != list(range(1, count + 1)):
        raise HubNameError(
            f"{repo_id} lists {len(parts)} of the {count} parts of {parts[0].path} "
            f"(parts {', '.join(map(str, indexes))}): the split model is incomplete"
        )


def _carries_quant(filename: str, quant: str) -> bool:
    # "Q4_K" must not match "Q4_K_M", nor "Q4_XS" match "IQ4_XS": the quant
    # stands between separators that are not letters, digits or "_".
    pattern = rf"(?<![A-Za-z0-9_]){re.escape(quant)}(?![A-Za-z0-9_])"
    return not _is_projector(filename) and re.search(pattern, filename, re.IGNORECASE) is not None


def _is_projector(filename: str) -> bool:
    """A multimodal projector (``mmproj-*.gguf``) goes with a model; it is not one."""
    return filename.lower().startswith("mmproj")


def _listing(models: list[list[RepoFile]]) -> str:
    if not models:
        return "it has no GGUF files"
    lines = [g[0].path + (f" (+{len(g) - 1} more parts)" if len(g) > 1 else "") for g in models]
    return "its GGUF files: " + ", ".join(lines)
