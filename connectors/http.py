"""One retry policy for every outbound HTTP call: httpx with explicit timeouts, tenacity with backoff.

Retried: connection errors, timeouts, 5xx and 429 (waiting what ``Retry-After`` asks). Never retried:
other 4xx, which are the receiver saying the request itself is wrong.
"""

from __future__ import annotations

import functools
import logging
import ssl
import threading
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import TypeVar

import certifi
import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from connectors.signing import signed_headers

log = logging.getLogger(__name__)
T = TypeVar("T")


class RetryableStatus(Exception):
    """A 5xx or 429 answer, carried through tenacity so the wait can read ``Retry-After``."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"{response.request.method} {response.request.url.path} answered {response.status_code}")
        self.response = response


class RequestRejected(Exception):
    """A 4xx answer other than 429: not retried; the caller decides (dead letter, refuse, report)."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(
            f"{response.request.method} {response.request.url.path} answered {response.status_code}: "
            f"{response.text[:300]}"
        )
        self.response = response


class CircuitOpen(Exception):
    """The receiver failed too often in a row: stop calling it until the cool-down has passed."""


class CircuitBreaker:
    """Counts consecutive failed calls (5xx, 429, timeouts, refused connections) toward one receiver.

    After ``failures`` in a row the circuit opens: calls raise :class:`CircuitOpen` at once instead of waiting
    through retries, so an outage costs a run a handful of attempts, not its whole time budget. After
    ``cooldown_seconds`` one probe is let through (half-open); its success closes the circuit again.
    """

    def __init__(self, failures: int = 8, cooldown_seconds: float = 30.0) -> None:
        self.failures = failures
        self.cooldown_seconds = cooldown_seconds
        self.consecutive = 0
        self.opened_at: float | None = None
        self.times_opened = 0
        self.lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        with self.lock:
            if self.opened_at is None:
                return False
            if time.monotonic() - self.opened_at >= self.cooldown_seconds:
                self.opened_at = None  # half-open: the next call is the probe
                self.consecutive = self.failures - 1
                return False
            return True

    def before_call(self) -> None:
        if self.is_open:
            raise CircuitOpen(f"circuit open after {self.consecutive} consecutive failures")

    def succeeded(self) -> None:
        with self.lock:
            self.consecutive = 0
            self.opened_at = None

    def failed(self) -> None:
        with self.lock:
            self.consecutive += 1
            if self.consecutive >= self.failures and self.opened_at is None:
                self.opened_at = time.monotonic()
                self.times_opened += 1


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, RetryableStatus | httpx.TransportError)


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        from datetime import UTC, datetime

        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


class _WaitHonouringRetryAfter:
    def __init__(self, max_wait: float) -> None:
        self.backoff = wait_random_exponential(multiplier=0.25, max=max_wait)  # exponential with full jitter
        self.max_wait = max_wait

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableStatus) and (asked := retry_after_seconds(exc.response)) is not None:
            return min(asked, self.max_wait)
        return self.backoff(state)


def call_with_retries(
    send: Callable[[], httpx.Response],
    *,
    attempts: int = 6,
    max_wait: float = 30.0,
    give_up_after: float = 120.0,
    breaker: CircuitBreaker | None = None,
) -> httpx.Response:
    """Run ``send`` until it answers 2xx or a non-retryable 4xx; raise the last error when out of tries.

    With a ``breaker``, every retryable failure counts toward opening it, and an open circuit ends the
    retries at once with :class:`CircuitOpen`.
    """

    def once() -> httpx.Response:
        if breaker is not None:
            breaker.before_call()
        try:
            response = send()
        except httpx.TransportError:
            if breaker is not None:
                breaker.failed()
            raise
        if response.status_code == 429 or response.status_code >= 500:
            if breaker is not None:
                breaker.failed()
            raise RetryableStatus(response)
        if breaker is not None:
            breaker.succeeded()  # the receiver answered: it is up, even when it refuses this request
        if response.status_code >= 400:
            raise RequestRejected(response)
        return response

    retrying = Retrying(
        retry=retry_if_exception(is_retryable),
        wait=_WaitHonouringRetryAfter(max_wait),
        stop=stop_after_attempt(attempts) | stop_after_delay(give_up_after),
        reraise=True,
        before_sleep=lambda s: log.info("retrying after %s (attempt %d)", s.outcome.exception(), s.attempt_number),
    )
    return retrying(once)


def signed_send(
    client: httpx.Client,
    method: str,
    path: str,
    *,
    app_key: str,
    secret: str,
    algorithm: str,
    params: dict[str, str] | None = None,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """One request signed afresh (timestamp, nonce) with the app key and secret."""
    signed = signed_headers(
        app_key=app_key, secret=secret, method=method, path=path, query=params, body=body, algorithm=algorithm
    )
    if body:
        signed["Content-Type"] = "application/json; charset=utf-8"
    signed.update(headers or {})
    return client.request(method, path, params=params, content=body or None, headers=signed)


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every client: loading the CA bundle costs tens of milliseconds each time."""
    return ssl.create_default_context(cafile=certifi.where())


def make_client(base_url: str, timeout_seconds: float) -> httpx.Client:
    timeout = httpx.Timeout(timeout_seconds, connect=min(5.0, timeout_seconds))
    return httpx.Client(
        base_url=base_url, timeout=timeout, verify=_tls(), headers={"User-Agent": "approval-bridge/0.1"}
    )
