"""Known answers for the request signature, computed outside the project with the openssl command line (OpenSSL
3.0.19), checked against BOTH the product's signer (connectors.signing) and the stand-ins' own verifier
(sandbox.signature). Either side misreading the scheme (line order, query encoding, body digest, hex case) fails
here, not only when the two agree with each other.
"""

from __future__ import annotations

import time

import pytest

from connectors import signing
from sandbox import signature as sandbox_signature

pytestmark = pytest.mark.unit

# 1. A POST with a body and a query that needs encoding (space -> +, ':' -> %3A), secret of the municipal sandbox.
#    Body digest:
#      printf '%s' '{"caseId":"W1","version":1}' | openssl dgst -sha256 -r
#      -> 2b8c362c3be0d113abed06de127e8ffeb97ce1813a3a885b89b82f38460b931d
#    Signatures:
#      printf "POST\n/gateway/v1/cases\na=x+y%%3Az&b=2\n2b8c362c3be0d113abed06de127e8ffeb97ce1813a3a885b89b82f38460b931d\nwj-bridge-czs\n1764460800000\n0123456789abcdef" | openssl dgst -sha256 -hmac sandbox-secret-municipal -r  # noqa: E501
#      printf "<the same>" | openssl dgst -sm3 -hmac sandbox-secret-municipal -r
POST = {
    "method": "POST",
    "path": "/gateway/v1/cases",
    "query": {"b": "2", "a": "x y:z"},
    "body": b'{"caseId":"W1","version":1}',
    "app_key": "wj-bridge-czs",
    "timestamp": "1764460800000",
    "nonce": "0123456789abcdef",
}
POST_SECRET = "sandbox-secret-municipal"
POST_STRING = (
    b"POST\n/gateway/v1/cases\na=x+y%3Az&b=2\n"
    b"2b8c362c3be0d113abed06de127e8ffeb97ce1813a3a885b89b82f38460b931d\nwj-bridge-czs\n1764460800000\n0123456789abcdef"
)
POST_HMAC_SHA256 = "4d9dc2c2114e853b2805147e978f1e7e2c78e646208b39c36b8acb17be99e5f8"
POST_HMAC_SM3 = "98e722bc42076bb7a14dd709ec24eeee0f1b1495780fd992a8d859e37641eb8e"

# 2. A GET with no body (sha256 of nothing: printf '' | openssl dgst -sha256 -r -> e3b0c442…b855), a department's
#    page query, secret of the market-regulation sandbox:
#      printf "GET\n/api/v1/cases\npageNo=1&pageSize=100&updatedFrom=2026-11-16T00%%3A00%%3A00\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\nwj-bridge-scjg\n1764460800000\nnonce-0001" | openssl dgst -sha256 -hmac sandbox-secret-market-regulation -r  # noqa: E501
#      printf "<the same>" | openssl dgst -sm3 -hmac sandbox-secret-market-regulation -r
GET = {
    "method": "get",  # upper-cased by the scheme
    "path": "/api/v1/cases",
    "query": {"updatedFrom": "2026-11-16T00:00:00", "pageSize": "100", "pageNo": "1"},
    "body": b"",
    "app_key": "wj-bridge-scjg",
    "timestamp": "1764460800000",
    "nonce": "nonce-0001",
}
GET_SECRET = "sandbox-secret-market-regulation"
GET_HMAC_SHA256 = "bb735259bf5dbe28271a5f875d31cf2b3bda6d0f27dc81045fc1c808c5840768"
GET_HMAC_SM3 = "d94e587bd77ef7debc36bcc9370dc9249c310daa868f440688b01f4dfba19ca5"

CASES = [
    (POST, POST_SECRET, "HMAC-SHA256", POST_HMAC_SHA256),
    (POST, POST_SECRET, "HMAC-SM3", POST_HMAC_SM3),
    (GET, GET_SECRET, "HMAC-SHA256", GET_HMAC_SHA256),
    (GET, GET_SECRET, "HMAC-SM3", GET_HMAC_SM3),
]


def test_string_to_sign_is_the_published_one():
    product = signing.string_to_sign(*POST.values())
    sandbox = sandbox_signature.message(*POST.values())
    assert product == POST_STRING
    assert sandbox == POST_STRING


@pytest.mark.parametrize(("request_", "secret", "algorithm", "expected"), CASES)
def test_product_signer_gives_the_known_answer(request_, secret, algorithm, expected):
    assert signing.signature(secret, signing.string_to_sign(*request_.values()), algorithm) == expected


@pytest.mark.parametrize(("request_", "secret", "algorithm", "expected"), CASES)
def test_sandbox_signer_gives_the_known_answer(request_, secret, algorithm, expected):
    assert sandbox_signature.sign(secret, sandbox_signature.message(*request_.values()), algorithm) == expected


def _headers(request_: dict, algorithm: str, sig: str, *, timestamp: str) -> dict[str, str]:
    return {
        "x-app-key": request_["app_key"],
        "x-timestamp": timestamp,
        "x-nonce": request_["nonce"],
        "x-sign-method": algorithm,
        "x-signature": sig,
    }


@pytest.mark.parametrize(("request_", "secret", "algorithm", "expected"), CASES)
def test_sandbox_verifier_takes_the_known_answer_and_refuses_others(request_, secret, algorithm, expected,
                                                                     monkeypatch):  # fmt: skip
    # The known answers carry a fixed timestamp: the verifier's clock is set to it.
    monkeypatch.setattr(time, "time", lambda: int(request_["timestamp"]) / 1000)
    common = {
        "secrets": {request_["app_key"]: secret},
        "method": request_["method"],
        "path": request_["path"],
        "query": request_["query"],
        "body": request_["body"],
    }
    headers = _headers(request_, algorithm, expected, timestamp=request_["timestamp"])
    nonces = sandbox_signature.SeenNonces()
    assert sandbox_signature.refusal(headers, nonces=nonces, **common) is None
    assert sandbox_signature.refusal(headers, nonces=nonces, **common) == "nonce reused"
    wrong = expected[:-1] + ("0" if expected[-1] != "0" else "1")
    refused = sandbox_signature.refusal(
        _headers(request_, algorithm, wrong, timestamp=request_["timestamp"]),
        nonces=sandbox_signature.SeenNonces(),
        **common,
    )
    assert refused == "signature mismatch"
    other_body = {**common, "body": request_["body"] + b" "}
    assert sandbox_signature.refusal(headers, nonces=sandbox_signature.SeenNonces(), **other_body) == (
        "signature mismatch"
    )


def test_product_headers_pass_the_sandbox_verifier():
    """What the client sends today is what the stand-ins' own verifier accepts (both algorithms)."""
    for algorithm in ("HMAC-SHA256", "HMAC-SM3"):
        headers = signing.signed_headers(app_key=POST["app_key"], secret=POST_SECRET, method="POST",
                                         path=POST["path"], query=POST["query"], body=POST["body"],
                                         algorithm=algorithm)  # fmt: skip
        lowered = {k.lower(): v for k, v in headers.items()}
        assert (
            sandbox_signature.refusal(
                lowered,
                secrets={POST["app_key"]: POST_SECRET},
                method="POST",
                path=POST["path"],
                query=POST["query"],
                body=POST["body"],
                nonces=sandbox_signature.SeenNonces(),
            )
            is None
        )
