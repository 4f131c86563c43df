"""Test helpers: a loopback stand-in for the Hugging Face Hub, with a CDN behind it.

``HubServer`` answers the part of the Hub API that huggingface_hub's
``HfApi.model_info(repo, files_metadata=True)`` calls (``GET
/api/models/{repo}`` and ``.../revision/{revision}``, with each file's size
and LFS SHA-256), and ``GET /{repo}/resolve/{revision}/{path}`` with a 302 to
a second loopback server, its ``cdn`` (a :class:`~llmstore.testing.ModelServer`,
so Range, If-Range, faults and the request log all work there)::

    async with HubServer(tmp_path) as hub:
        hub.add_file("owner/Repo-GGUF", "repo-Q4_K_M.gguf", data)
        store = create_llm_store_default_model(endpoint=hub.endpoint, ...)
        key = await store.add_model("hf.co/owner/Repo-GGUF:Q4_K_M")

Errors come as the Hub sends them (``X-Error-Code: RepoNotFound``,
``RevisionNotFound``, ``EntryNotFound``, ``GatedRepo``), so
huggingface_hub raises its own exception types. As on the Hub, a gated
repo's listing is public and only its files need the token.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, final
from urllib.parse import unquote

from aiohttp import hdrs, web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict, CIMultiDictProxy

from llmstore.testing import ModelServer, RequestRecord

__all__ = ["HubFile", "HubRepo", "HubServer"]


@final
@dataclass(frozen=True, slots=True)
class HubFile:
    """A file of a repo: its path, bytes' name on the CDN, size and listed SHA-256."""

    path: str
    blob: str
    size: int
    #: what the API lists as the LFS SHA-256 (None: a plain git file, no LFS)
    sha256: str | None


@final
@dataclass(slots=True)
class HubRepo:
    """A model repo: its id (as the Hub spells it), commit, files, and access rules."""

    repo_id: str
    commit: str
    files: dict[str, HubFile] = field(default_factory=dict)
    #: needs the server's token (without it: 401 RepoNotFound, as the Hub answers)
    private: bool = False
    #: listed to everyone, as on the Hub, but its files need the server's token
    #: (401 without one, 403 GatedRepo with another)
    gated: bool = False


@final
class HubServer:
    """The Hub's API and ``resolve`` on 127.0.0.1, redirecting file bytes to ``cdn``.

    ``token``, when set, is the one token accepted for private repos.
    ``requests`` logs every request the API host received (the CDN keeps its
    own, ``cdn.requests``). Use as an async context manager, or call
    :meth:`start` and :meth:`close`.
    """

    def __init__(self, directory: Path, *, token: str | None = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.token = token
        self.repos: dict[str, HubRepo] = {}
        self.requests: list[RequestRecord] = []
        self.cdn = ModelServer(self.directory)
        self._server: TestServer | None = None
        self._api_failures: list[int] = []

    async def start(self) -> None:
        """Start the CDN and the API host; raises ``RuntimeError`` when already started."""
        if self._server is not None:
            raise RuntimeError("HubServer is already started")
        app = web.Application()
        app.router.add_get("/api/models/{owner}/{name}", self._model_info)
        app.router.add_get("/api/models/{owner}/{name}/revision/{revision}", self._model_info)
        app.router.add_get("/{owner}/{name}/resolve/{revision}/{path:.+}", self._resolve)
        await self.cdn.start()
        server = TestServer(app, host="127.0.0.1")
        try:
            await server.start_server()
        except BaseException:
            await self.cdn.close()
            raise
        self._server = server

    async def close(self) -> None:
        """Stop both servers; safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            await server.close()
        await self.cdn.close()

    async def __aenter__(self) -> HubServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:<port>``, to give as ``HF_ENDPOINT`` or ``endpoint=``."""
        if self._server is None:
            raise RuntimeError("HubServer is not started")
        return str(self._server.make_url("")).rstrip("/")

    def add_repo(self, repo_id: str, *, private: bool = False, gated: bool = False) -> HubRepo:
        """Create the repo ``repo_id`` (or set the access rules of the one there).

        Its commit is derived from its id. Repo ids match in any case, as on the Hub.
        """
        repo = self._repo(repo_id)
        repo.private, repo.gated = private, gated
        return repo

    def add_file(
        self,
        repo_id: str,
        path: str,
        data: bytes,
        *,
        lfs: bool = True,
        listed_sha256: str | None = None,
    ) -> HubFile:
        """Put ``data`` at ``path`` in ``repo_id`` (created public if new); the CDN serves it.

        ``listed_sha256`` makes the API list another SHA-256 than the bytes have.
        """
        digest = hashlib.sha256(data).hexdigest()
        blob = f"{digest}.bin"
        (self.directory / blob).write_bytes(data)
        sha256 = (listed_sha256 or digest) if lfs else None
        entry = HubFile(path, blob, len(data), sha256)
        self._repo(repo_id).files[path] = entry
        return entry

    def _repo(self, repo_id: str) -> HubRepo:
        repo = self.repos.get(repo_id.lower())
        if repo is None:
            commit = hashlib.sha1(repo_id.encode("utf-8")).hexdigest()
            repo = self.repos[repo_id.lower()] = HubRepo(repo_id, commit)
        return repo

    def fail_api(self, *statuses: int) -> None:
        """Answer the next API calls with these statuses (one each), then normally again."""
        self._api_failures.extend(statuses)

    def api_requests(self) -> list[RequestRecord]:
        """The requests for ``/api/...`` the API host received."""
        return [r for r in self.requests if r.path.startswith("/api/")]

    def _record(self, request: web.Request) -> RequestRecord:
        record = RequestRecord(
            request.method, request.path_qs, CIMultiDictProxy(CIMultiDict(request.headers))
        )
        self.requests.append(record)
        return record

    def _find(
        self, request: web.Request, record: RequestRecord, *, files: bool = False
    ) -> HubRepo | web.Response:
        """The repo the request names, or the error answer the Hub would give.

        ``files``: the request is for a file's bytes (where a gated repo wants a token).
        """
        repo_id = f"{request.match_info['owner']}/{request.match_info['name']}"
        repo = self.repos.get(repo_id.lower())
        authorized = self.token is not None and (
            request.headers.get(hdrs.AUTHORIZATION) == f"Bearer {self.token}"
        )
        if repo is None or (repo.private and not authorized):
            status = 404 if repo is None or hdrs.AUTHORIZATION in request.headers else 401
            return _error(record, status, "RepoNotFound", "Repository not found")
        if repo.gated and files and not authorized:
            status = 403 if hdrs.AUTHORIZATION in request.headers else 401
            return _error(record, status, "GatedRepo", "Access to model is restricted")
        revision = request.match_info.get("revision")
        if revision is not None and unquote(revision) not in ("main", repo.commit):
            return _error(record, 404, "RevisionNotFound", "Invalid rev id")
        return repo

    async def _model_info(self, request: web.Request) -> web.Response:
        record = self._record(request)
        if self._api_failures:
            status = self._api_failures.pop(0)
            return _error(record, status, "Injected", f"injected HTTP {status}")
        repo = self._find(request, record)
        if isinstance(repo, web.Response):
            return repo
        blobs = request.query.get("blobs", "").lower() in ("1", "true")
        siblings: list[dict[str, Any]] = []
        for file in repo.files.values():
            sibling: dict[str, Any] = {"rfilename": file.path}
            if blobs:
                sibling.update(size=file.size, blobId=hashlib.sha1(file.blob.encode()).hexdigest())
                if file.sha256 is not None:
                    sibling["lfs"] = {"size": file.size, "sha256": file.sha256, "pointerSize": 134}
            siblings.append(sibling)
        record.status = 200
        document = {
            "_id": repo.commit[:24],
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "sha": repo.commit,
            "private": repo.private,
            "gated": "manual" if repo.gated else False,
            "tags": ["gguf"],
            "siblings": siblings,
        }
        return web.json_response(document)

    async def _resolve(self, request: web.Request) -> web.Response:
        record = self._record(request)
        repo = self._find(request, record, files=True)
        if isinstance(repo, web.Response):
            return repo
        file = repo.files.get(request.match_info["path"])
        if file is None:
            return _error(record, 404, "EntryNotFound", "Entry not found")
        # As the Hub does for LFS files: a redirect to another host, which must
        # never see the token.
        record.status = 302
        headers = {hdrs.LOCATION: self.cdn.url_for(file.blob), "X-Repo-Commit": repo.commit}
        if file.sha256 is not None:
            headers["X-Linked-Etag"] = f'"{file.sha256}"'
            headers["X-Linked-Size"] = str(file.size)
        return web.Response(status=302, headers=headers)


def _error(record: RequestRecord, status: int, code: str, message: str) -> web.Response:
    record.status = status
    headers = {"X-Error-Code": code, "X-Error-Message": message}
    return web.json_response({"error": message}, status=status, headers=headers)
