"""Signed requests: a good signature passes once; every malformed header is a refusal with a reason (a 401 at the
receiver), never an exception; the nonce cache stays bounded and forgets what the clock check already refuses."""

from __future__ import annotations

import time

import pytest

from connectors.signing import NonceCache, signed_headers, verify

pytestmark = pytest.mark.unit

SECRETS = {"wj-bridge": "s" * 40}


def check(headers: dict[str, str], nonces=None) -> str | None:
    lowered = {k.lower(): v for k, v in headers.items()}
    return verify(lowered, secrets=SECRETS, method="GET", path="/cases", query={"pageNo": "1"}, body=b"",
                  seen_nonces=NonceCache() if nonces is None else nonces)  # fmt: skip


def good() -> dict[str, str]:
    return signed_headers(app_key="wj-bridge", secret=SECRETS["wj-bridge"], method="GET", path="/cases",
                          query={"pageNo": "1"})  # fmt: skip


def test_a_good_signature_passes_once():
    nonces, headers = NonceCache(), good()
    assert check(headers, nonces) is None
    assert check(headers, nonces) == "nonce reused"


@pytest.mark.parametrize(
    ("header", "value", "reason"),
    [
        ("X-Signature", "ａｂｃ１２３" * 8, "signature missing or malformed"),  # full-width, non-ASCII
        ("X-Signature", "é" * 64, "signature missing or malformed"),
        ("X-Signature", "", "signature missing or malformed"),
        ("X-Timestamp", "¹⁷⁶⁴⁵⁰⁰⁰⁰⁰⁰⁰⁰", "timestamp missing or outside"),  # superscripts pass str.isdigit()
        ("X-Timestamp", "１７６４５００００００００", "timestamp missing or outside"),
        ("X-Timestamp", "9" * 400, "timestamp missing or outside"),
        ("X-Nonce", "abc\x00defgh", "nonce missing or malformed"),
        ("X-Nonce", "n" * 5000, "nonce missing or malformed"),
        ("X-Nonce", "ｎｏｎｃｅｎｏｎｃｅ", "nonce missing or malformed"),
        ("X-Sign-Method", "HMAC-MD5", "unknown signature algorithm"),
        ("X-App-Key", "someone-else", "unknown app key"),
    ],
)
def test_a_malformed_header_is_a_refusal_not_an_error(header, value, reason):
    headers = good()
    headers[header] = value
    assert check(headers).startswith(reason)


def test_the_nonce_cache_is_bounded_and_forgets_what_the_clock_refuses():
    cache = NonceCache(capacity=1000, window_seconds=600)
    start = time.time()
    for i in range(5000):
        cache.add(f"nonce-{i:06d}", now=start)
    assert len(cache) == 1000 and "nonce-004999" in cache and "nonce-000000" not in cache
    cache.add("later-nonce", now=start + 601)  # the first ones' timestamps can no longer pass the skew check
    assert len(cache) == 1 and "later-nonce" in cache
