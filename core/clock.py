"""Today and now on Shanghai wall-clock, from one injectable clock.

Business dates (which licences have expired, which day a mart counts up to, the day the demo ends) come from
:func:`today`, never from ``date.today()`` scattered around: tests and replays pin the date with
``BRIDGE_TODAY=YYYY-MM-DD`` or :func:`frozen`, so nothing breaks when the calendar moves on.
Timestamps recorded for bookkeeping (fetch times, audit rows) keep the real time unless the clock is pinned.
What runs on a timer (the delivery follow-up's backoff) reads :func:`now`, so a test moves time with
:func:`frozen_at` instead of sleeping.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

LOCAL_TZ = "Asia/Shanghai"
SHANGHAI = ZoneInfo(LOCAL_TZ)
TODAY_VARIABLE = "BRIDGE_TODAY"

_pinned: dt.date | None = None
_pinned_now: dt.datetime | None = None


class ClockError(ValueError):
    """``BRIDGE_TODAY`` holds something that is not a date."""


def _from_environment() -> dt.date | None:
    value = os.environ.get(TODAY_VARIABLE, "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ClockError(f"{TODAY_VARIABLE}={value!r} is not a date (YYYY-MM-DD)") from None


def today() -> dt.date:
    """The business date in Asia/Shanghai: pinned by :func:`frozen` or ``BRIDGE_TODAY``, else the real one."""
    if _pinned_now is not None:
        return _pinned_now.date()
    pinned = _pinned or _from_environment()
    return pinned if pinned is not None else dt.datetime.now(SHANGHAI).date()


def now() -> dt.datetime:
    """Naive Shanghai wall-clock time to the second, as the warehouse stores it. A pinned day keeps the real
    time of day, so ordering within a run still holds; a moment pinned by :func:`frozen_at` is returned as is."""
    if _pinned_now is not None:
        return _pinned_now
    current = dt.datetime.now(SHANGHAI).replace(tzinfo=None, microsecond=0)
    pinned = _pinned or _from_environment()
    return current if pinned is None else dt.datetime.combine(pinned, current.time())


def yesterday() -> dt.date:
    return today() - dt.timedelta(days=1)


@contextmanager
def frozen(day: dt.date) -> Iterator[dt.date]:
    """Pin :func:`today` to ``day`` inside the block (in this process)."""
    global _pinned
    previous, _pinned = _pinned, day
    try:
        yield day
    finally:
        _pinned = previous


@contextmanager
def frozen_at(moment: dt.datetime) -> Iterator[dt.datetime]:
    """Pin :func:`now` to ``moment`` (naive Shanghai wall-clock time) and :func:`today` to its date inside the block
    (in this process): a test steps through half an hour by entering it once a simulated minute."""
    global _pinned_now
    previous, _pinned_now = _pinned_now, moment.replace(microsecond=0)
    try:
        yield _pinned_now
    finally:
        _pinned_now = previous


def day_of(timestamp: float) -> dt.date:
    """The day in Asia/Shanghai of a POSIX timestamp (a file's modification time, say), whatever the machine's zone."""
    return dt.datetime.fromtimestamp(timestamp, SHANGHAI).date()
