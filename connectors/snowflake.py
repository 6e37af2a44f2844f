"""Row ids for tables whose ``id`` the writer supplies (the national DDL: ``bigint`` "雪花算法生成的ID").

A snowflake id is 64 bits: a zero sign bit, 41 bits of milliseconds since :data:`EPOCH_MS` (2020-01-01 UTC; enough
until 2089), 10 bits of worker id (0-1023) and 12 bits of sequence within the millisecond (4,096 ids). Ids of one
generator increase strictly; ids of different workers never collide, because the worker id is part of them.

Why the bridge's ids are unique: (1) within a process, the generator never hands out the same (millisecond,
sequence) twice; (2) across restarts and across bridges writing the same tables, the writer first raises the
generator above the highest id the tables already hold (:meth:`Snowflake.advance_past`), so a new process, or a
machine whose clock runs behind another's, continues above every id written before; (3) two writers at the same
instant differ by their worker id (``ONE_NETWORK_WORKER_ID``), and within one deployment only one step writes to
the province at a time (the ``target_one_network`` pool, limit 1). A clock that went backwards is waited out when
the gap is short (``max_wait_ms``) and refused otherwise: ids must never go down.

PyPI's ``snowflake-id`` was considered: it reads ``time()`` itself (no clock to inject), does not guard against a
clock that went backwards, and returns None when a millisecond's sequence runs out; this class does all three in
a few lines and is tested without sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

EPOCH_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z
WORKER_BITS, SEQUENCE_BITS = 10, 12
MAX_WORKER = (1 << WORKER_BITS) - 1
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1
TIME_SHIFT = WORKER_BITS + SEQUENCE_BITS


class ClockWentBackwards(RuntimeError):
    """The clock is behind the newest id already handed out or written, by more than the generator waits."""


def epoch_millis() -> int:
    """Milliseconds since the Unix epoch (UTC, no time zone involved): the time part of a snowflake id."""
    return time.time_ns() // 1_000_000


def parts(snowflake: int) -> tuple[int, int, int]:
    """(epoch milliseconds, worker id, sequence) of an id."""
    return (snowflake >> TIME_SHIFT) + EPOCH_MS, (snowflake >> SEQUENCE_BITS) & MAX_WORKER, snowflake & MAX_SEQUENCE


class Snowflake:
    """Snowflake ids for one worker. ``millis`` and ``sleep`` are injectable, so tests move time by hand."""

    def __init__(
        self,
        worker_id: int,
        *,
        millis: Callable[[], int] = epoch_millis,
        sleep: Callable[[float], None] = time.sleep,
        max_wait_ms: int = 2_000,
    ) -> None:
        if not 0 <= worker_id <= MAX_WORKER:
            raise ValueError(f"worker id {worker_id} is outside 0-{MAX_WORKER}")
        self.worker_id, self.millis, self.sleep, self.max_wait_ms = worker_id, millis, sleep, max_wait_ms
        self._last_ms, self._sequence = -1, MAX_SEQUENCE
        self._lock = threading.Lock()

    def advance_past(self, highest: int | None) -> None:
        """Continue strictly above ``highest`` (the largest id the tables hold, whoever wrote it)."""
        if highest is None or highest <= 0:
            return
        at, _, _ = parts(highest)
        with self._lock:
            if at > self._last_ms:
                self._last_ms, self._sequence = at, MAX_SEQUENCE  # the next id moves on to a later millisecond
            elif at == self._last_ms and highest > self._compose(at, self._sequence):
                self._sequence = MAX_SEQUENCE

    def take(self, count: int) -> list[int]:
        """``count`` ids, strictly increasing, all above every id handed out or advanced past before."""
        with self._lock:
            return [self._next() for _ in range(count)]

    def _now(self) -> int:
        now = self.millis()
        behind = self._last_ms - now
        if behind > self.max_wait_ms:
            raise ClockWentBackwards(
                f"the clock is {behind} ms behind the newest row id: new ids would not be higher than written ones; "
                "check the machine's time synchronisation (NTP) before sending again"
            )
        while now < self._last_ms:  # a short step back (NTP slew): wait until the clock catches up
            self.sleep((self._last_ms - now) / 1000)
            now = self.millis()
        return now

    def _next(self) -> int:
        now = self._now()
        if now == self._last_ms and self._sequence >= MAX_SEQUENCE:
            while now <= self._last_ms:  # this millisecond's 4,096 ids are used up
                self.sleep(0.0005)
                now = self._now()
        if now > self._last_ms:
            self._last_ms, self._sequence = now, 0
        else:
            self._sequence += 1
        return self._compose(self._last_ms, self._sequence)

    def _compose(self, at_ms: int, sequence: int) -> int:
        return ((at_ms - EPOCH_MS) << TIME_SHIFT) | (self.worker_id << SEQUENCE_BITS) | sequence
