"""A loopback GitHub serving the few REST endpoints the adapter uses, for the real transport.

It answers the way api.github.com does where the adapter depends on it: ``url`` fields under
the same base URL (PyGithub refuses others), the ``creator``/``state`` filters and page
numbers of the issue list, pull requests among issues, 422 for a body over 65,536 characters,
404 for an unknown label. ``script`` makes the next matching request fail, optionally after
acting, as a 502 that follows a successful create does.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from leadbridge.settings import Settings

PREFIX = "/github"
BODY_LIMIT = 65_536
TOKEN = "ghp_SECRET0123456789abcdef"
ISSUES_PATH = "/repos/2i2c-org/infrastructure/issues"


@dataclass
class Scripted:
    method: str
    path: str
    status: int
    payload: dict[str, Any]
    headers: dict[str, str]
    act_first: bool
    delay_seconds: float


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    authorization: str


@dataclass
class FakeGitHub:
    token: str
    repository: str = "2i2c-org/infrastructure"
    login: str = "leadbridge-bot"
    labels: set[str] = field(default_factory=lambda: {"Hub"})
    permissions: dict[str, bool] | None = field(
        default_factory=lambda: {"admin": False, "push": True, "triage": True, "pull": True}
    )
    issues: list[dict[str, Any]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    scripts: list[Scripted] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------ control

    def __enter__(self) -> FakeGitHub:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self)

            def do_POST(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}{PREFIX}"

    def script(
        self,
        method: str,
        path: str,
        status: int,
        payload: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
        act_first: bool = False,
        delay_seconds: float = 0.0,
    ) -> None:
        """The next ``method`` request to ``path`` (after the prefix) answers ``status``."""
        self.scripts.append(
            Scripted(method, path, status, payload or {}, headers or {}, act_first, delay_seconds)
        )

    def add_issue(
        self,
        body: str,
        *,
        creator: str | None = None,
        state: str = "open",
        pull_request: bool = False,
        title: str = "an issue",
    ) -> dict[str, Any]:
        with self._lock:
            return self._store(title, body, ["Hub"], creator or self.login, state, pull_request)

    def requests(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path == path]

    # ------------------------------------------------------------ serving

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(request.path)
        path = unquote(parts.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(request.headers.get("Content-Length") or 0)
        data = json.loads(request.rfile.read(length) or b"{}") if length else {}
        auth = request.headers.get("Authorization", "")
        with self._lock:
            self.seen.append(Seen(request.command, path.removeprefix(PREFIX), query, auth))
            scripted = self._take_script(request.command, path.removeprefix(PREFIX))
        if scripted is not None and scripted.delay_seconds:
            time.sleep(scripted.delay_seconds)
        if scripted is not None and not scripted.act_first:
            self._send(request, scripted.status, scripted.payload, scripted.headers)
            return
        with self._lock:
            status, payload = self._route(request.command, path, query, data, auth)
        if scripted is not None:
            status, payload = scripted.status, scripted.payload
        self._send(request, status, payload, scripted.headers if scripted else {})

    def _take_script(self, method: str, path: str) -> Scripted | None:
        for scripted in self.scripts:
            if scripted.method == method and scripted.path == path:
                self.scripts.remove(scripted)
                return scripted
        return None

    def _route(
        self, method: str, path: str, query: dict[str, str], data: dict[str, Any], auth: str
    ) -> tuple[int, Any]:
        if auth not in (f"token {self.token}", f"Bearer {self.token}"):
            return 401, {"message": "Bad credentials"}
        if not path.startswith(PREFIX + "/"):
            return 404, {"message": "Not Found"}
        path = path.removeprefix(PREFIX)
        if path == "/user" and method == "GET":
            return 200, {"login": self.login, "id": 1, "url": f"{self.base_url}/users/bot"}
        repo_path = f"/repos/{self.repository}"
        if not (path == repo_path or path.startswith(repo_path + "/")):
            return 404, {"message": "Not Found"}
        rest = path.removeprefix(repo_path)
        if rest == "" and method == "GET":
            return 200, self._repo_json()
        if rest.startswith("/labels/") and method == "GET":
            name = rest.removeprefix("/labels/")
            if name in self.labels:
                return 200, {"name": name, "color": "ededed", "url": f"{self.base_url}{path}"}
            return 404, {"message": "Not Found"}
        if rest == "/issues" and method == "GET":
            return 200, self._list(query)
        if rest == "/issues" and method == "POST":
            return self._create(data)
        if rest.startswith("/issues/") and method == "GET":
            number = int(rest.removeprefix("/issues/"))
            found = [i for i in self.issues if i["number"] == number]
            return (200, found[0]) if found else (404, {"message": "Not Found"})
        return 404, {"message": "Not Found"}

    def _repo_json(self) -> dict[str, Any]:
        repo: dict[str, Any] = {
            "full_name": self.repository,
            "has_issues": True,
            "url": f"{self.base_url}/repos/{self.repository}",
        }
        if self.permissions is not None:
            repo["permissions"] = self.permissions
        return repo

    def _list(self, query: dict[str, str]) -> list[dict[str, Any]]:
        state = query.get("state", "open")
        chosen = [
            issue
            for issue in self.issues
            if (state == "all" or issue["state"] == state)
            and ("creator" not in query or issue["user"]["login"] == query["creator"])
            and all(
                name in {label["name"] for label in issue["labels"]}
                for name in filter(None, query.get("labels", "").split(","))
            )
        ]
        if query.get("direction", "desc") == "desc":
            chosen.reverse()
        per_page = int(query.get("per_page", 30))
        page = int(query.get("page", 1))
        return chosen[(page - 1) * per_page : page * per_page]

    def _create(self, data: dict[str, Any]) -> tuple[int, Any]:
        title = data.get("title") or ""
        body = data.get("body") or ""
        problems = []
        if not title:
            problems.append({"resource": "Issue", "code": "missing_field", "field": "title"})
        if len(title) > 256:
            problems.append({"message": "title is too long (maximum is 256 characters)"})
        if len(body) > BODY_LIMIT:
            problems.append({"message": f"body is too long (maximum is {BODY_LIMIT} characters)"})
        if problems:
            return 422, {"message": "Validation Failed", "errors": problems}
        issue = self._store(title, body, list(data.get("labels") or []), self.login, "open", False)
        return 201, issue

    def _store(
        self,
        title: str,
        body: str,
        labels: list[str],
        creator: str,
        state: str,
        pull_request: bool,
    ) -> dict[str, Any]:
        number = len(self.issues) + 1
        issue: dict[str, Any] = {
            "number": number,
            "title": title,
            "body": body,
            "state": state,
            "labels": [{"name": name} for name in labels],
            "user": {"login": creator},
            "url": f"{self.base_url}/repos/{self.repository}/issues/{number}",
            "html_url": f"https://github.test/{self.repository}/issues/{number}",
        }
        if pull_request:
            issue["pull_request"] = {"url": f"{self.base_url}/repos/{self.repository}/pulls/1"}
            issue["html_url"] = f"https://github.test/{self.repository}/pull/{number}"
        self.issues.append(issue)
        return issue

    @staticmethod
    def _send(
        request: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict[str, str]
    ) -> None:
        body = json.dumps(payload).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json; charset=utf-8")
        request.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(body)


def make_settings(fake: FakeGitHub, **github: object) -> Settings:
    return Settings(
        github={
            "token": TOKEN,
            "base_url": fake.base_url,
            "seconds_between_writes": 0,
            "timeout_seconds": 5,
            **github,
        }
    )
