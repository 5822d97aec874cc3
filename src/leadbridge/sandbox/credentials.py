"""A throwaway service-account key for the sandbox, the demo and end-to-end tests.

The key is real (freshly generated RSA), so the production credential path — reading the file,
signing the JWT, exchanging it at ``token_uri`` — runs unchanged against the local emulator.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

SANDBOX_ACCOUNT = "leadbridge@sandbox-project.iam.gserviceaccount.com"


def write_service_account_file(
    path: Path, token_uri: str, client_email: str = SANDBOX_ACCOUNT
) -> Path:
    """Write the key file (mode 0600) and return its path."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    info = {
        "type": "service_account",
        "project_id": "sandbox-project",
        "private_key_id": os.urandom(20).hex(),
        "private_key": pem,
        "client_email": client_email,
        "client_id": "100000000000000000000",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(info, handle, indent=2)
    return path
