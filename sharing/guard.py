"""What stands between a request and the licences: parameter checks, the client's address, rate limits, and
the form in which anything a caller sent may be stored.

Nothing here touches the warehouse. Every check answers with a fixed message that names the parameter and the
rule it broke, never the value: a caller's input is not echoed back, and is stored in the audit only through
:func:`audit_text` (invisible characters spelled out, long digit runs masked, clipped).
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import time
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from schemas.identifiers import is_national_case_no, mask_code_in_text, mask_numbers_in_text, normalize_code


class Refusal(Exception):
    """A request ends here: ``status`` and a message for the caller that repeats nothing the caller sent."""

    def __init__(self, status: int, reason: str, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.retry_after = status, reason, retry_after


# ---------------------------------------------------------------- text a caller sent
#: Control, format (zero-width, bidi overrides, BOM), surrogate, private-use and unassigned characters, and the
#: line and paragraph separators: none belongs in a code, a number or a case number.
INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def has_invisible(text: str) -> bool:
    return any(unicodedata.category(ch) in INVISIBLE for ch in text)


def audit_code(text: str | None, length: int) -> str | None:
    """A holder code as the audit may keep it before it is checked: as :func:`audit_text` keeps any value, except
    that one holding an identifier's worth of digits, whatever separates them (dots, slashes, invisible characters,
    digits of another script), is kept masked as one identifier (``schemas.identifiers.mask_code_in_text``:
    ``320412.19980729.6328`` keeps its region and last four)."""
    if text is None:
        return None
    visible = "".join(ch for ch in text[: length * 2] if unicodedata.category(ch) not in INVISIBLE)
    masked = mask_code_in_text(visible)
    return masked[:length] if masked is not None else audit_text(text, length)


def audit_text(text: str | None, length: int) -> str | None:
    """A caller's value as the audit may keep it: NFKC, invisible characters written as ``\\u200b``, runs of
    digits that could be a 身份证号 or a phone number masked, at most ``length`` characters."""
    if text is None:
        return None
    text = text[: length * 2]  # what the column can hold, with room for the masking to see whole numbers
    shown = "".join(f"\\u{ord(ch):04x}" if unicodedata.category(ch) in INVISIBLE else ch for ch in text)
    return mask_numbers_in_text(shown)[:length]


# ---------------------------------------------------------------- parameters
HOLDER_CODE = re.compile(r"[0-9A-Z]{8,20}")  # after normalize_code: a USCC, a 身份证号, or a mistyped one of them
LICENCE_ID = re.compile(r"1\.2\.156\.3005\.2\.[0-9A-Za-z.]{1,100}")  # 证照标识 (GB/T 36904)
MAX_TYPES = 20
CASE_NO_REQUIRED = "caseNo is required: the case this read is for"
REQUIRED = ("caseNo", "licenceNo", "holderCode")  # path parameters are required by the route itself


@dataclass(frozen=True)
class Rule:
    max_length: int
    what: str  # for the message: what the parameter must be
    shape: re.Pattern[str] | None = None  # checked on the normalised value
    normalise: bool = False  # normalize_code first (full-width, spaces, dashes, case)
    repeatable: bool = False


RULES: dict[str, Rule] = {
    "holder_code": Rule(32, "a USCC or 身份证号 (8 to 20 letters and digits)", HOLDER_CODE, normalise=True),
    "holderCode": Rule(32, "a USCC or 身份证号 (8 to 20 letters and digits)", HOLDER_CODE, normalise=True),
    "licence_id": Rule(128, "a 证照标识 (1.2.156.3005.2. followed by letters, digits and dots)", LICENCE_ID),
    "licenceNo": Rule(64, "a 证照编号 as printed"),
    "caseNo": Rule(64, "the 办件编号 of the case the read is for"),
    "type": Rule(32, "a registered 证照类型代码", repeatable=True),
}


@dataclass
class Asked:
    """A request's parameters once checked: holder codes and licence numbers normalised, types de-duplicated."""

    values: dict[str, str] = field(default_factory=dict)
    types: tuple[str, ...] = ()

    def get(self, name: str) -> str | None:
        return self.values.get(name)


def check_parameters(
    path: Mapping[str, str], query: Iterable[tuple[str, str]], accepted: Iterable[str], licence_types: frozenset[str]
) -> Asked:
    """Every path and query parameter against :data:`RULES`, before anything else is looked at. Unknown
    parameters and repeats of single ones are refused too: a request means one thing."""
    accepted = list(accepted)
    asked, seen_types = Asked(), []
    pairs = [*path.items(), *query]
    names = [name for name, _ in pairs]
    for name in names:
        if name not in accepted:
            raise Refusal(400, "unknown parameter: this endpoint takes " + ", ".join(sorted(set(accepted) - set(path))))
    if names.count("type") > MAX_TYPES:
        raise Refusal(400, f"type: at most {MAX_TYPES} values")
    for name, raw in pairs:
        rule = RULES[name]
        if not rule.repeatable and names.count(name) > 1:
            raise Refusal(400, f"{name}: given more than once")
        if len(raw) > rule.max_length:
            raise Refusal(400, f"{name}: longer than {rule.max_length} characters")
        if has_invisible(raw):
            raise Refusal(400, f"{name}: control or invisible characters")
        value = normalize_code(raw) if rule.normalise else unicodedata.normalize("NFKC", raw).strip()
        if not value:
            if name == "caseNo":
                raise Refusal(400, CASE_NO_REQUIRED)
            raise Refusal(400, f"{name}: empty")
        if rule.shape is not None and not rule.shape.fullmatch(value):
            raise Refusal(400, f"{name}: not {rule.what}")
        if name == "type":
            if value not in licence_types:
                raise Refusal(400, "type: not a registered 证照类型代码")
            seen_types.append(value)
        else:
            asked.values[name] = value
    asked.types = tuple(dict.fromkeys(seen_types))
    for name in (name for name in accepted if name in REQUIRED):
        if name not in asked.values:
            raise Refusal(400, CASE_NO_REQUIRED if name == "caseNo" else f"{name}: required")
    return asked


def is_case_no(case_no: str, registered: re.Pattern[str] | None) -> bool:
    """A national 办件编号, or a number of the shape registered for the caller's own system."""
    return is_national_case_no(case_no) or (registered is not None and registered.fullmatch(case_no) is not None)


# ---------------------------------------------------------------- the client's address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
TRUSTED_PROXIES = "LICENCE_API_TRUSTED_PROXIES"


def parse_networks(text: str | None) -> tuple[Network, ...]:
    """``LICENCE_API_TRUSTED_PROXIES``: the proxies' addresses or networks, comma-separated; none by default."""
    networks = []
    for part in (text or "").split(","):
        if part.strip():
            try:
                networks.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise ValueError(f"{TRUSTED_PROXIES}: {part.strip()!r} is not an address or network") from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_address(peer: str | None, forwarded_for: list[str], trusted: tuple[Network, ...]) -> str | None:
    """Who is calling. ``X-Forwarded-For`` counts only when the connection comes from a trusted proxy, and then
    only as far back as the hops are trusted: the right-most address a trusted proxy did not itself add."""
    if peer is None or not trusted or not forwarded_for:
        return peer
    hops = [hop for header in forwarded_for for hop in header.split(",")]
    current = peer
    for hop in [peer, *reversed(hops)]:
        address = _address(hop)
        if address is None:  # a hop nobody trustworthy wrote: stop at the last one a trusted proxy vouched for
            return current
        current = str(address)
        if not any(address in network for network in trusted):
            return current
    return current


# ---------------------------------------------------------------- rate limits
LIMIT_VARIABLES = {
    "per_key": "LICENCE_API_RATE_PER_KEY",
    "per_address": "LICENCE_API_RATE_PER_ADDRESS",
    "failed_auth_per_address": "LICENCE_API_RATE_FAILED_AUTH",
}


@dataclass(frozen=True)
class Limits:
    """Moving windows in the ``limits`` notation (``600/minute``, ``10/minute;100/hour``)."""

    per_key: str = "600/minute"
    per_address: str = "600/minute"
    failed_auth_per_address: str = "20/minute"

    @classmethod
    def from_environment(cls) -> Limits:
        given = {name: os.environ.get(variable, "").strip() for name, variable in LIMIT_VARIABLES.items()}
        limits = cls(**{name: text for name, text in given.items() if text})
        limits.parsed()  # a bad value stops the API at start, naming the variable
        return limits

    def parsed(self) -> dict[str, list[RateLimitItem]]:
        parsed = {}
        for name, variable in LIMIT_VARIABLES.items():
            text = getattr(self, name)
            try:
                parsed[name] = parse_many(text)
            except ValueError:
                raise ValueError(f"{variable}={text!r}: write it as 600/minute or 10/minute;100/hour") from None
        return parsed


class RateLimiter:
    """In memory, per API process: a proxy in front keeps its own limits when several processes serve."""

    def __init__(self, limits: Limits) -> None:
        self.items = limits.parsed()
        self.strategy = MovingWindowRateLimiter(MemoryStorage())

    def _retry_after(self, scope: str, identity: str) -> int:
        waits = [
            self.strategy.get_window_stats(item, scope, identity).reset_time - time.time()
            for item in self.items[scope]
            if not self.strategy.test(item, scope, identity)
        ]
        return max(1, math.ceil(max(waits, default=1)))

    def take(self, scope: str, identity: str) -> None:
        """Count one request against ``scope``'s windows, or refuse it with 429 and when to come back."""
        if not all([self.strategy.hit(item, scope, identity) for item in self.items[scope]]):
            raise Refusal(429, "too many requests: try again later", self._retry_after(scope, identity))

    def check(self, scope: str, identity: str) -> None:
        """Refuse with 429 while ``scope``'s windows are full, without counting this request."""
        if not all(self.strategy.test(item, scope, identity) for item in self.items[scope]):
            raise Refusal(429, "too many requests: try again later", self._retry_after(scope, identity))

    def count(self, scope: str, identity: str) -> None:
        for item in self.items[scope]:
            self.strategy.hit(item, scope, identity)
