"""Links staff paste on the board, understood in every form Drive and GitHub hand out.

One parser for every kind: a folder link copied from the address bar (``/drive/folders/ID``,
``/drive/u/0/folders/ID?usp=sharing``), the old ``open?id=ID`` form, a file link
(``/file/d/ID/view``), or an editor link (``docs.google.com/document/d/ID/edit``,
``spreadsheets/d/ID``) all name the same thing: a Drive id. A pasted link is only ever a
candidate: ``visible_drive_file`` asks Drive whether it names an object leadbridge can see,
and of the expected type, before anything uses it. Nothing is ever guessed from a name.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from leadbridge.domain.ports import Drive, DriveFile

#: Drive's MIME type of a folder.
FOLDER_MIME = "application/vnd.google-apps.folder"

#: Drive ids are letters, digits, ``-`` and ``_``; real ones are 25 characters or more, but
#: the sandbox and tests use shorter ones, so only an empty or absurd id is refused.
_ID = r"[A-Za-z0-9_-]{2,200}"
_PATH_FORMS = (
    re.compile(rf"/folders/({_ID})"),
    re.compile(rf"/file/d/({_ID})"),
    re.compile(rf"/(?:document|spreadsheets|presentation|drawings|forms)/(?:u/\d+/)?d/({_ID})"),
    re.compile(rf"/d/({_ID})"),
)
_ID_ONLY = re.compile(rf"^{_ID}$")
_ISSUE = re.compile(r"^/([^/]+)/([^/]+)/(?:issues|pull)/(\d+)(?:[/?#].*)?$")
_SHORT_ISSUE = re.compile(r"^\s*(?:([\w.-]+/[\w.-]+))?#(\d+)\s*$")


def _url(text: str) -> str:
    """The URL in a column value: monday shows a link as its URL, some paste ``text - url``."""
    text = (text or "").strip()
    for word in reversed(text.split()):
        if word.startswith(("http://", "https://")):
            return word
    return text


def drive_id(text: str) -> str | None:
    """The Drive id a pasted link names, in any of Drive's link forms; None when it names none.

    Only a path or query Drive uses counts; the fakes' ``https://drive.test/ID`` (a reserved
    ``.test`` host) is read as its last path segment.
    """
    url = _url(text)
    if not url:
        return None
    parts = urlsplit(url)
    if not parts.scheme:
        return None
    host = (parts.hostname or "").lower()
    if host.endswith(("github.com", "monday.com")):
        return None
    if host.endswith(".test"):
        last = parts.path.rstrip("/").rpartition("/")[2]
        return last if _ID_ONLY.match(last) else None
    for form in _PATH_FORMS:
        match = form.search(parts.path)
        if match:
            return match.group(1)
    ids = parse_qs(parts.query).get("id")
    if ids and _ID_ONLY.match(ids[0]):
        return ids[0]
    return None


def visible_drive_file(drive: Drive, text: str, *, folder: bool | None = None) -> DriveFile | None:
    """The Drive object a pasted link names, if leadbridge can see it and it is of the
    expected type (``folder``: True for a folder, False for a file, None for either)."""
    file_id = drive_id(text)
    if file_id is None:
        return None
    found = drive.get_file(file_id)
    if found is None:
        return None
    if folder is not None and (found.mime_type == FOLDER_MIME) is not folder:
        return None
    return found


def issue_link(text: str) -> tuple[str | None, int] | None:
    """``(owner/repo or None, number)`` of a pasted GitHub issue link (or ``owner/repo#12``)."""
    raw = (text or "").strip()
    short = _SHORT_ISSUE.match(raw)
    if short:
        return short.group(1), int(short.group(2))
    url = _url(raw)
    parts = urlsplit(url)
    if not parts.scheme:
        return None
    match = _ISSUE.match(parts.path)
    if match:
        return f"{match.group(1)}/{match.group(2)}", int(match.group(3))
    tail = re.search(r"/issues/(\d+)/?$", parts.path)  # a tracker without owner/repo in paths
    return (None, int(tail.group(1))) if tail else None
