"""Request signing shared by the department APIs and the municipal intake (app key + secret).

The string to sign puts method, path, sorted query, body digest, app key, timestamp and nonce on
separate lines; the signature is HMAC-SHA256 or HMAC-SM3 (国密) over it, hex encoded. The receiving
side recomputes it and refuses stale timestamps and reused nonces.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
import uuid
from collections import OrderedDict
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


TIMESTAMP = re.compile(r"[0-9]{10,16}")  # epoch milliseconds, ASCII digits only (str.isdigit takes "¹²³")
NONCE = re.compile(r"[A-Za-z0-9_-]{8,64}")
SIGNATURE = re.compile(r"[0-9a-fA-F]{32,128}")


class NonceCache:
    """The nonces seen within the clock-skew window, bounded: a nonce is kept until its timestamp can no longer
    pass the skew check (after that a replay fails on the timestamp), and at most ``capacity`` are kept, the
    oldest going first. Memory stays flat however long a receiver runs."""

    def __init__(self, capacity: int = 100_000, window_seconds: float = 2 * MAX_CLOCK_SKEW_SECONDS) -> None:
        self.capacity, self.window_seconds = capacity, window_seconds
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def _expire(self, now: float) -> None:
        while self._expiry and (next(iter(self._expiry.values())) <= now or len(self._expiry) > self.capacity):
            self._expiry.popitem(last=False)

    def __contains__(self, nonce: object) -> bool:
        self._expire(time.time())
        return nonce in self._expiry

    def add(self, nonce: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self._expiry[nonce] = now + self.window_seconds
        self._expire(now)

    def __len__(self) -> int:
        return len(self._expiry)


def verify(
    headers: Mapping[str, str],
    *,
    secrets: Mapping[str, str],
    method: str,
    path: str,
    query: Mapping[str, str],
    body: bytes,
    seen_nonces: NonceCache | set[str],
) -> str | None:
    """Return why a request is refused, or None when its signature holds. Malformed headers (non-ASCII,
    superscript digits, control characters, wrong lengths) are refusals with a reason, never an exception."""
    app_key = headers.get("x-app-key", "")
    if app_key not in secrets:
        return "unknown app key"
    timestamp, nonce = headers.get("x-timestamp", ""), headers.get("x-nonce", "")
    if not TIMESTAMP.fullmatch(timestamp) or abs(time.time() - int(timestamp) / 1000) > MAX_CLOCK_SKEW_SECONDS:
        return "timestamp missing or outside the allowed clock skew"
    if not NONCE.fullmatch(nonce):
        return "nonce missing or malformed (8 to 64 letters, digits, - or _)"
    if nonce in seen_nonces:
        return "nonce reused"
    given = headers.get("x-signature", "")
    if not SIGNATURE.fullmatch(given):
        return "signature missing or malformed (hex)"
    algorithm = headers.get("x-sign-method", "HMAC-SHA256")
    try:
        expected = signature(
            secrets[app_key], string_to_sign(method, path, query, body, app_key, timestamp, nonce), algorithm
        )
    except ValueError as exc:
        return str(exc)
    if not hmac.compare_digest(expected, given.lower()):
        return "signature mismatch"
    seen_nonces.add(nonce)
    return None
