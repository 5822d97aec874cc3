"""GitHub REST under ``{root}/github``: the user, a repository, its labels and its issues.

Every URL in an answer (``url``, ``Link`` headers) is built from the sandbox's own base URL,
because PyGithub follows them and refuses a host or prefix that differs from its
``base_url``. ``html_url`` is never followed, so it keeps github.com's form.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlencode

from leadbridge.sandbox.http import Call, Request, Response
from leadbridge.sandbox.state import GitHubIssue, GitHubLabel, GitHubRepo, SandboxState

MAX_BODY = 65_536
DOCS = "https://docs.github.com/rest"
RATE_HEADERS = {
    "X-RateLimit-Limit": "5000",
    "X-RateLimit-Remaining": "4999",
    "X-RateLimit-Used": "1",
    "X-RateLimit-Reset": "4102444800",
    "X-RateLimit-Resource": "core",
}

Handler = Callable[[Request, re.Match[str]], Response]


class GitHubApi:
    def __init__(self, state: SandboxState, base_url: Callable[[], str]) -> None:
        self.state = state
        self._base_url = base_url
        repo = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
        self.routes: list[tuple[str, re.Pattern[str], str, Handler]] = [
            ("GET", re.compile(r"/user"), "users.get", self.user),
            ("GET", re.compile(repo), "repos.get", self.repository),
            ("GET", re.compile(repo + r"/labels"), "labels.list", self.labels),
            ("POST", re.compile(repo + r"/labels"), "labels.create", self.create_label),
            ("GET", re.compile(repo + r"/labels/(?P<name>[^/]+)"), "labels.get", self.label),
            ("GET", re.compile(repo + r"/issues"), "issues.list", self.issues),
            ("POST", re.compile(repo + r"/issues"), "issues.create", self.create_issue),
            ("GET", re.compile(repo + r"/issues/(?P<number>\d+)"), "issues.get", self.issue),
            (
                "PATCH",
                re.compile(repo + r"/issues/(?P<number>\d+)"),
                "issues.update",
                self.update_issue,
            ),
        ]

    @property
    def base(self) -> str:
        return self._base_url().rstrip("/") + "/github"

    def route(self, request: Request) -> Call:
        path = request.path.removeprefix("/api/v3")
        by_id = re.fullmatch(r"/repositories/(?P<id>\d+)(?P<rest>/.*)?", path)
        if by_id is not None:
            # GitHub's stable address of a repository, where a renamed one redirects to.
            found = self.state.github.repo_by_id(int(by_id["id"]))
            if found is None:
                return Call("github", ("unknown",), lambda: _message(404, "Not Found"))
            path = f"/repos/{found.owner}/{found.name}{by_id['rest'] or ''}"
        moved = self._moved(path)
        if moved is not None:
            return Call(
                "github", ("repos.redirect",), lambda: self._guarded(request, moved, self._redirect)
            )
        for method, pattern, operation, handler in self.routes:
            match = pattern.fullmatch(path)
            if match is not None and method == request.method:
                return Call(
                    "github", (operation,), lambda h=handler, m=match: self._guarded(request, m, h)
                )
        return Call("github", ("unknown",), lambda: _message(404, "Not Found"))

    def _moved(self, path: str) -> re.Match[str] | None:
        """A path under a repository's old name, which GitHub answers with a redirect."""
        match = re.fullmatch(r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)(?P<rest>/.*)?", path)
        if match is None:
            return None
        old = f"{match['owner']}/{match['repo']}".lower()
        if old not in self.state.github.renamed or self.state.github.repo(old) is not None:
            return None
        return match

    def _redirect(self, request: Request, match: re.Match[str]) -> Response:
        """301 for reads, 307 for writes, to ``/repositories/<id>/…`` as GitHub answers."""
        repo_id = self.state.github.renamed[f"{match['owner']}/{match['repo']}".lower()]
        location = f"{self.base}/repositories/{repo_id}{match['rest'] or ''}"
        if request.query:
            location += "?" + urlencode(request.query, doseq=True)
        status = 301 if request.method in ("GET", "HEAD") else 307
        message = "Moved Permanently" if status == 301 else "Temporary Redirect"
        return Response.json(
            status,
            {"message": message, "url": location, "documentation_url": DOCS},
            {"Location": location},
        )

    def _guarded(self, request: Request, match: re.Match[str], handler: Handler) -> Response:
        authorization = request.header("Authorization") or ""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() not in ("token", "bearer") or token.strip() != self.state.github.token:
            return _message(401, "Bad credentials")
        with self.state.lock:
            response = handler(request, match)
        response.headers.update(RATE_HEADERS)
        return response

    # ------------------------------------------------------------ shapes

    def _repo_url(self, repo: GitHubRepo) -> str:
        return f"{self.base}/repos/{repo.owner}/{repo.name}"

    def _user(self, login: str) -> dict[str, Any]:
        return {
            "login": login,
            "id": 1000 + len(login),
            "type": "User",
            "site_admin": False,
            "url": f"{self.base}/users/{login}",
            "html_url": f"https://github.com/{login}",
        }

    def _label(self, repo: GitHubRepo, label: GitHubLabel) -> dict[str, Any]:
        return {
            "id": label.id,
            "node_id": f"LA_{label.id}",
            "url": f"{self._repo_url(repo)}/labels/{label.name}",
            "name": label.name,
            "color": label.color,
            "default": False,
            "description": label.description or None,
        }

    def _issue(self, repo: GitHubRepo, issue: GitHubIssue) -> dict[str, Any]:
        labels = [repo.label(name) for name in issue.labels]
        return {
            "id": issue.id,
            "node_id": f"I_{issue.id}",
            "number": issue.number,
            "url": f"{self._repo_url(repo)}/issues/{issue.number}",
            "repository_url": self._repo_url(repo),
            "html_url": f"https://github.com/{repo.full_name}/issues/{issue.number}",
            "title": issue.title,
            "body": issue.body,
            "state": issue.state,
            "state_reason": "completed" if issue.state == "closed" else None,
            "locked": False,
            "user": self._user(issue.user),
            "labels": [self._label(repo, label) for label in labels if label is not None],
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "comments": 0,
            "created_at": issue.created_at,
            "updated_at": issue.updated_at,
            "closed_at": issue.closed_at,
            "author_association": "MEMBER",
        }

    def _repo(self, match: re.Match[str]) -> GitHubRepo | None:
        return self.state.github.repo(f"{match['owner']}/{match['repo']}")

    # ------------------------------------------------------------ handlers

    def user(self, request: Request, match: re.Match[str]) -> Response:
        return Response.json(200, self._user(self.state.github.login))

    def repository(self, request: Request, match: re.Match[str]) -> Response:
        repo = self._repo(match)
        if repo is None:
            return _message(404, "Not Found")
        url = self._repo_url(repo)
        return Response.json(
            200,
            {
                "id": repo.id,
                "node_id": f"R_{repo.id}",
                "name": repo.name,
                "full_name": repo.full_name,
                "owner": {**self._user(repo.owner), "type": "Organization"},
                "private": False,
                "url": url,
                "html_url": f"https://github.com/{repo.full_name}",
                "issues_url": url + "/issues{/number}",
                "labels_url": url + "/labels{/name}",
                "has_issues": True,
                "archived": False,
                "disabled": False,
                "default_branch": "main",
                "open_issues_count": sum(1 for i in repo.issues if i.state == "open"),
                "permissions": dict(self.state.github.permissions),
            },
        )

    def labels(self, request: Request, match: re.Match[str]) -> Response:
        repo = self._repo(match)
        if repo is None:
            return _message(404, "Not Found")
        everything = [self._label(repo, label) for label in repo.labels.values()]
        return self._paginated(request, f"{self._repo_url(repo)}/labels", everything)

    def label(self, request: Request, match: re.Match[str]) -> Response:
        repo = self._repo(match)
        label = repo.label(unquote(match["name"])) if repo else None
        if repo is None or label is None:
            return _message(404, "Not Found")
        return Response.json(200, self._label(repo, label))

    def create_label(self, request: Request, match: re.Match[str]) -> Response:
        repo = self._repo(match)
        if repo is None:
            return _message(404, "Not Found")
        body = request.json()
        name = body.get("name", "")
        if not name or repo.label(name) is not None:
            return _validation("Label", "name", "already_exists" if name else "missing_field")
        label = add_label(
            self.state, repo, name, body.get("color", "ededed"), body.get("description", "")
        )
        return Response.json(201, self._label(repo, label))

    def issues(self, request: Request, match: re.Match[str]) -> Response:
        repo = self._repo(match)
        if repo is None:
            return _message(404, "Not Found")
        state = request.arg("state", "open")
        wanted = [n.strip().lower() for n in (request.arg("labels") or "").split(",") if n.strip()]
        creator = request.arg("creator")
        chosen = [
            issue
            for issue in repo.issues
            if (state == "all" or issue.state == state)
            and all(w in {n.lower() for n in issue.labels} for w in wanted)
            and (creator is None or issue.user == creator)
        ]
        newest_first = request.arg("direction", "desc") == "desc"
        chosen.sort(key=lambda i: i.number, reverse=newest_first)
        everything = [self._issue(repo, issue) for issue in chosen]
        return self._paginated(request, f"{self._repo_url(repo)}/issues", everything)

    def create_issue(self, request: Request, match: re.Match[str]) -> Response:
        repo = self._repo(match)
        if repo is None:
            return _message(404, "Not Found")
        body = request.json()
        title = body.get("title")
        if not isinstance(title, str) or not title.strip():
            return _validation("Issue", "title", "missing_field")
        text = body.get("body") or ""
        if len(text) > MAX_BODY:
            return _validation(
                "Issue", "body", "custom", f"body is too long (maximum is {MAX_BODY} characters)"
            )
        names: list[str] = []
        for entry in body.get("labels") or []:
            name = entry["name"] if isinstance(entry, dict) else str(entry)
            # Observed GitHub behaviour: an unknown label is created on the fly.
            label = repo.label(name) or add_label(self.state, repo, name)
            names.append(label.name)
        now = self.state.clock.iso()
        issue = GitHubIssue(
            id=5_000_000 + self.state.next_id(),
            number=len(repo.issues) + 1,
            title=title,
            body=text,
            labels=names,
            user=self.state.github.login,
            created_at=now,
            updated_at=now,
        )
        repo.issues.append(issue)
        payload = self._issue(repo, issue)
        return Response.json(201, payload, {"Location": payload["url"]})

    def issue(self, request: Request, match: re.Match[str]) -> Response:
        repo = self._repo(match)
        found = _find_issue(repo, int(match["number"])) if repo else None
        if repo is None or found is None:
            return _message(404, "Not Found")
        return Response.json(200, self._issue(repo, found))

    def update_issue(self, request: Request, match: re.Match[str]) -> Response:
        repo = self._repo(match)
        found = _find_issue(repo, int(match["number"])) if repo else None
        if repo is None or found is None:
            return _message(404, "Not Found")
        body = request.json()
        if body.get("state") in ("open", "closed"):
            found.state = body["state"]
            found.closed_at = self.state.clock.iso() if found.state == "closed" else None
        for key in ("title", "body"):
            if isinstance(body.get(key), str):
                setattr(found, key, body[key])
        found.updated_at = self.state.clock.iso()
        return Response.json(200, self._issue(repo, found))

    # ------------------------------------------------------------ pagination

    def _paginated(self, request: Request, url: str, everything: list[dict[str, Any]]) -> Response:
        per_page = max(1, min(int(request.arg("per_page", "30") or 30), 100))
        page = max(1, int(request.arg("page", "1") or 1))
        last = max(1, -(-len(everything) // per_page))
        chunk = everything[(page - 1) * per_page : page * per_page]
        params = {k: v[0] for k, v in request.query.items() if k not in ("page",)}

        def link(number: int, rel: str) -> str:
            return f'<{url}?{urlencode({**params, "page": number})}>; rel="{rel}"'

        links = []
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(page - 1, "prev")]
        headers = {"Link": ", ".join(links)} if links else {}
        return Response.json(200, chunk, headers)


def add_label(
    state: SandboxState, repo: GitHubRepo, name: str, color: str = "ededed", description: str = ""
) -> GitHubLabel:
    label = GitHubLabel(
        id=3_000_000 + state.next_id(), name=name, color=color, description=description
    )
    repo.labels[name.lower()] = label
    return label


def _find_issue(repo: GitHubRepo, number: int) -> GitHubIssue | None:
    return next((issue for issue in repo.issues if issue.number == number), None)


def _message(status: int, message: str) -> Response:
    return Response.json(
        status, {"message": message, "documentation_url": DOCS, "status": str(status)}
    )


def _validation(resource: str, field: str, code: str, message: str | None = None) -> Response:
    error: dict[str, Any] = {"resource": resource, "code": code, "field": field}
    if message:
        error["message"] = message
    return Response.json(
        422,
        {
            "message": "Validation Failed",
            "errors": [error],
            "documentation_url": DOCS,
            "status": "422",
        },
    )
