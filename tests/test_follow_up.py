"""The delivery follow-up over simulated time: the ``outstanding_deliveries`` sensor evaluated once a simulated
minute (``core.clock.frozen_at``) against a small outbox made here, with a test Dagster instance holding the runs
it launched. With one version pending for half an hour it starts at most five runs; it starts none while a run that
delivers is in flight; an acknowledgement or a new version starts the backoff afresh; a receiver that was down
waits for its circuit breaker; and a tick that starts nothing says why."""

import datetime as dt

import pytest
from dagster import AssetKey, RunRequest, build_sensor_context, instance_for_test
from dagster._core.storage.dagster_run import DagsterRunStatus
from dagster._core.test_utils import create_run_for_test

from core import clock
from core.settings import ConfigurationError
from core.warehouse import Warehouse
from delivery import followup
from pipelines.deliver.assets import outstanding_deliveries
from schemas.warehouse import outbox
from tests.conftest import TODAY

pytestmark = pytest.mark.unit

#: The first simulated minute: mid-evening of the fixed test day (the versions are of two days before).
START = dt.datetime.combine(TODAY, dt.time(21, 0))
DAY = TODAY - dt.timedelta(days=2)


def version(target: str, case: str, status: str, *, day: dt.date = DAY, at: dt.datetime | None = None, **more):
    at = at or dt.datetime.combine(day, dt.time(9))
    return {
        "target": target,
        "idempotency_key": f"{target}:{case}:v1",
        "golden_case_id": case,
        "version": 1,
        "partition_date": day,
        "payload": "{}",
        "payload_hash": "h",
        "status": status,
        "attempts": 0 if status == "queued" else 1,
        "created_at": at,
        **more,
    }


def put(warehouse: Warehouse, *rows: dict) -> None:
    with warehouse.begin() as conn:
        conn.execute(outbox.insert(), list(rows))


def acknowledge(warehouse: Warehouse, target: str, case: str) -> None:
    with warehouse.begin() as conn:
        conn.execute(
            outbox.update()
            .where((outbox.c.target == target) & (outbox.c.golden_case_id == case))
            .values(status="acknowledged")
        )


class Clockwork:
    """The sensor as the daemon runs it: one evaluation a minute, its cursor carried from tick to tick, each run it
    asks for recorded in the instance (finished within the minute unless ``keep_running``)."""

    def __init__(self, instance, warehouse: Warehouse) -> None:
        self.instance, self.warehouse = instance, warehouse
        self.cursor: str | None = None
        self.requests: list[tuple[int, RunRequest]] = []
        self.reasons: list[tuple[int, str]] = []

    def tick(self, minute: int, *, keep_running: bool = False):
        with clock.frozen_at(START + dt.timedelta(minutes=minute)):
            context = build_sensor_context(
                instance=self.instance, cursor=self.cursor, resources={"warehouse": self.warehouse}
            )
            result = outstanding_deliveries(context)
        self.cursor = result.cursor
        for request in result.run_requests:
            self.requests.append((minute, request))
            status = DagsterRunStatus.STARTED if keep_running else DagsterRunStatus.SUCCESS
            create_run_for_test(self.instance, job_name="follow_acknowledgements", status=status, tags=request.tags)
        if result.skip_reason is not None:
            self.reasons.append((minute, result.skip_reason.skip_message))
        return result

    def run(self, minutes: range) -> list[int]:
        for minute in minutes:
            self.tick(minute)
        return [m for m, _ in self.requests]


def test_half_an_hour_with_one_version_pending_starts_at_most_five_runs(warehouse):
    put(warehouse, version("municipal", "GC1", "sent"))
    with instance_for_test() as instance:
        clockwork = Clockwork(instance, warehouse)
        launched = clockwork.run(range(0, 31))
    # first seen at 21:00; then 2, 4, 8, 16 minutes apart while the receiver stays silent
    assert launched == [2, 6, 14, 30]
    assert len(launched) <= 5
    (_, first), *_ = clockwork.requests
    assert set(first.asset_selection) == {AssetKey("municipal_delivery"), AssetKey("delivery_status")}
    assert first.tags["dagster/asset_partition_range_start"] == first.tags["dagster/asset_partition_range_end"]
    assert first.tags["dagster/asset_partition_range_start"] == str(DAY)
    # every quiet minute says why in the UI: what waits and when it is next followed up
    said = dict(clockwork.reasons)
    assert said[0] == (
        "municipal: 1 version sent, not acknowledged, next follow-up at 21:02 (backoff 2 min); "
        "one_network, supervision: nothing pending"
    )
    assert said[20].startswith("municipal: 1 version sent, not acknowledged, next follow-up at 21:30 (backoff 16 min)")


def test_nothing_pending_starts_nothing(warehouse):
    put(warehouse, version("municipal", "GC1", "acknowledged"))
    with instance_for_test() as instance:
        clockwork = Clockwork(instance, warehouse)
        assert clockwork.run(range(0, 10)) == []
    assert clockwork.reasons[-1][1] == "one_network, municipal, supervision: nothing pending"


def test_a_run_that_delivers_holds_the_follow_up(warehouse):
    put(warehouse, version("one_network", "GC1", "queued"))
    with instance_for_test() as instance:
        clockwork = Clockwork(instance, warehouse)
        clockwork.tick(0)
        clockwork.tick(2, keep_running=True)  # a slow receiver: the run is still going a minute later
        for minute in range(3, 12):
            clockwork.tick(minute)
        assert [m for m, _ in clockwork.requests] == [2]
        said = dict(clockwork.reasons)[11]
        assert "waiting for run" in said and "follow_acknowledgements" in said
        # a day's load running delivers too: the follow-up waits for it as well
        (running,) = instance.get_runs()
        instance.report_run_canceled(running)
        create_run_for_test(instance, job_name="daily_cases", status=DagsterRunStatus.STARTED)
        clockwork.tick(30)
        assert [m for m, _ in clockwork.requests] == [2]
        assert "daily_cases" in clockwork.reasons[-1][1]


def test_an_acknowledgement_starts_the_backoff_afresh(warehouse):
    put(warehouse, version("municipal", "GC1", "sent"), version("municipal", "GC2", "sent"))
    with instance_for_test() as instance:
        clockwork = Clockwork(instance, warehouse)
        assert clockwork.run(range(0, 20)) == [2, 6, 14]  # next due at 30
        acknowledge(warehouse, "municipal", "GC1")  # the receiver answered about one of them
        assert clockwork.run(range(20, 31)) == [2, 6, 14, 22, 26]  # 2 after the answer is seen, then 4
        assert "next follow-up at 21:34 (backoff 8 min)" in clockwork.reasons[-1][1]


def test_a_new_version_starts_the_backoff_afresh(warehouse):
    put(warehouse, version("municipal", "GC1", "sent"))
    with instance_for_test() as instance:
        clockwork = Clockwork(instance, warehouse)
        clockwork.run(range(0, 20))
        put(warehouse, version("municipal", "GC2", "queued", at=START + dt.timedelta(minutes=19)))
        assert clockwork.run(range(20, 25)) == [2, 6, 14, 22]
        (_, latest) = clockwork.requests[-1]
        assert latest.tags["outstanding_versions"] == "2"


def test_only_the_receivers_due_are_followed_up(warehouse):
    put(warehouse, version("municipal", "GC1", "sent"))
    with instance_for_test() as instance:
        clockwork = Clockwork(instance, warehouse)
        clockwork.run(range(0, 10))  # municipal followed up at 2 and 6; next at 14
        put(warehouse, version("one_network", "GC9", "queued", day=DAY - dt.timedelta(days=1)))
        clockwork.run(range(10, 13))  # one network seen at 10, due at 12
        minute, request = clockwork.requests[-1]
        assert minute == 12
        assert set(request.asset_selection) == {AssetKey("one_network_delivery"), AssetKey("delivery_status")}
        assert request.tags["bridge/follow_up"] == "one_network"
        assert request.tags["dagster/asset_partition_range_start"] == str(DAY - dt.timedelta(days=1))


def test_a_receiver_that_was_down_waits_for_its_circuit_breaker(warehouse, monkeypatch):
    monkeypatch.setenv("ONE_NETWORK_BREAKER_COOLDOWN_SECONDS", "600")  # ten minutes
    put(warehouse, version("one_network", "GC1", "queued", attempts=3, last_error="connection refused"))
    with instance_for_test() as instance:
        clockwork = Clockwork(instance, warehouse)
        assert clockwork.run(range(0, 31)) == [10, 30]  # 10 (the cool-down), then twice that
    assert "last try failed: connection refused" in clockwork.reasons[0][1]


def test_the_window_is_the_last_days_that_exist(warehouse):
    """A version queued today waits for today's partition (tomorrow); one older than the window is the nightly
    reconciliation's."""
    put(
        warehouse,
        version("municipal", "GC1", "queued", day=TODAY),
        version("municipal", "GC2", "sent", day=TODAY - dt.timedelta(days=30)),
    )
    with instance_for_test() as instance:
        assert Clockwork(instance, warehouse).run(range(0, 31)) == []


def test_the_backoff_is_configured_and_checked(monkeypatch):
    monkeypatch.setenv(followup.FIRST_WAIT_VARIABLE, "1")
    monkeypatch.setenv(followup.MAX_WAIT_VARIABLE, "5")
    assert followup.Backoff.configured() == followup.Backoff(1, 5)
    monkeypatch.setenv(followup.MAX_WAIT_VARIABLE, "0.5")
    with pytest.raises(ConfigurationError, match=r"_FIRST_MINUTES=1, BRIDGE_FOLLOW_UP_MAX_MINUTES=0\.5"):
        followup.Backoff.configured()


def test_an_unreadable_cursor_starts_afresh():
    assert followup.read_cursor("not json") == {}
    assert followup.read_cursor(None) == {}
