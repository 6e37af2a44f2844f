"""The sharing API's keys: one per registered caller, a second during a rotation, refused when unsafe.

Each caller's key is ``LICENCE_API_KEY_<CALLER>``; during a rotation ``LICENCE_API_KEY_<CALLER>_NEXT`` holds the
new one and both are accepted, so the caller can switch at any moment between two restarts of the API:

1. set ``…_NEXT`` to the new key and restart the API; hand the new key to the caller;
2. once the caller uses it (the audit shows which of the two keys each read came with), move it to the main
   variable, unset ``…_NEXT``, restart.

In the sandbox profile a caller without a key gets the published sandbox key. Outside it the API does not
start while any caller's key is missing, empty, shorter than :data:`MIN_KEY_LENGTH` characters, one character
repeated, one the sandbox publishes, or shared with another caller (a shared key would authenticate as whichever
came last). In every profile a key must be printable ASCII (an HTTP header carries nothing else: a key with a
newline or a 汉字 could never match), and a ``LICENCE_API_KEY_…`` variable that names no caller and slot (a
misspelt ``…_NXT``) is refused rather than ignored. ``config check`` runs the same checks.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core import settings

SANDBOX_KEY = "sandbox-licence-key-{caller}"  # the embedded default, like the other sandbox credentials
MIN_KEY_LENGTH = 32
MAX_KEY_LENGTH = 256  # a longer header is a wrong key, compared no further
CURRENT, NEXT = "current", "next"
PREFIX = "LICENCE_API_KEY_"
_PRINTABLE = re.compile(r"[\x20-\x7e]+")


class KeyProblem(ValueError):
    """The keys cannot be used as they stand; one line per caller and problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def key_variable(caller: str, slot: str = CURRENT) -> str:
    return f"LICENCE_API_KEY_{caller.upper()}" + ("_NEXT" if slot == NEXT else "")


def sandbox_key(caller: str) -> str:
    return SANDBOX_KEY.format(caller=caller)


@dataclass(frozen=True)
class Key:
    caller: str
    slot: str  # current / next
    digest: bytes  # sha256 of the key: the key itself is not kept


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class KeyRing:
    """Every accepted key. :meth:`match` compares the presented key with all of them, so how long it takes does
    not tell which caller's key came close."""

    def __init__(self, keys: Mapping[str, Iterable[str]]) -> None:
        self.keys = [
            Key(caller, slot, _digest(text))
            for caller, texts in keys.items()
            for slot, text in zip((CURRENT, NEXT), texts, strict=False)
        ]

    def match(self, presented: str | None) -> Key | None:
        if not presented or len(presented) > MAX_KEY_LENGTH:
            return None
        digest, found = _digest(presented), None
        for key in self.keys:
            if hmac.compare_digest(digest, key.digest) and found is None:
                found = key
        return found


def api_keys(callers: Iterable[str], overrides: Mapping[str, str | tuple[str, ...]] | None = None) -> dict:
    """Each caller's keys (the current one, then ``…_NEXT`` when set): ``overrides``, else the environment, else
    (sandbox profile only) the sandbox key. Raises :class:`KeyProblem` naming every caller whose keys are unsafe."""
    callers = list(callers)
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(callers))
    problems = [f"keys given for callers not in sharing_clients.csv: {', '.join(unknown)}"] if unknown else []
    production = settings.profile() != settings.SANDBOX
    published = {sandbox_key(caller) for caller in callers}
    expected = {key_variable(caller, slot) for caller in callers for slot in (CURRENT, NEXT)}
    for name in sorted(n for n in os.environ if n.upper().startswith(PREFIX) and n not in expected):
        problems.append(
            f"{name}: names no caller and slot of sharing_clients.csv (expected {PREFIX}<CALLER> or "
            f"{PREFIX}<CALLER>_NEXT for one of: {', '.join(callers)}); rename or unset it"
        )
    keys: dict[str, tuple[str, ...]] = {}
    for caller in callers:
        if caller in overrides:
            given = overrides[caller]
            keys[caller] = (given,) if isinstance(given, str) else tuple(given)
            continue
        found = []
        for slot in (CURRENT, NEXT):
            name = key_variable(caller, slot)
            raw = os.environ.get(name)
            if raw is None:
                if slot == CURRENT and production:
                    problems.append(f"{name}: missing (the key of caller {caller})")
                elif slot == CURRENT:
                    found.append(sandbox_key(caller))
            elif not raw.strip():
                problems.append(f"{name}: set but empty (the key of caller {caller}); unset it or set a key")
            else:
                found.append(raw.strip())
        keys[caller] = tuple(found)
    owners: dict[bytes, str] = {}
    for caller, texts in keys.items():
        for slot, text in zip((CURRENT, NEXT), texts, strict=False):
            name = key_variable(caller, slot)
            if not _PRINTABLE.fullmatch(text):
                problems.append(
                    f"{name}: holds a character other than printable ASCII (caller {caller}): an HTTP header "
                    "cannot carry it, so the key could never match"
                )
            elif production and len(set(text)) == 1:
                problems.append(f"{name}: one character repeated (caller {caller}): set a random key")
            if production and len(text) < MIN_KEY_LENGTH:
                problems.append(f"{name}: {len(text)} characters, at least {MIN_KEY_LENGTH} needed (caller {caller})")
            if production and text in published:
                problems.append(f"{name}: a key the sandbox publishes (caller {caller}): set the production one")
            if len(text) > MAX_KEY_LENGTH:
                problems.append(f"{name}: longer than {MAX_KEY_LENGTH} characters (caller {caller})")
            digest = _digest(text)
            if digest in owners:
                problems.append(f"{name}: the same key as {owners[digest]}: each caller needs its own")
            owners.setdefault(digest, name)
    if problems:
        raise KeyProblem(problems)
    return keys
