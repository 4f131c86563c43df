"""add_model(): a Hugging Face name becomes a catalog entry, kept in the persisted state."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from llmstore._files import scan_models_dir
from llmstore._hub import hub_endpoint, hub_offline, known_key, parse_hub_name, resolve_hub_model
from llmstore.catalog import ModelSpec
from llmstore.errors import HubError, LLMStoreError, UnknownModelError
from mstlite import get_env

if TYPE_CHECKING:
    from llmstore._env import StoreEnv
    from llmstore.store import LLMStore

__all__ = ["add_model", "check_offline", "restore_entries"]


async def add_model(store: LLMStore, name: str) -> str:
    """The key of the model ``name`` denotes, adding it from the Hub when it is new.

    A key or name the store already knows is returned without asking the Hub
    (so offline mode can use it). Raises ``HubNameError`` (an
    ``UnknownModelError``) for a bad name or one matching no single model,
    ``HubError`` when the Hub cannot be asked.
    """
    env: StoreEnv = get_env(store)
    if not store.is_initialized:
        raise LLMStoreError("the store is not initialized: await store.initialize() first")
    known = known_key(env.catalog, name)
    if known is not None:
        return known
    parsed = parse_hub_name(name)
    if parsed is None:
        raise UnknownModelError(
            f"unknown model {name!r}: not in the catalog ({', '.join(env.catalog)}); a model "
            "from Hugging Face is named OWNER/REPO:QUANT or OWNER/REPO/FILE.gguf"
        )
    spec = await asyncio.to_thread(
        resolve_hub_model, parsed, endpoint=hub_endpoint(env.endpoint), token=env.token
    )
    scan = await asyncio.to_thread(scan_models_dir, env.models_dir, [spec])
    found = scan.complete.get(spec.key)
    # No await from here on: the Hub's spelling of the repo, or another add that
    # finished while this one waited, may be known already.
    known = known_key(env.catalog, spec.key) or _same_file(env, spec)
    if known is not None:
        return known
    taken = {file.filename for other in env.catalog.values() for file in other.files}
    clash = [file.filename for file in spec.files if file.filename in taken]
    if clash:
        raise LLMStoreError(
            f"cannot add {spec.key}: its file name {clash[0]} is another model's; "
            "remove that model first (llmstore rm)"
        )
    store.add_entry(spec, str(found) if found is not None else None)
    env.catalog[spec.key] = spec
    env.added.add(spec.key)
    return spec.key


def _same_file(env: StoreEnv, spec: ModelSpec) -> str | None:
    """The key of a catalog model that is this very file (same SHA-256), if any."""
    if spec.parts or spec.sha256 is None:
        return None
    for other in env.catalog.values():
        if not other.parts and other.sha256 == spec.sha256:
            return other.key
    return None


def check_offline(store: LLMStore, key: str) -> None:
    """Raise ``HubError`` when ``key`` was added from the Hub and offline mode forbids fetching it.

    A model already downloaded passes (nothing needs fetching).
    """
    env: StoreEnv = get_env(store)
    if key not in env.added or not hub_offline() or store.model(key).path is not None:
        return
    raise HubError(
        f"cannot download {key}: offline mode is on ($HF_HUB_OFFLINE) and it is not "
        "downloaded yet; unset HF_HUB_OFFLINE to fetch it"
    )


def restore_entries(env: StoreEnv, persisted: dict[str, Any] | None) -> None:
    """Put the models added from the Hub, as persisted, back into the catalog.

    An entry that does not validate, or whose key or files the catalog now
    has, is dropped with a warning (``store.warnings``).
    """
    models = (persisted or {}).get("models")
    for snapshot in models if isinstance(models, list) else ():
        entry = snapshot.get("spec") if isinstance(snapshot, dict) else None
        if entry is None:
            continue
        try:
            spec = ModelSpec.model_validate(entry)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, detail['loc'])) or 'entry'}: {detail['msg']}"
                for detail in error.errors()
            )
            env.warnings.append(f"dropped a saved model entry that is not valid: {problems}")
            continue
        # Validation checked every file name is a plain name inside the models dir.
        taken = {file.filename for other in env.catalog.values() for file in other.files}
        if spec.key in env.catalog or any(file.filename in taken for file in spec.files):
            env.warnings.append(
                f"dropped the saved model {spec.key}: the catalog has its key or file names"
            )
            continue
        env.catalog[spec.key] = spec
        env.added.add(spec.key)
