"""Each standalone asset check run on its own, as the UI's "Execute" runs it, against a small warehouse made here:
a day that holds, a day that does not, and what the check cannot verify (a warning, never a pass)."""

import datetime as dt

import pandas as pd
import pytest
from dagster import (
    AssetCheckSeverity,
    AssetSelection,
    AssetSpec,
    DagsterInstance,
    Definitions,
    define_asset_job,
    instance_for_test,
)

from connectors.targets import ReadWindow
from core.warehouse import Warehouse, insert_frame
from pipelines.deliver.checks import (
    ACCOUNTED_CHECKS,
    no_stale_pending,
    receiver_holds_what_it_acknowledged,
)
from pipelines.licences.checks import licence_identifiers_valid, no_licence_valid_past_its_end_date
from pipelines.marts.checks import every_staged_record_linked_once
from pipelines.partitions import DAILY, partition_range_tags
from pipelines.resolve.checks import staged_equals_golden_plus_duplicates
from pipelines.stage.assets import partition_counts
from pipelines.stage.checks import pulled_equals_staged_plus_quarantined
from schemas.identifiers import make_licence_identifier
from schemas.warehouse import (
    case_links,
    golden_cases,
    licence_events,
    licences,
    outbox,
    quarantined_records,
    raw_records,
    source_loads,
    staged_cases,
)
from tests.conftest import TODAY

pytestmark = pytest.mark.unit

DAY = dt.date(2026, 11, 16)
AT = dt.datetime(2026, 11, 16, 9)
ERROR, WARN = AssetCheckSeverity.ERROR, AssetCheckSeverity.WARN


def run_days(check, warehouse: Warehouse, tags: dict, instance=None, partitioned: bool = True, **resources):
    """Run one check alone (its asset not materialised in the run), as the UI does, over the days ``tags`` name
    (one partition, a range, or none); its evaluations. A blocking check that fails fails its run, as in the UI."""
    (key,) = check.check_keys
    spec = AssetSpec(key.asset_key, partitions_def=DAILY if partitioned else None)
    defs = Definitions(
        assets=[spec],
        asset_checks=[check],
        jobs=[define_asset_job("check_alone", selection=AssetSelection.checks(check))],
        resources={"warehouse": warehouse, **resources},
    )
    job = defs.resolve_job_def("check_alone")
    result = job.execute_in_process(instance=instance or DagsterInstance.ephemeral(), tags=tags, raise_on_error=False)
    return result.get_asset_check_evaluations()


def run_check(check, warehouse: Warehouse, partition: dt.date | None = DAY, **resources):
    """One check alone on one day (or unpartitioned): its evaluation."""
    tags = {"dagster/partition": str(partition)} if partition else {}
    (evaluation,) = run_days(check, warehouse, tags, partitioned=partition is not None, **resources)
    return evaluation


def verdict(evaluation) -> str:
    if evaluation.passed:
        return "passed"
    return "error" if evaluation.severity == ERROR else "warning"


def text(evaluation, key: str) -> str:
    value = evaluation.metadata[key]
    return str(getattr(value, "md_str", None) or getattr(value, "text", None) or value.value)


def insert(warehouse: Warehouse, table, rows: list[dict]) -> None:
    with warehouse.begin() as conn:
        insert_frame(conn, table, pd.DataFrame(rows))


def pulled(warehouse: Warehouse, day: dt.date = DAY) -> list[str]:
    """Every declared source's pull of the day finished; returns the sources."""
    sources = partition_counts(warehouse, day, day)["source_system"].tolist()
    insert(warehouse, source_loads, [
        {"source_system": s, "partition_date": day, "batch_id": f"{s}-1", "window_start": AT, "window_end": AT,
         "rows_pulled": 0, "rows_collapsed": 0, "fetched_at": AT}
        for s in sources
    ])  # fmt: skip
    return sources


def record(table, key: str, day: dt.date = DAY, source: str = "housing", **extra) -> dict:
    rows = {
        raw_records: {"payload": "{}", "batch_id": "b", "fetched_at": AT},
        staged_cases: {"source_record_id": key},
        quarantined_records: {"reason_code": "missing_name", "reason": "no name", "quarantined_at": AT},
        case_links: {"match_rule": "new", "linked_at": AT},
    }[table]
    return {"source_system": source, "partition_date": day, "record_key": key, **rows, **extra}


def golden(case_id: str, version: int = 1) -> dict:
    return {"golden_case_id": case_id, "record_count": 1, "version": version, "content_hash": "h",
            "first_partition": DAY, "updated_partition": DAY, "updated_at": AT}  # fmt: skip


def sent(target: str, case_id: str, version: int, status: str, day: dt.date = DAY, at: dt.datetime = AT) -> dict:
    return {"target": target, "idempotency_key": f"{target}:{case_id}:v{version}", "golden_case_id": case_id,
            "version": version, "partition_date": day, "payload": "{}", "payload_hash": "h", "status": status,
            "attempts": 1, "created_at": at,
            "receipt_id": f"R-{case_id}-{version}" if status in ("sent", "acknowledged") else None}  # fmt: skip


# ---------------------------------------------------------------- pulled = staged + quarantined
def test_pulled_equals_staged_plus_quarantined(warehouse):
    pulled(warehouse)
    insert(warehouse, raw_records, [record(raw_records, "A"), record(raw_records, "B")])
    insert(warehouse, staged_cases, [record(staged_cases, "A")])
    insert(warehouse, quarantined_records, [record(quarantined_records, "B")])
    evaluation = run_check(pulled_equals_staged_plus_quarantined, warehouse)
    assert verdict(evaluation) == "passed", evaluation.metadata
    assert evaluation.metadata["pulled"].value == 2 and text(evaluation, "could_not_verify") == "none"


def test_a_record_lost_in_staging_fails_its_day(warehouse):
    pulled(warehouse)
    insert(warehouse, raw_records, [record(raw_records, "A"), record(raw_records, "B")])
    insert(warehouse, staged_cases, [record(staged_cases, "A")])
    evaluation = run_check(pulled_equals_staged_plus_quarantined, warehouse)
    assert verdict(evaluation) == "error"
    assert evaluation.partition == str(DAY) and text(evaluation, "unbalanced_sources") == "housing"


def test_a_day_not_pulled_cannot_be_verified(warehouse):
    evaluation = run_check(pulled_equals_staged_plus_quarantined, warehouse)
    assert verdict(evaluation) == "warning"
    assert "not pulled yet" in text(evaluation, "could_not_verify")


def test_a_week_of_days_gets_a_verdict_per_day(warehouse):
    """A run over several days (a backfill's week) records one evaluation per day, on that day's partition, with
    that day's figures: no line for the whole run, no day left "skipped"."""
    second, third = DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)
    for day in (DAY, second):
        pulled(warehouse, day)
        insert(warehouse, raw_records, [record(raw_records, "A", day), record(raw_records, "B", day)])
        insert(warehouse, staged_cases, [record(staged_cases, "A", day)])
    insert(warehouse, quarantined_records, [record(quarantined_records, "B", DAY)])  # the second day loses B
    with instance_for_test() as instance:
        evaluations = run_days(
            pulled_equals_staged_plus_quarantined, warehouse, partition_range_tags([str(DAY), str(third)]), instance
        )
        key = next(iter(pulled_equals_staged_plus_quarantined.check_keys))
        history = instance.event_log_storage.get_asset_check_execution_history(key, limit=10)
    assert [(e.partition, verdict(e)) for e in evaluations] == [
        (str(DAY), "passed"),
        (str(second), "error"),
        (str(third), "warning"),  # nothing pulled that day
    ]
    assert [e.metadata["quarantined"].value for e in evaluations] == [1, 0, 0]
    assert text(evaluations[1], "unbalanced_sources") == "housing"
    # what the UI lists: each day's execution, none without a partition, none still planned (shown "skipped")
    assert sorted((r.partition, r.status.value) for r in history) == [
        (str(DAY), "SUCCEEDED"),
        (str(second), "FAILED"),
        (str(third), "FAILED"),  # a warning: the UI shows it failed with severity WARN
    ]


def test_a_check_run_without_a_day_checks_the_last_week(warehouse):
    """The UI's "Execute" beside a daily check launches it with no partition: the last seven days, each on its
    partition, and one line for the run."""
    evaluations = run_days(staged_equals_golden_plus_duplicates, warehouse, {})
    days = [str(TODAY - dt.timedelta(days=n)) for n in range(7, 0, -1)]
    assert [e.partition for e in evaluations] == [*days, None]
    assert all(verdict(e) == "warning" for e in evaluations)  # nothing pulled on any of them
    assert text(evaluations[-1], "failed_days") == ", ".join(days)


def test_recheck_days_runs_every_daily_check_alone_on_the_days_named(warehouse):
    """The job the UI launches to re-check days without loading them: every daily check, one verdict each on each
    day the run's tags name, nothing materialised."""
    from pipelines.definitions import DAILY_CHECKS, defs

    pulled(warehouse)
    job = defs.resolve_job_def("recheck_days")
    result = job.execute_in_process(
        instance=DagsterInstance.ephemeral(),
        tags=partition_range_tags([str(DAY), str(DAY + dt.timedelta(days=1))]),
        resources={"warehouse": warehouse},
        raise_on_error=False,
    )
    evaluations = result.get_asset_check_evaluations()
    daily = {key for check in DAILY_CHECKS for key in check.check_keys}
    assert {"pulled_equals_staged_plus_quarantined", "staged_equals_golden_plus_duplicates",
            "every_version_accounted_for", "licence_identifiers_valid"} <= {key.name for key in daily}  # fmt: skip
    assert sorted((e.asset_check_key, e.partition) for e in evaluations) == sorted(
        (key, str(day)) for key in daily for day in (DAY, DAY + dt.timedelta(days=1))
    )
    assert not result.get_asset_materialization_events()


# ---------------------------------------------------------------- staged = golden + duplicates
def _two_records_one_case(warehouse, links: int = 2) -> None:
    pulled(warehouse)
    insert(warehouse, staged_cases, [record(staged_cases, "A"), record(staged_cases, "B")])
    roles = ["golden", "duplicate"][:links]
    insert(warehouse, case_links, [
        record(case_links, key, golden_case_id="GC1", role=role) for key, role in zip("AB", roles, strict=False)
    ])  # fmt: skip
    insert(warehouse, golden_cases, [golden("GC1")])


def test_staged_equals_golden_plus_duplicates(warehouse):
    _two_records_one_case(warehouse)
    evaluation = run_check(staged_equals_golden_plus_duplicates, warehouse)
    assert verdict(evaluation) == "passed", evaluation.metadata
    assert (evaluation.metadata["golden"].value, evaluation.metadata["duplicates"].value) == (1, 1)


def test_a_staged_record_without_a_link_fails_its_day(warehouse):
    _two_records_one_case(warehouse, links=1)
    evaluation = run_check(staged_equals_golden_plus_duplicates, warehouse)
    assert verdict(evaluation) == "error" and evaluation.metadata["not_linked"].value == 1


def test_a_golden_case_with_two_winners_fails(warehouse):
    pulled(warehouse)
    insert(warehouse, staged_cases, [record(staged_cases, "A"), record(staged_cases, "B")])
    insert(warehouse, case_links, [record(case_links, k, golden_case_id="GC1", role="golden") for k in "AB"])
    insert(warehouse, golden_cases, [golden("GC1")])
    evaluation = run_check(staged_equals_golden_plus_duplicates, warehouse)
    assert verdict(evaluation) == "error" and "GC1" in text(evaluation, "examples")


def test_resolution_of_a_day_not_pulled_cannot_be_verified(warehouse):
    evaluation = run_check(staged_equals_golden_plus_duplicates, warehouse)
    assert verdict(evaluation) == "warning" and "not pulled yet" in text(evaluation, "could_not_verify")


def test_every_staged_record_linked_once_across_days(warehouse):
    _two_records_one_case(warehouse)
    assert verdict(run_check(every_staged_record_linked_once, warehouse, partition=None)) == "passed"
    insert(warehouse, staged_cases, [record(staged_cases, "C", day=DAY + dt.timedelta(days=1))])
    evaluation = run_check(every_staged_record_linked_once, warehouse, partition=None)
    assert verdict(evaluation) == "warning" and text(evaluation, "failing_days") == str(DAY + dt.timedelta(days=1))


# ---------------------------------------------------------------- every version accounted for
def _accounted(target: str):
    return next(c for c in ACCOUNTED_CHECKS if next(iter(c.check_keys)).asset_key.path == [f"{target}_delivery"])


def test_every_version_accounted_for(warehouse):
    insert(warehouse, golden_cases, [golden("GC1", version=2)])
    insert(warehouse, case_links, [record(case_links, "A", golden_case_id="GC1", role="golden")])
    insert(warehouse, outbox, [sent("municipal", "GC1", 1, "acknowledged"), sent("municipal", "GC1", 2, "queued")])
    evaluation = run_check(_accounted("municipal"), warehouse)
    assert verdict(evaluation) == "passed", evaluation.metadata
    assert evaluation.metadata["versions_expected"].value == evaluation.metadata["versions_accounted"].value == 2


def test_a_version_missing_from_the_outbox_fails(warehouse):
    insert(warehouse, golden_cases, [golden("GC1", version=2)])
    insert(warehouse, case_links, [record(case_links, "A", golden_case_id="GC1", role="golden")])
    insert(warehouse, outbox, [sent("municipal", "GC1", 2, "dead_lettered")])
    evaluation = run_check(_accounted("municipal"), warehouse)
    assert verdict(evaluation) == "error"
    assert "GC1" in text(evaluation, "examples") and "[1]" in text(evaluation, "examples")


def test_licence_versions_are_accounted_for_the_supervision_feed(warehouse):
    insert(warehouse, licences, [_licence("LC1", version=1)])
    insert(warehouse, licence_events, [_event("LC1")])
    assert verdict(run_check(_accounted("supervision"), warehouse)) == "error"  # queued for no one
    insert(warehouse, outbox, [sent("supervision", "LC1", 1, "sent")])
    assert verdict(run_check(_accounted("supervision"), warehouse)) == "passed"


# ---------------------------------------------------------------- receivers hold what they acknowledged
class Receiver:
    """A receiver as the check sees it: a platform answering its receipts query (accepted for the versions it
    holds), one that publishes no such query (``held`` None), or one whose query fails. It keeps what it was asked."""

    def __init__(self, held: list[tuple[str, int]] | None = (), fails: bool = False):
        self.held, self.fails, self.asked = held, fails, []

    def verified_by(self) -> str | None:
        return None if self.held is None else "its receipts query"

    def holdings(self, window: ReadWindow) -> pd.DataFrame | None:
        self.asked.append(window)
        if self.fails:
            raise ConnectionError("front-end database unreachable")
        accepted = {f"R-{case_id}-{version}" for case_id, version in self.held}
        return pd.DataFrame(
            {
                "receipt": list(window.receipts),
                "status": ["accepted" if r in accepted else "rejected" for r in window.receipts],
            }
        )


def _acknowledged(warehouse) -> None:
    insert(warehouse, outbox, [sent(t, "GC1", 1, "acknowledged") for t in ("one_network", "municipal")])


def test_receivers_hold_what_they_acknowledged(warehouse):
    _acknowledged(warehouse)
    receivers = {"one_network": Receiver([("GC1", 1)]), "municipal": Receiver([("GC1", 1)]), "supervision": Receiver()}
    evaluation = run_check(receiver_holds_what_it_acknowledged, warehouse, partition=None, **receivers)
    assert verdict(evaluation) == "passed", evaluation.metadata
    assert "verified by its receipts query" in text(evaluation, "receivers")
    assert evaluation.metadata["municipal_receiver_check"].value == "verified"


def test_a_receiver_missing_an_acknowledged_case_fails(warehouse):
    _acknowledged(warehouse)
    receivers = {"one_network": Receiver([("GC1", 1)]), "municipal": Receiver([]), "supervision": Receiver()}
    evaluation = run_check(receiver_holds_what_it_acknowledged, warehouse, partition=None, **receivers)
    assert verdict(evaluation) == "error"
    assert evaluation.metadata["differences"].value == 1 and text(evaluation, "failing_days") == f"municipal {DAY}"


@pytest.mark.parametrize(
    ("receiver", "why"),
    [(Receiver(None), "publishes no query"), (Receiver(fails=True), "ConnectionError")],
    ids=["no listing", "listing unreachable"],
)
def test_a_receiver_without_a_listing_is_a_warning_not_a_pass(warehouse, receiver, why):
    _acknowledged(warehouse)
    receivers = {"one_network": Receiver([("GC1", 1)]), "municipal": receiver, "supervision": Receiver()}
    evaluation = run_check(receiver_holds_what_it_acknowledged, warehouse, partition=None, **receivers)
    assert verdict(evaluation) == "warning"
    assert "municipal" in text(evaluation, "could_not_verify") and why in text(evaluation, "could_not_verify")
    assert "cannot verify" in text(evaluation, "receivers")
    assert evaluation.metadata["municipal_receiver_check"].value == "cannot verify"


def test_stale_pending_versions_warn(warehouse, monkeypatch):
    insert(warehouse, outbox, [sent("municipal", "GC1", 1, "sent")])  # sent on DAY, never acknowledged
    monkeypatch.setenv("BRIDGE_PENDING_MAX_AGE_HOURS", str(24 * 365 * 100))
    assert verdict(run_check(no_stale_pending, warehouse, partition=None)) == "passed"
    monkeypatch.setenv("BRIDGE_PENDING_MAX_AGE_HOURS", "24")
    evaluation = run_check(no_stale_pending, warehouse, partition=None)
    assert verdict(evaluation) == "warning" and evaluation.metadata["stale_pending"].value == 1
    assert text(evaluation, "failing_days") == f"municipal {DAY}"


# ---------------------------------------------------------------- licences
ISSUER = "11320412MB0000000X"


def _licence(key: str, licence_id: str | None = None, valid_to: dt.date | None = None, version: int = 1) -> dict:
    return {"licence_key": key, "licence_id": licence_id or make_licence_identifier("000105001000", ISSUER, key),
            "licence_type_code": "000105001000", "licence_name": "食品经营许可证", "licence_no": key,
            "holder_id": "HD1", "holder_name": "某公司", "issuer_name": "审批局", "issuer_code": ISSUER,
            "issue_date": DAY, "valid_from": DAY, "valid_to": valid_to, "status": "有效", "area_code": "320412",
            "sources": "case", "version": version, "content_hash": "h", "updated_at": AT}  # fmt: skip


def _event(key: str) -> dict:
    return {"licence_key": key, "event": "issued", "effective_date": DAY, "source": "case", "source_ref": "GC1",
            "partition_date": DAY, "details": "{}", "recorded_at": AT}  # fmt: skip


def test_licence_identifiers_valid(warehouse):
    insert(warehouse, licences, [_licence("LC1")])
    insert(warehouse, licence_events, [_event("LC1")])
    assert verdict(run_check(licence_identifiers_valid, warehouse)) == "passed"


def test_a_licence_identifier_with_a_wrong_check_character_fails(warehouse):
    good = make_licence_identifier("000105001000", ISSUER, "LC1")
    insert(warehouse, licences, [_licence("LC1", licence_id=good[:-1] + ("0" if good[-1] != "0" else "1"))])
    insert(warehouse, licence_events, [_event("LC1")])
    evaluation = run_check(licence_identifiers_valid, warehouse)
    assert verdict(evaluation) == "error" and evaluation.metadata["invalid_identifiers"].value == 1


def test_a_licence_valid_past_its_end_date_fails(warehouse):
    insert(warehouse, licences, [_licence("LC1"), _licence("LC2", valid_to=DAY + dt.timedelta(days=3650))])
    insert(warehouse, licence_events, [_event("LC1"), _event("LC2")])
    assert verdict(run_check(no_licence_valid_past_its_end_date, warehouse)) == "passed"  # 长期有效, and in force
    insert(warehouse, licences, [_licence("LC3", valid_to=dt.date(2020, 1, 1))])
    insert(warehouse, licence_events, [_event("LC3")])
    evaluation = run_check(no_licence_valid_past_its_end_date, warehouse)
    assert verdict(evaluation) == "error" and "LC3" in text(evaluation, "examples")


def test_licences_of_a_day_not_pulled_cannot_be_verified(warehouse):
    evaluation = run_check(licence_identifiers_valid, warehouse)
    assert verdict(evaluation) == "warning" and "not pulled yet" in text(evaluation, "could_not_verify")
    pulled(warehouse)  # pulled, and no licence that day: nothing to check, and that is known
    assert verdict(run_check(licence_identifiers_valid, warehouse)) == "passed"
