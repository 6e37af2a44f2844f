"""Row ids for the national tables (connectors/snowflake.py): unique and increasing across two workers and a
restart, and never lower after the clock went backwards. Time moves by hand: nothing sleeps."""

import pytest

from connectors.snowflake import EPOCH_MS, MAX_SEQUENCE, ClockWentBackwards, Snowflake, parts

pytestmark = pytest.mark.unit

T = 1_790_000_000_000  # 2026-09: epoch milliseconds


class Clock:
    """A hand-moved millisecond clock; sleeping moves it on by the time slept."""

    def __init__(self, at: int = T) -> None:
        self.at, self.slept = at, []

    def __call__(self) -> int:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.at += max(1, round(seconds * 1000))


def generator(worker: int, clock: Clock, **kw) -> Snowflake:
    return Snowflake(worker, millis=clock, sleep=clock.sleep, **kw)


def test_ids_carry_time_worker_and_sequence():
    clock = Clock()
    first, second = generator(5, clock).take(2)
    assert parts(first) == (T, 5, 0) and parts(second) == (T, 5, 1)
    assert first == ((T - EPOCH_MS) << 22) | (5 << 12) and 0 < first < 2**63  # fits a signed bigint


def test_two_workers_never_collide_and_each_increases():
    clock = Clock()
    a, b = generator(1, clock), generator(2, clock)
    ids_a, ids_b = [], []
    for step in range(50):
        ids_a += a.take(30)
        ids_b += b.take(30)
        clock.at += step % 3  # several batches in one millisecond, then the clock moves on
    assert ids_a == sorted(ids_a) and len(set(ids_a)) == len(ids_a)
    assert ids_b == sorted(ids_b) and len(set(ids_b)) == len(ids_b)
    assert not set(ids_a) & set(ids_b)


def test_a_full_millisecond_waits_for_the_next():
    clock = Clock()
    ids = generator(0, clock).take(MAX_SEQUENCE + 3)
    assert len(set(ids)) == len(ids) and ids == sorted(ids)
    assert parts(ids[-1])[0] == T + 1 and clock.slept  # the 4,097th id is in the next millisecond


def test_a_restart_continues_above_what_the_tables_hold():
    clock = Clock()
    before = generator(3, clock).take(100)
    clock.at -= 500  # the new process's clock is half a second behind the one that wrote those
    restarted = generator(3, clock)
    restarted.advance_past(max(before))  # what the writer does first in every transaction
    after = restarted.take(100)
    assert min(after) > max(before) and not set(after) & set(before)
    assert clock.slept  # it waited the half second out


def test_another_writers_higher_id_is_passed_too():
    clock = Clock()
    theirs = generator(7, clock).take(1)[0]
    ours = generator(1, clock)
    ours.advance_past(theirs)  # same millisecond, a higher worker id: ours must still come after
    assert ours.take(1)[0] > theirs


def test_a_clock_far_behind_is_refused_not_reused():
    clock = Clock()
    written = generator(0, clock).take(1)
    clock.at -= 60_000  # a minute back: an NTP jump, not a slew
    restarted = generator(0, clock, max_wait_ms=2_000)
    restarted.advance_past(written[0])
    with pytest.raises(ClockWentBackwards, match="60000 ms behind"):
        restarted.take(1)
    assert not clock.slept


def test_worker_ids_outside_ten_bits_are_refused():
    with pytest.raises(ValueError, match="outside 0-1023"):
        Snowflake(1024)
