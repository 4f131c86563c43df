"""The model catalog: what can be downloaded, from where, and how to check it.

>>> from llmstore.catalog import DEFAULT_CATALOG
>>> [spec.key for spec in DEFAULT_CATALOG]
['1B', '3B']
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from llmstore.errors import CatalogError

__all__ = [
    "DEFAULT_CATALOG",
    "ModelFile",
    "ModelSpec",
    "catalog_from_data",
    "check_filename",
    "is_hf_url",
    "load_catalog",
    "resolve_endpoint",
    "with_endpoint",
]

ENDPOINT_VARIABLE = "LLMSTORE_ENDPOINT"
#: the hosts whose catalog entries get the Hugging Face token unless they say otherwise
HF_HOSTS = frozenset({"huggingface.co", "hf.co"})

# Keys become CLI arguments and file stems: keep them to a portable alphabet.
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# Models added from the Hub are keyed by their name: OWNER/REPO:QUANT or OWNER/REPO/FILE.gguf.
_HUB_KEY = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*"
    r"(:[A-Za-z0-9][A-Za-z0-9._-]*|(/[A-Za-z0-9_+-][A-Za-z0-9._+-]*)+)"
)
_MAX_HUB_KEY = 512
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _checked_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"the URL must be http:// or https:// with a host (got {url!r})")
    return url


def _checked_sha256(digest: str | None) -> str | None:
    if digest is None:
        return None
    digest = digest.lower()
    if not _SHA256.fullmatch(digest):
        raise ValueError(f"sha256 must be 64 hex digits (got {digest!r})")
    return digest


def _checked_filename(filename: str) -> str:
    check_filename(filename)
    return filename


_Url = Annotated[str, AfterValidator(_checked_url)]
_Sha256 = Annotated[str | None, AfterValidator(_checked_sha256)]
_FileName = Annotated[str, AfterValidator(_checked_filename)]


class ModelFile(BaseModel):
    """One file of a model split in parts: its URL, file name and checks.

    The same rules as :class:`ModelSpec`'s fields of the same names.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    url: _Url
    filename: _FileName
    size_bytes: Annotated[int, Field(gt=0)] | None = None
    sha256: _Sha256 = None


class ModelSpec(BaseModel):
    """One downloadable model: its key, display name, URL, file name and checks.

    ``filename`` is a plain file name inside the models dir (no directories,
    no ``..``). ``size_bytes`` and ``sha256``, when known, must match exactly;
    every file must have at least ``min_size_bytes`` (100 MB by default, so an
    error page saved under a model's name is never taken for a model).
    ``auth`` says whether the Hugging Face token goes to ``url``'s host:
    ``"hf"`` sends it, ``None`` never does; when not given it is ``"hf"`` for
    ``https://huggingface.co/...`` (and ``hf.co``) URLs and ``None`` otherwise.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    key: str
    display_name: str
    url: _Url
    filename: _FileName
    size_bytes: Annotated[int, Field(gt=0)] | None = None
    sha256: _Sha256 = None
    min_size_bytes: Annotated[int, Field(ge=0)] = 100_000_000
    #: the further parts of a GGUF split in files (``*-00002-of-0000N.gguf`` on), in
    #: order; the fields above describe the first part, whose path is the model's path
    parts: tuple[ModelFile, ...] = ()
    auth: Literal["hf"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_auth(cls, data: Any) -> Any:
        # An entry that does not say gets the token only on the Hub itself.
        if isinstance(data, dict) and "auth" not in data:
            return {**data, "auth": "hf" if is_hf_url(data.get("url")) else None}
        return data

    @field_validator("key")
    @classmethod
    def _check_key(cls, key: str) -> str:
        if _KEY.fullmatch(key) or (len(key) <= _MAX_HUB_KEY and _HUB_KEY.fullmatch(key)):
            return key
        raise ValueError(
            "a key is 1 to 128 letters, digits, '.', '_' or '-', starting with a letter "
            "or digit, or a Hugging Face name like OWNER/REPO:QUANT or OWNER/REPO/FILE.gguf "
            f"(got {key!r})"
        )

    @property
    def files(self) -> tuple[ModelFile, ...]:
        """Every file of the model, the first part first (one file unless split)."""
        first = ModelFile(
            url=self.url, filename=self.filename, size_bytes=self.size_bytes, sha256=self.sha256
        )
        return (first, *self.parts)

    @property
    def total_size(self) -> int | None:
        """The size of all the model's files together, when every one is known."""
        sizes = [file.size_bytes for file in self.files]
        return None if None in sizes else sum(size for size in sizes if size is not None)

    @classmethod
    def from_huggingface(
        cls,
        key: str,
        display_name: str,
        repo: str,
        filename: str,
        **checks: Any,
    ) -> ModelSpec:
        """A spec for ``filename`` of the Hugging Face ``repo`` (its ``main`` revision)."""
        url = f"https://huggingface.co/{repo}/resolve/main/{filename}"
        return cls(key=key, display_name=display_name, url=url, filename=filename, **checks)


def is_hf_url(url: object) -> bool:
    """True for an ``https://`` URL on the Hugging Face Hub's own host."""
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme == "https" and (parts.hostname or "").lower() in HF_HOSTS


def check_filename(filename: str) -> None:
    """Raise ``ValueError`` unless ``filename`` names a file directly inside a directory."""
    if (
        not filename
        or filename in (".", "..")
        or filename.startswith(".")
        or any(sep in filename for sep in ("/", "\\", "\0"))
        or len(filename.encode("utf-8")) > 255
        or Path(filename).is_absolute()
    ):
        raise ValueError(
            f"{filename!r} is not a plain file name: it must not be empty, start with '.', "
            "contain '/', '\\' or NUL, or be longer than 255 bytes"
        )
    if filename.endswith((".part", ".part.json", ".part.json.tmp", ".lock")):
        raise ValueError(f"{filename!r} ends like a temporary file of the store; rename it")


DEFAULT_CATALOG: tuple[ModelSpec, ...] = (
    ModelSpec.from_huggingface(
        "1B",
        "Llama 3.2 1B",
        "hugging-quants/Llama-3.2-1B-Instruct-Q4_K_M-GGUF",
        "llama-3.2-1b-instruct-q4_k_m.gguf",
        size_bytes=807690656,
        sha256="1d0e9419ec4e12aef73ccf4ffd122703e94c48344a96bc7c5f0f2772c2152ce3",
    ),
    ModelSpec.from_huggingface(
        "3B",
        "Llama 3.2 3B",
        "hugging-quants/Llama-3.2-3B-Instruct-Q4_K_M-GGUF",
        "llama-3.2-3b-instruct-q4_k_m.gguf",
        size_bytes=2019373920,
        sha256="c55a83bfb6396799337853ca69918a0b9bbb2917621078c34570bc17d20fd7a1",
    ),
)
"""The original app's catalog: Llama 3.2 1B and 3B Instruct, Q4_K_M GGUF, from hugging-quants,
with their exact sizes and sha256."""


def catalog_from_data(data: Any, *, source: str = "catalog") -> list[ModelSpec]:
    """Validate a catalog given as JSON data: a list of specs, or ``{"models": [...]}``.

    Raises ``CatalogError`` listing every problem with its place
    (``models[1].filename: ...``), and on duplicate keys or file names.
    """
    entries = data.get("models") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise CatalogError(
            f"{source}: expected a JSON list of models (or an object with a 'models' list), "
            f"got {type(data).__name__}"
        )
    specs: list[ModelSpec] = []
    indexes: list[int] = []
    problems: list[str] = []
    for index, entry in enumerate(entries):
        try:
            specs.append(ModelSpec.model_validate(entry))
            indexes.append(index)
        except ValidationError as error:
            for detail in error.errors():
                where = ".".join(str(part) for part in detail["loc"])
                place = f"models[{index}]" + (f".{where}" if where else "")
                problems.append(f"{place}: {detail['msg']}")
    for field in ("key", "filename"):
        seen: set[str] = set()
        for index, spec in zip(indexes, specs, strict=True):
            values = [spec.key] if field == "key" else [file.filename for file in spec.files]
            for value in values:
                if value in seen:
                    problems.append(f"models[{index}].{field}: {value!r} appears more than once")
                seen.add(value)
    if problems:
        listed = "\n  ".join(problems)
        raise CatalogError(f"{source} is not a valid catalog:\n  {listed}")
    return specs


def load_catalog(path: str | os.PathLike[str]) -> list[ModelSpec]:
    """Read a catalog from a JSON file (a list of ``ModelSpec`` objects).

    Raises ``CatalogError`` saying which file and entry is wrong and why.
    """
    source = os.fspath(path)
    try:
        text = Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CatalogError(f"cannot read the catalog {source}: {error}") from error
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:  # RecursionError: nested too deeply
        raise CatalogError(f"the catalog {source} is not valid JSON: {error}") from error
    return catalog_from_data(data, source=f"the catalog {source}")


def resolve_endpoint(endpoint: str | None) -> str | None:
    """The mirror to use: ``endpoint``, else ``$LLMSTORE_ENDPOINT``, else None."""
    value = endpoint if endpoint is not None else os.environ.get(ENDPOINT_VARIABLE)
    if not value:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        origin = "endpoint" if endpoint is not None else f"${ENDPOINT_VARIABLE}"
        raise CatalogError(
            f"{origin} must be an http:// or https:// base URL like https://hf-mirror.com "
            f"(got {value!r})"
        )
    return value


def with_endpoint(specs: Iterable[ModelSpec], endpoint: str) -> list[ModelSpec]:
    """The specs with the scheme and host of their URLs replaced by ``endpoint``'s.

    A path in ``endpoint`` is put before each URL's path, so
    ``https://mirror.example/hf`` turns ``https://huggingface.co/a/b`` into
    ``https://mirror.example/hf/a/b``.
    """
    base = urlsplit(endpoint)
    prefix = base.path.rstrip("/")

    def moved(url: str) -> str:
        parts = urlsplit(url)
        return urlunsplit((base.scheme, base.netloc, prefix + parts.path, parts.query, ""))

    return [
        spec.model_copy(
            update={
                "url": moved(spec.url),
                "parts": tuple(
                    part.model_copy(update={"url": moved(part.url)}) for part in spec.parts
                ),
            }
        )
        for spec in specs
    ]
