"""Once over real loopback HTTP: the token comes from the overridden token_uri and every API
call goes to the overridden root, as the sandbox needs."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fake_google import FakeGoogle

from leadbridge.adapters.google.drive import FOLDER, GoogleDrive
from leadbridge.adapters.mail.factory import build_mailer
from leadbridge.domain.ports import DriveTag, OutgoingMail
from leadbridge.sandbox.credentials import write_service_account_file
from leadbridge.settings import GoogleSettings, MailSettings, Settings


@pytest.fixture
def server(google: FakeGoogle) -> Iterator[tuple[str, list[tuple[str, str, str]]]]:
    seen: list[tuple[str, str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length).decode() if length else None
            seen.append((self.command, self.path, self.headers.get("authorization") or ""))
            status, payload, _ = google.handle(self.command, self.path, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # A short poll interval: shutdown() waits for the next poll (0.5 s by default).
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/google/", seen
    httpd.shutdown()
    httpd.server_close()


def test_token_and_api_calls_go_to_the_overridden_endpoints(
    server: tuple[str, list[tuple[str, str, str]]], google: FakeGoogle, tmp_path: Path
) -> None:
    root, seen = server
    # The key file names Google's token endpoint; the setting must win.
    key = write_service_account_file(tmp_path / "sa.json", "https://oauth2.googleapis.com/token")
    settings = Settings(
        google=GoogleSettings(
            service_account_file=key,
            subject="sales@example.org",
            api_base_url=root,
            token_uri=root + "token",
            leads_folder_id="LEADS",
            timeout_seconds=5,
        ),
        mail=MailSettings(backend="gmail", sender="sales@example.org"),
    )

    drive = GoogleDrive.from_settings(settings)
    folder = drive.create_folder("Acme", "LEADS", DriveTag("42", "lead_folder"))
    mailer = build_mailer(settings)
    mailer.send(OutgoingMail("leadbridge.42.x", ("a@acme.example",), "Hi", "Body"))

    assert google.files[folder.id]["mimeType"] == FOLDER
    assert len(google.sent) == 1
    paths = [(method, path.split("?")[0]) for method, path, _ in seen]
    assert paths == [
        ("POST", "/google/token"),
        ("POST", "/google/drive/v3/files"),
        ("POST", "/google/token"),
        ("POST", "/google/gmail/v1/users/me/messages/send"),
    ]
    assert all(auth == "Bearer ya29.fake" for _, _, auth in seen[1::2])
