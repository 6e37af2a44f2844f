"""When a receiver's follow-up (跟踪回执) is due: what the outbox holds pending per receiver, and a backoff that keeps
a receiver that answers slowly, or not at all, from being asked every minute.

The outbox says what is pending (queued, or sent and not yet acknowledged); what the follow-up remembers between two
looks (its backoff, when it is next due, what it saw) is a small JSON document the caller keeps (the Dagster
sensor's cursor). Per receiver:

* new work (a version queued since the last look) or progress (a version acknowledged or dead-lettered since the
  last look) starts the backoff afresh: due after the first wait (``BRIDGE_FOLLOW_UP_FIRST_MINUTES``, 2);
* each follow-up doubles the wait before the next, up to ``BRIDGE_FOLLOW_UP_MAX_MINUTES`` (60), while nothing
  changes: 2, 4, 8, 16, 32, 60, 60 … minutes;
* a receiver whose last attempts failed (queued versions with an error: it was down, its circuit breaker opened)
  is not due before its breaker's cool-down has passed either (``<RECEIVER>_BREAKER_COOLDOWN_SECONDS``): the breaker
  lives in one run's process, the backoff carries it across runs.

Plain Python and SQL (no Dagster); time is the caller's ``now`` (``core.clock``).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass

import pandas as pd
import sqlalchemy as sa

from core import settings
from core.vocabulary import ACKNOWLEDGED, DEAD_LETTERED, QUEUED, RECEIVERS, SENT
from core.warehouse import Warehouse
from schemas.warehouse import outbox

FIRST_WAIT_VARIABLE = "BRIDGE_FOLLOW_UP_FIRST_MINUTES"
MAX_WAIT_VARIABLE = "BRIDGE_FOLLOW_UP_MAX_MINUTES"


@dataclass(frozen=True)
class Backoff:
    """Minutes between two follow-ups of a receiver while nothing changes: ``first``, doubled each time, at most
    ``most``."""

    first: float = 2.0
    most: float = 60.0

    @classmethod
    def configured(cls) -> Backoff:
        first = settings.number(FIRST_WAIT_VARIABLE, 2)
        most = settings.number(MAX_WAIT_VARIABLE, 60)
        if first <= 0 or most < first:
            raise settings.ConfigurationError(
                f"{FIRST_WAIT_VARIABLE}={first:g}, {MAX_WAIT_VARIABLE}={most:g}: the first wait must be positive "
                "and no longer than the longest"
            )
        return cls(first, most)


def breaker_cooldown_minutes(receiver: str) -> float:
    """The receiver's circuit-breaker cool-down, as its resource reads it (pipelines/resources.py)."""
    return settings.number(f"{receiver.upper()}_BREAKER_COOLDOWN_SECONDS", 15) / 60


@dataclass(frozen=True)
class Pending:
    """One receiver's outbox over the days followed up: what waits, what was settled, and the newest version."""

    receiver: str
    queued: int  # not sent yet (never tried, or tried and failed)
    failed: int  # of those, tried and failed (the receiver was down): ``attempts`` > 0 and an error kept
    sent: int  # sent, not acknowledged yet
    settled: int  # acknowledged or dead-lettered
    newest: str  # the newest pending version's queue time (ISO): a newer one is new work
    first_day: dt.date | None
    last_day: dt.date | None
    last_error: str | None

    @property
    def waiting(self) -> int:
        return self.queued + self.sent


def pending_by_receiver(warehouse: Warehouse, first: dt.date, last: dt.date) -> dict[str, Pending]:
    """Per receiver (every one the bridge knows): its outbox rows of the partition days ``first``..``last``."""
    t = outbox.c
    in_days = t.partition_date.between(first, last) & t.target.in_(RECEIVERS)
    pending = t.status.in_((QUEUED, SENT))

    def count(condition) -> sa.ColumnElement:
        return sa.func.sum(sa.case((condition, 1), else_=0))

    frame = warehouse.read(
        sa.select(
            t.target,
            count(t.status == QUEUED).label("queued"),
            count((t.status == QUEUED) & (t.attempts > 0) & t.last_error.is_not(None)).label("failed"),
            count(t.status == SENT).label("sent"),
            count(t.status.in_((ACKNOWLEDGED, DEAD_LETTERED))).label("settled"),
            sa.func.max(sa.case((pending, t.created_at))).label("newest"),
            sa.func.min(sa.case((pending, t.partition_date))).label("first_day"),
            sa.func.max(sa.case((pending, t.partition_date))).label("last_day"),
            sa.func.max(sa.case((t.status == QUEUED, t.last_error))).label("last_error"),
        )
        .where(in_days)
        .group_by(t.target)
    )
    found = {}
    for row in frame.itertuples():
        first_day, last_day = (pd.Timestamp(d).date() if pd.notna(d) else None for d in (row.first_day, row.last_day))
        found[row.target] = Pending(
            receiver=row.target,
            queued=int(row.queued or 0),
            failed=int(row.failed or 0),
            sent=int(row.sent or 0),
            settled=int(row.settled or 0),
            newest=pd.Timestamp(row.newest).isoformat() if pd.notna(row.newest) else "",
            first_day=first_day,
            last_day=last_day,
            last_error=row.last_error if isinstance(row.last_error, str) else None,
        )
    return {r: found.get(r, Pending(r, 0, 0, 0, 0, "", None, None, None)) for r in RECEIVERS}


@dataclass
class Memory:
    """What the follow-up remembers of one receiver between two looks."""

    wait_minutes: float  # the wait that led to next_at: doubled at each follow-up while nothing changes
    next_at: str  # when the receiver is next due (ISO, Shanghai wall-clock)
    settled: int
    waiting: int
    newest: str


@dataclass(frozen=True)
class Plan:
    """The receivers to follow up now, why each other one is not, and the memory to keep for the next look."""

    due: list[str]
    reasons: dict[str, str]
    memory: dict[str, Memory]

    def cursor(self) -> str:
        return json.dumps({r: asdict(m) for r, m in self.memory.items()}, sort_keys=True)

    def why_not(self) -> str:
        """One line for the UI: each receiver's state, those with nothing pending last."""
        busy = [text for text in self.reasons.values() if "nothing pending" not in text]
        idle = [r for r, text in self.reasons.items() if "nothing pending" in text]
        return "; ".join(busy + ([f"{', '.join(idle)}: nothing pending"] if idle else [])) or "nothing pending"


def read_cursor(cursor: str | None) -> dict[str, Memory]:
    """The memory kept by the last look (an unreadable or old cursor is forgotten: the backoff starts afresh)."""
    try:
        return {r: Memory(**m) for r, m in json.loads(cursor or "{}").items()}
    except (ValueError, TypeError):
        return {}


def _versions(n: int) -> str:
    return f"{n} version{'s' if n != 1 else ''}"


def _minutes(value: float) -> str:
    return f"{value:g} min"


def plan(
    pending: dict[str, Pending],
    memory: dict[str, Memory],
    now: dt.datetime,
    backoff: Backoff,
    *,
    in_flight: str | None = None,
) -> Plan:
    """Which receivers are due at ``now``. ``in_flight``: a run that already follows up or delivers (it is
    awaited: nothing is due while it runs)."""
    due, reasons, kept = [], {}, {}
    for receiver, state in pending.items():
        if state.waiting == 0:
            reasons[receiver] = f"{receiver}: nothing pending"
            continue  # forgotten: the next version starts afresh
        seen = memory.get(receiver)
        first = backoff.first
        if state.failed:  # down at the last attempt: not before its breaker would half-open
            first = max(first, breaker_cooldown_minutes(receiver))
        fresh = (
            seen is None
            or state.newest > seen.newest  # something queued since the last look
            or state.settled > seen.settled  # something acknowledged or dead-lettered
            or state.waiting < seen.waiting
        )
        if fresh:
            seen = Memory(first, (now + dt.timedelta(minutes=first)).isoformat(), 0, 0, "")
        seen.settled, seen.waiting, seen.newest = state.settled, state.waiting, state.newest
        next_at = dt.datetime.fromisoformat(seen.next_at)
        what = ", ".join(
            part
            for part in (
                f"{_versions(state.queued)} queued" if state.queued else "",
                f"{_versions(state.sent)} sent, not acknowledged" if state.sent else "",
            )
            if part
        )
        outage = f" (last try failed: {state.last_error[:80]})" if state.failed and state.last_error else ""
        if in_flight is None and now >= next_at:
            due.append(receiver)
            seen.wait_minutes = max(min(seen.wait_minutes * 2, backoff.most), first)
            seen.next_at = (now + dt.timedelta(minutes=seen.wait_minutes)).isoformat()
            reasons[receiver] = f"{receiver}: {what}{outage}: following up now, next at {seen.next_at[11:16]}"
        elif in_flight is not None:
            reasons[receiver] = f"{receiver}: {what}{outage}: waiting for {in_flight}"
        else:
            reasons[receiver] = (
                f"{receiver}: {what}{outage}, next follow-up at {next_at:%H:%M} (backoff {_minutes(seen.wait_minutes)})"
            )
        kept[receiver] = seen
    return Plan(due, reasons, kept)
