"""In-memory implementations of the ports.

They keep the same promises as the real adapters (tags are found again, markers are found
again, a sent Message-ID is known) so that unit tests exercise the real core logic. Each one
records its calls, and ``fail_next`` scripts failures, including the nasty kind that acts
first and raises afterwards, as a crash between the external call and the ledger update would.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from leadbridge.domain.errors import ExternalError
from leadbridge.domain.model import Lead, rendered
from leadbridge.domain.ports import (
    ApiUsage,
    BoardRead,
    ColumnWrite,
    CurrentValues,
    DriveFile,
    DriveTag,
    IssueRef,
    ItemNote,
    OutgoingMail,
    hub_marker,
)

FOLDER_MIME = "application/vnd.google-apps.folder"


@dataclass
class ScriptedFailure:
    """Raise ``error`` on the next call of ``operation``; ``after_acting`` lets the call act first."""

    operation: str
    error: ExternalError
    after_acting: bool = False


@dataclass
class FakeBase:
    calls: list[tuple[str, tuple[object, ...]]] = field(default_factory=list)
    failures: list[ScriptedFailure] = field(default_factory=list)

    def fail_next(
        self, operation: str, error: ExternalError, *, after_acting: bool = False
    ) -> None:
        self.failures.append(ScriptedFailure(operation, error, after_acting))

    def _enter(self, operation: str, *args: object) -> ScriptedFailure | None:
        self.calls.append((operation, args))
        for failure in self.failures:
            if failure.operation == operation:
                self.failures.remove(failure)
                if not failure.after_acting:
                    raise failure.error
                return failure
        return None

    @staticmethod
    def _leave(failure: ScriptedFailure | None) -> None:
        if failure is not None:
            raise failure.error

    def count(self, operation: str) -> int:
        return sum(1 for name, _ in self.calls if name == operation)


@dataclass
class FakeBoard(FakeBase):
    """One recorded call per request, as monday counts them: a batch of write-backs is one
    ``write_columns`` call, whatever its size (``written`` lists the single writes).

    A scripted failure of ``read_columns``, ``write_columns`` or ``post_notes`` fails the
    whole batch, as a failed request does; ``refusing`` makes monday refuse every write and
    note for one item while the rest of the batch goes through, as one failing alias does.
    """

    items: dict[str, Lead] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    refusing: dict[str, ExternalError] = field(default_factory=dict)
    written: list[ColumnWrite] = field(default_factory=list)
    posted: list[ItemNote] = field(default_factory=list)
    _clock: itertools.count = field(default_factory=lambda: itertools.count(1))

    def put(self, lead: Lead) -> None:
        """A staff edit: the item changes and becomes visible to the next incremental read."""
        self.items[lead.item_id] = lead
        self.versions[lead.item_id] = next(self._clock)

    def set_status(self, item_id: str, column: str, label: str) -> None:
        lead = self.items[item_id]
        self.put(replace(lead, values={**lead.values, column: label}))

    def read_items(self, since: str | None) -> BoardRead:
        self._enter("read_items", since)
        mark = int(since) if since else 0
        changed = [self.items[i] for i, v in self.versions.items() if v > mark]
        top = max(self.versions.values(), default=0)
        return BoardRead(items=changed, watermark=str(top), complete=since is None)

    def read_columns(self, wanted: Mapping[str, Sequence[str]]) -> CurrentValues:
        try:
            failure = self._enter("read_columns", {i: tuple(c) for i, c in wanted.items()})
        except ExternalError as error:
            return dict.fromkeys(wanted, error)
        found: dict[str, Mapping[str, str] | ExternalError] = {}
        for item_id, columns in wanted.items():
            lead = self.items[item_id]
            found[item_id] = failure.error if failure else {c: lead.value(c) for c in columns}
        return found

    def write_columns(self, writes: Sequence[ColumnWrite]) -> list[ExternalError | None]:
        try:
            failure = self._enter("write_columns", tuple(writes))
        except ExternalError as error:
            return [error] * len(writes)
        results: list[ExternalError | None] = []
        for write in writes:
            refused = self.refusing.get(write.item_id)
            if refused is None:
                self.written.append(write)
                lead = self.items[write.item_id]
                shown = {column: rendered(value) for column, value in write.values.items()}
                self.items[write.item_id] = replace(lead, values={**lead.values, **shown})
                self.versions[write.item_id] = next(self._clock)
            results.append(refused or (failure.error if failure else None))
        return results

    def post_notes(self, notes: Sequence[ItemNote]) -> list[ExternalError | None]:
        try:
            failure = self._enter("post_notes", tuple(notes))
        except ExternalError as error:
            return [error] * len(notes)
        results: list[ExternalError | None] = []
        for note in notes:
            refused = self.refusing.get(note.item_id)
            if refused is None:
                self.posted.append(note)
                self.notes.setdefault(note.item_id, []).append(note.text)
            results.append(refused or (failure.error if failure else None))
        return results

    def usage(self) -> ApiUsage:
        return ApiUsage(requests=len(self.calls))


@dataclass
class FakeDrive(FakeBase):
    files: dict[str, tuple[DriveFile, str, DriveTag | None]] = field(default_factory=dict)
    filled: dict[str, dict[str, str]] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def add_template(self, file_id: str, name: str, mime_type: str) -> None:
        self.files[file_id] = (
            DriveFile(file_id, name, f"https://drive.test/{file_id}", mime_type),
            "",
            None,
        )

    def _new(self, name: str, mime_type: str, parent_id: str, tag: DriveTag) -> DriveFile:
        file_id = f"f{next(self._ids)}"
        file = DriveFile(file_id, name, f"https://drive.test/{file_id}", mime_type)
        self.files[file_id] = (file, parent_id, tag)
        return file

    def find_tagged(self, tag: DriveTag, parent_id: str) -> DriveFile | None:
        self._enter("find_tagged", tag, parent_id)
        for file, parent, file_tag in self.files.values():
            if file_tag == tag and parent == parent_id:
                return file
        return None

    def add_folder(self, file_id: str, name: str, parent_id: str = "") -> DriveFile:
        """A folder staff made by hand: untagged, found only by its id."""
        file = DriveFile(file_id, name, f"https://drive.test/{file_id}", FOLDER_MIME)
        self.files[file_id] = (file, parent_id, None)
        return file

    def add_file(self, file_id: str, name: str, parent_id: str, mime_type: str = "") -> DriveFile:
        """A file staff put somewhere by hand (a copy, a signed contract)."""
        file = DriveFile(file_id, name, f"https://drive.test/{file_id}", mime_type)
        self.files[file_id] = (file, parent_id, None)
        return file

    def get_file(self, file_id: str) -> DriveFile | None:
        self._enter("get_file", file_id)
        found = self.files.get(file_id)
        return found[0] if found is not None else None

    def list_files(self, folder_id: str) -> list[DriveFile]:
        self._enter("list_files", folder_id)
        return [file for file, parent, _ in self.files.values() if parent == folder_id]

    def parent_of(self, file_id: str) -> str:
        return self.files[file_id][1]

    def create_folder(self, name: str, parent_id: str, tag: DriveTag) -> DriveFile:
        failure = self._enter("create_folder", name, parent_id, tag)
        file = self._new(name, FOLDER_MIME, parent_id, tag)
        self._leave(failure)
        return file

    def copy_file(self, source_id: str, name: str, parent_id: str, tag: DriveTag) -> DriveFile:
        failure = self._enter("copy_file", source_id, name, parent_id, tag)
        source = self.files[source_id][0]
        file = self._new(name, source.mime_type, parent_id, tag)
        self._leave(failure)
        return file

    def fill_placeholders(self, file: DriveFile, replacements: Mapping[str, str]) -> None:
        failure = self._enter("fill_placeholders", file.id, dict(replacements))
        self.filled[file.id] = dict(replacements)
        self._leave(failure)

    def created(self, tag_key: str | None = None) -> list[DriveFile]:
        return [
            file
            for file, _, tag in self.files.values()
            if tag is not None and (tag_key is None or tag.key == tag_key)
        ]


@dataclass
class FakeMailer(FakeBase):
    sent: list[OutgoingMail] = field(default_factory=list)
    can_tell: bool = True

    def was_sent(self, message_id: str) -> bool | None:
        self._enter("was_sent", message_id)
        if not self.can_tell:
            return None
        return any(mail.message_id == message_id for mail in self.sent)

    def send(self, mail: OutgoingMail) -> None:
        failure = self._enter("send", mail)
        self.sent.append(mail)
        self._leave(failure)


@dataclass
class FakeIssueTracker(FakeBase):
    issues: list[tuple[IssueRef, str, str, tuple[str, ...]]] = field(default_factory=list)

    def find_issue(self, item_id: str) -> IssueRef | None:
        self._enter("find_issue", item_id)
        marker = hub_marker(item_id)
        for ref, _title, body, _labels in self.issues:
            if body.rstrip().endswith(marker):
                return ref
        return None

    def create_issue(self, title: str, body: str, labels: Sequence[str]) -> IssueRef:
        failure = self._enter("create_issue", title, body, tuple(labels))
        number = len(self.issues) + 1
        ref = IssueRef(number, f"https://github.test/issues/{number}")
        self.issues.append((ref, title, body, tuple(labels)))
        self._leave(failure)
        return ref

    def issue_states(self, numbers: Sequence[int]) -> Mapping[int, str]:
        self._enter("issue_states", tuple(numbers))
        return {ref.number: ref.state for ref, *_ in self.issues if ref.number in numbers}
