"""Request signing shared by the department APIs and the municipal intake (app key + secret).

The string to sign puts method, path, sorted query, body digest, app key, timestamp and nonce on
separate lines; the signature is HMAC-SHA256 or HMAC-SM3 (国密) over it, hex encoded. The receiving
side recomputes it and refuses stale timestamps and reused nonces.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Mapping
from urllib.parse import urlencode

ALGORITHMS = {"HMAC-SHA256": "sha256", "HMAC-SM3": "sm3"}
MAX_CLOCK_SKEW_SECONDS = 300


def string_to_sign(
    method: str, path: str, query: Mapping[str, str], body: bytes, app_key: str, timestamp: str, nonce: str
) -> bytes:
    canonical_query = urlencode(sorted((str(k), str(v)) for k, v in query.items()))
    lines = [
        method.upper(),
        path,
        canonical_query,
        hashlib.sha256(body).hexdigest(),
        app_key,
        timestamp,
        nonce,
    ]
    return "\n".join(lines).encode("utf-8")


def signature(secret: str, message: bytes, algorithm: str = "HMAC-SHA256") -> str:
    try:
        digest = ALGORITHMS[algorithm]
    except KeyError:
        raise ValueError(f"unknown signature algorithm {algorithm!r}; use one of {sorted(ALGORITHMS)}") from None
    if digest not in hashlib.algorithms_available:
        raise ValueError(f"{algorithm} needs OpenSSL with {digest}, which this Python lacks")
    return hmac.new(secret.encode("utf-8"), message, digest).hexdigest()


def signed_headers(
    *,
    app_key: str,
    secret: str,
    method: str,
    path: str,
    query: Mapping[str, str] | None = None,
    body: bytes = b"",
    algorithm: str = "HMAC-SHA256",
) -> dict[str, str]:
    timestamp = str(int(time.time() * 1000))
    nonce = uuid.uuid4().hex
    message = string_to_sign(method, path, query or {}, body, app_key, timestamp, nonce)
    return {
        "X-App-Key": app_key,
        "X-Timestamp": timestamp,
        "X-Nonce": nonce,
        "X-Sign-Method": algorithm,
        "X-Signature": signature(secret, message, algorithm),
    }


def verify(
    headers: Mapping[str, str],
    *,
    secrets: Mapping[str, str],
    method: str,
    path: str,
    query: Mapping[str, str],
    body: bytes,
    seen_nonces: set[str],
) -> str | None:
    """Return why a request is refused, or None when its signature holds."""
    app_key = headers.get("x-app-key", "")
    if app_key not in secrets:
        return "unknown app key"
    timestamp, nonce = headers.get("x-timestamp", ""), headers.get("x-nonce", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp) / 1000) > MAX_CLOCK_SKEW_SECONDS:
        return "timestamp missing or outside the allowed clock skew"
    if not nonce or nonce in seen_nonces:
        return "nonce missing or reused"
    algorithm = headers.get("x-sign-method", "HMAC-SHA256")
    try:
        expected = signature(
            secrets[app_key], string_to_sign(method, path, query, body, app_key, timestamp, nonce), algorithm
        )
    except ValueError as exc:
        return str(exc)
    if not hmac.compare_digest(expected, headers.get("x-signature", "")):
        return "signature mismatch"
    seen_nonces.add(nonce)
    return None
