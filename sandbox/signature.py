"""The stand-ins' own check of a signed request, written from the published scheme (docs/delivery.md, "The two
receivers"; the scheme's description in the client's signing module), not from the client's code.

The string to sign is seven lines joined by "\\n" (no trailing newline), UTF-8:

    METHOD (upper case)
    path
    query: its parameters sorted by name (then value), form-encoded (space as +, reserved characters as %XX) and
           joined by &; empty when there is none
    sha256 of the body, lower-case hex
    app key
    timestamp (epoch milliseconds)
    nonce

The signature is HMAC-SHA256 or HMAC-SM3 of it under the app secret, hex (X-Sign-Method; HMAC-SHA256 when absent).
A receiver refuses an unknown app key, a timestamp more than 300 s away, a reused or malformed nonce, a malformed
signature and a mismatch. Headers: X-App-Key, X-Timestamp, X-Nonce, X-Sign-Method, X-Signature.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections import OrderedDict
from collections.abc import Mapping
from urllib.parse import quote_plus

DIGESTS = {"HMAC-SHA256": "sha256", "HMAC-SM3": "sm3"}
SKEW_SECONDS = 300
_TIMESTAMP = re.compile(r"[0-9]{10,16}")
_NONCE = re.compile(r"[A-Za-z0-9_-]{8,64}")
_HEX = re.compile(r"[0-9a-fA-F]{32,128}")


def message(method: str, path: str, query: Mapping[str, str], body: bytes, app_key: str, timestamp: str,
            nonce: str) -> bytes:  # fmt: skip
    pairs = sorted((str(k), str(v)) for k, v in query.items())
    query_line = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in pairs)
    lines = (method.upper(), path, query_line, hashlib.sha256(body).hexdigest(), app_key, timestamp, nonce)
    return "\n".join(lines).encode("utf-8")


def sign(secret: str, text: bytes, method: str = "HMAC-SHA256") -> str:
    return hmac.new(secret.encode("utf-8"), text, DIGESTS[method]).hexdigest()


class SeenNonces:
    """Nonces seen in the last 2 x 300 s, at most ``capacity`` of them (the oldest go first)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._until: OrderedDict[str, float] = OrderedDict()

    def seen(self, nonce: str) -> bool:
        now = time.time()
        while self._until and (next(iter(self._until.values())) <= now or len(self._until) > self.capacity):
            self._until.popitem(last=False)
        return nonce in self._until

    def remember(self, nonce: str) -> None:
        self._until[nonce] = time.time() + 2 * SKEW_SECONDS


def refusal(headers: Mapping[str, str], *, secrets: Mapping[str, str], method: str, path: str,
            query: Mapping[str, str], body: bytes, nonces: SeenNonces) -> str | None:  # fmt: skip
    """Why the request is refused, or None when its signature holds (header names as Starlette gives them)."""
    app_key = headers.get("x-app-key", "")
    if app_key not in secrets:
        return "unknown app key"
    timestamp, nonce = headers.get("x-timestamp", ""), headers.get("x-nonce", "")
    if not _TIMESTAMP.fullmatch(timestamp) or abs(time.time() - int(timestamp) / 1000) > SKEW_SECONDS:
        return "timestamp missing or outside the allowed clock skew"
    if not _NONCE.fullmatch(nonce):
        return "nonce missing or malformed"
    if nonces.seen(nonce):
        return "nonce reused"
    given = headers.get("x-signature", "")
    if not _HEX.fullmatch(given):
        return "signature missing or malformed (hex)"
    method_name = headers.get("x-sign-method", "HMAC-SHA256")
    if method_name not in DIGESTS:
        return f"unknown signature method {method_name!r}"
    expected = sign(secrets[app_key], message(method, path, query, body, app_key, timestamp, nonce), method_name)
    if not hmac.compare_digest(expected, given.lower()):
        return "signature mismatch"
    nonces.remember(nonce)
    return None
