"""A fake Hugging Face Hub on 127.0.0.1 for the push tests: a real HTTP server that answers like the Hub's API for
exactly the calls ``huggingface_hub`` 2.x makes when ``gsi-bench push`` commits, and records every request.

Answered (paths as ``huggingface_hub/hf_api.py``, ``_commit_api.py`` and ``lfs.py`` build them):

- ``GET /api/whoami-v2``: the user, or 401 for a token other than :attr:`FakeHub.token`;
- ``POST /api/repos/create``: 200, or 409 when the repository exists (``exist_ok=True`` accepts that);
- ``GET /api/<type>s/<owner>/<name>/tree/<rev>``: the repository's files (``list_repo_files``);
- ``POST /api/validate-yaml``: a README's metadata check (the YAML must parse);
- ``POST /api/<type>s/<owner>/<name>/preupload/<rev>``: ``lfs`` for binary files (Parquet, PNG, as the Hub's
  ``.gitattributes`` does), ``regular`` for text;
- ``POST /[<type>s/]<owner>/<name>.git/info/lfs/objects/batch``: basic-transfer upload and verify actions pointing
  back here (``PUT /lfs-upload/<oid>`` checks the SHA-256; ``POST /lfs-verify``). The legacy LFS transfer is what
  ``huggingface_hub`` uses without ``hf_xet``: the tests set ``HF_HUB_DISABLE_XET`` (Xet needs a CAS server);
- ``POST /api/<type>s/<owner>/<name>/commit/<rev>[?create_pr=1]``: the NDJSON commit (``header``, ``file`` with
  base64 content, ``lfsFile`` by SHA-256, ``deletedFile``), applied to the repository unless it opens a pull request;
- ``HEAD``/``GET /[<type>s/]<owner>/<name>/resolve/<rev>/<path>``: a file (``hf_hub_download``).

Anything else is answered 404 and recorded, so a test sees an unexpected call.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socketserver
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

#: Extensions the fake Hub stores through LFS (the Hub's default ``.gitattributes`` lists them).
LFS_EXTENSIONS = (".parquet", ".png", ".jpg", ".jpeg", ".webp", ".arrow", ".bin")
_PREFIX = {"models": "", "datasets": "datasets/", "spaces": "spaces/"}
_TYPES = {"": "model", "datasets/": "dataset", "spaces/": "space"}
_REPO = r"(?P<repo>[^/]+/[^/]+?)"


@dataclass
class RecordedRequest:
    """One request the fake Hub received.

    Attributes:
        method: ``GET``, ``POST``, ...
        path: the URL path (unquoted, without the query).
        query: the query parameters.
        headers: the request headers (names lower-cased).
        body: the raw body.
        status: the status the fake Hub answered.
        operations: for a commit, its operations (``{"key", "path", "size", "sha256"}``).
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    status: int = 0
    operations: list[dict[str, Any]] = field(default_factory=list)

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


@dataclass
class Commit:
    """A commit the fake Hub accepted: its repository, title, whether it opened a pull request, and the files it
    added (path -> bytes) or deleted."""

    repo_type: str
    repo_id: str
    summary: str
    create_pr: bool
    added: dict[str, bytes]
    deleted: list[str]


class _LocalServer(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 that binds without ``HTTPServer``'s ``socket.getfqdn`` (a reverse DNS query)."""

    daemon_threads = True

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class FakeHub:
    """The server. Use as a context manager; :attr:`url` is its endpoint (``HF_ENDPOINT``).

    Attributes:
        token: the only token accepted (others get 401).
        user: the ``whoami`` name.
        repos: ``(repo_type, repo_id)`` -> the files on ``main`` (path -> bytes); preset entries are existing repos.
        requests: every request, in order.
        commits: every accepted commit, in order.
    """

    def __init__(self, token: str = "hf_fake", user: str = "fake-user") -> None:
        self.token = token
        self.user = user
        self.repos: dict[tuple[str, str], dict[str, bytes]] = {}
        self.requests: list[RecordedRequest] = []
        self.commits: list[Commit] = []
        self.lfs_objects: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._server = _LocalServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def calls(self) -> list[str]:
        """``METHOD path`` of every request, in order."""
        return [f"{r.method} {r.path}" for r in self.requests]

    # ------------------------------------------------------------------------------------------------------
    # Routes: each takes the request and the URL's named groups and returns (status, JSON body, headers).

    def route(self, request: RecordedRequest) -> tuple[int, Any, dict[str, str]]:
        """Answers one request."""
        routes = [
            ("GET", r"/api/whoami-v2", self._whoami),
            ("POST", r"/api/repos/create", self._create_repo),
            ("POST", r"/api/validate-yaml", self._validate_yaml),
            ("GET", rf"/api/(?P<type>models|datasets|spaces)/{_REPO}/tree/(?P<rev>[^/]+)(?P<sub>/.*)?", self._tree),
            ("POST", rf"/api/(?P<type>models|datasets|spaces)/{_REPO}/preupload/(?P<rev>.+)", self._preupload),
            ("POST", rf"/api/(?P<type>models|datasets|spaces)/{_REPO}/commit/(?P<rev>.+)", self._commit),
            ("POST", rf"/(?P<prefix>datasets/|spaces/)?{_REPO}\.git/info/lfs/objects/batch", self._lfs_batch),
            ("PUT", r"/lfs-upload/(?P<oid>[0-9a-f]{64})", self._lfs_upload),
            ("POST", r"/lfs-verify", self._lfs_verify),
            ("HEAD", rf"/(?P<prefix>datasets/|spaces/)?{_REPO}/resolve/(?P<rev>[^/]+)/(?P<file>.+)", self._resolve),
            ("GET", rf"/(?P<prefix>datasets/|spaces/)?{_REPO}/resolve/(?P<rev>[^/]+)/(?P<file>.+)", self._resolve),
        ]
        for method, pattern, answer in routes:
            match = re.fullmatch(pattern, request.path)
            if method == request.method and match:
                public = answer in (self._lfs_upload,)  # pre-signed storage URLs carry no token
                if not public and request.headers.get("authorization") != f"Bearer {self.token}":
                    return 401, {"error": "Invalid credentials in Authorization header"}, {}
                return answer(request, **{k: v for k, v in match.groupdict().items() if v is not None})
        return 404, {"error": f"fake hub: no route for {request.method} {request.path}"}, {}

    def _whoami(self, request: RecordedRequest) -> tuple[int, Any, dict[str, str]]:
        return 200, {"type": "user", "name": self.user, "orgs": [{"name": "my-org"}]}, {}

    def _create_repo(self, request: RecordedRequest) -> tuple[int, Any, dict[str, str]]:
        payload = request.json()
        repo_type = payload.get("type") or "model"
        repo_id = f"{payload.get('organization') or self.user}/{payload['name']}"
        url = f"{self.url}/{_PREFIX[repo_type + 's']}{repo_id}"
        if (repo_type, repo_id) in self.repos:
            return 409, {"error": "You already created this repo", "url": url}, {}
        self.repos[repo_type, repo_id] = {".gitattributes": b"*.parquet filter=lfs diff=lfs merge=lfs -text\n"}
        return 200, {"url": url, "name": repo_id}, {}

    def _validate_yaml(self, request: RecordedRequest) -> tuple[int, Any, dict[str, str]]:
        content = request.json()["content"]
        match = re.match(r"---\n(.*?)\n---\n", content, re.DOTALL)
        try:
            yaml.safe_load(match.group(1) if match else "")
        except yaml.YAMLError as error:
            return 400, {"errors": [{"message": str(error)}], "warnings": []}, {}
        return 200, {"errors": [], "warnings": []}, {}

    def _files(self, repo_type: str, repo_id: str) -> dict[str, bytes] | None:
        return self.repos.get((repo_type, repo_id))

    def _not_found(self, repo: str) -> tuple[int, Any, dict[str, str]]:
        return 404, {"error": f"Repository not found: {repo}"}, {"X-Error-Code": "RepoNotFound"}

    def _tree(self, request: RecordedRequest, type: str, repo: str, rev: str, sub: str = "") -> Any:
        files = self._files(type[:-1], repo)
        if files is None:
            return self._not_found(repo)
        listing = [
            {"type": "file", "path": path, "size": len(data), "oid": hashlib.sha1(data).hexdigest()}
            for path, data in sorted(files.items())
        ]
        return 200, listing, {}

    def _preupload(self, request: RecordedRequest, type: str, repo: str, rev: str) -> Any:
        if self._files(type[:-1], repo) is None:
            return self._not_found(repo)
        modes = [
            {"path": f["path"], "uploadMode": "lfs" if f["path"].endswith(LFS_EXTENSIONS) else "regular",
             "shouldIgnore": False}
            for f in request.json()["files"]
        ]  # fmt: skip
        return 200, {"files": modes}, {}

    def _lfs_batch(self, request: RecordedRequest, repo: str, prefix: str = "") -> Any:
        if self._files(_TYPES[prefix], repo) is None:
            return self._not_found(repo)
        objects = [
            {
                "oid": item["oid"],
                "size": item["size"],
                "authenticated": True,
                "actions": {
                    "upload": {"href": f"{self.url}/lfs-upload/{item['oid']}"},
                    "verify": {"href": f"{self.url}/lfs-verify"},
                },
            }
            for item in request.json()["objects"]
        ]
        return 200, {"transfer": "basic", "objects": objects}, {}

    def _lfs_upload(self, request: RecordedRequest, oid: str) -> tuple[int, Any, dict[str, str]]:
        if hashlib.sha256(request.body).hexdigest() != oid:
            return 400, {"error": "SHA-256 of the body differs from the object id"}, {}
        with self._lock:
            self.lfs_objects[oid] = request.body
        return 200, {}, {}

    def _lfs_verify(self, request: RecordedRequest) -> tuple[int, Any, dict[str, str]]:
        item = request.json()
        stored = self.lfs_objects.get(item["oid"])
        if stored is None or len(stored) != item["size"]:
            return 404, {"error": "object not uploaded"}, {}
        return 200, {}, {}

    def _commit(self, request: RecordedRequest, type: str, repo: str, rev: str) -> Any:
        files = self._files(type[:-1], repo)
        if files is None:
            return self._not_found(repo)
        lines = [json.loads(line) for line in request.body.decode().splitlines() if line.strip()]
        header = next(line["value"] for line in lines if line["key"] == "header")
        added, deleted = {}, []
        for line in lines:
            key, value = line["key"], line["value"]
            if key == "file":
                data = base64.b64decode(value["content"])
            elif key == "lfsFile":
                data = self.lfs_objects.get(value["oid"])
                if data is None:
                    return 422, {"error": f"LFS object {value['oid']} of {value['path']} was not uploaded"}, {}
            elif key in ("deletedFile", "deletedFolder"):
                deleted.append(value["path"])
                request.operations.append({"key": key, "path": value["path"]})
                continue
            else:
                continue
            added[value["path"]] = data
            request.operations.append(
                {"key": key, "path": value["path"], "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            )
        create_pr = request.query.get("create_pr") == "1"
        commit = Commit(type[:-1], repo, header["summary"], create_pr, added, deleted)
        with self._lock:
            self.commits.append(commit)
            number = len(self.commits)
        if not create_pr:
            for path in deleted:
                files.pop(path, None)
            files.update(added)
        oid = hashlib.sha1(f"{repo}{number}".encode()).hexdigest()
        base = f"{self.url}/{_PREFIX[type]}{repo}"
        return (
            200,
            {
                "commitUrl": f"{base}/commit/{oid}",
                "commitOid": oid,
                "pullRequestUrl": f"{base}/discussions/{number}" if create_pr else None,
            },
            {},
        )

    def _resolve(self, request: RecordedRequest, repo: str, rev: str, file: str, prefix: str = "") -> Any:
        files = self._files(_TYPES[prefix], repo)
        if files is None:
            return self._not_found(repo)
        if file not in files:
            return 404, {"error": f"Entry not found: {file}"}, {"X-Error-Code": "EntryNotFound"}
        data = files[file]
        return 200, data, {"X-Repo-Commit": "0" * 40, "ETag": f'"{hashlib.sha1(data).hexdigest()}"'}


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """The request body, with a Content-Length or chunked."""
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        body = b""
        while True:
            size = int(handler.rfile.readline().strip().split(b";")[0], 16)
            if size == 0:
                handler.rfile.readline()
                return body
            body += handler.rfile.read(size)
            handler.rfile.readline()
    return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            url = urlsplit(self.path)
            request = RecordedRequest(
                method=self.command,
                path=unquote(url.path),
                query={k: v[-1] for k, v in parse_qs(url.query).items()},
                headers={k.lower(): v for k, v in self.headers.items()},
                body=_read_body(self),
            )
            with hub._lock:
                hub.requests.append(request)
            status, content, headers = hub.route(request)
            request.status = status
            data = content if isinstance(content, bytes) else json.dumps(content).encode()
            self.send_response(status)
            self.send_header(
                "Content-Type", "application/octet-stream" if isinstance(content, bytes) else "application/json"
            )
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
            """Quiet: the requests are recorded instead."""

    return Handler
