"""The reconciliation reads each receiver for the window only, by the receiver's own published query: the province's
national tables by their time column (``cd_time``), a platform's receipts query about the window's receipts; a
receiver without such a query is "cannot verify", and the product never calls a path only the sandbox offers."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from connectors.province import ProvinceTableTarget
from connectors.targets import ReadWindow
from core.warehouse import Warehouse, insert_frame
from delivery.outbox import drain
from delivery.reconcile import CANNOT_VERIFY, EPOCH, VERIFIED, receiver_counts, reconcile_receiver
from sandbox.province.contract import build_metadata
from schemas.warehouse import outbox

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
#: Every package of the product (pyproject's packages, the sandbox and the tests apart).
PRODUCT = ["cli", "connectors", "core", "dashboard", "delivery", "licensing", "pipelines", "reporting", "resolution",
           "schemas", "sharing", "staging"]  # fmt: skip
OLD, NEW = dt.date(2026, 10, 9), dt.date(2026, 11, 16)


def test_the_product_never_calls_a_sandbox_only_path():
    """``/_sandbox/…`` is the stand-ins' own inspection surface (tests and the demo's fault settings read it); no
    module the bridge ships may call it, whatever it is for."""
    offenders = []
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*")):
            if path.suffix in {".py", ".yaml", ".yml", ".toml", ".json", ".sql"} and "/_sandbox" in path.read_text(
                encoding="utf-8", errors="replace"
            ):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def _sent(case_id: str, version: int, day: dt.date, status: str = "acknowledged") -> dict:
    return {"target": "municipal", "idempotency_key": f"municipal:{case_id}:v{version}", "golden_case_id": case_id,
            "version": version, "partition_date": day, "payload": "{}", "payload_hash": "h", "status": status,
            "attempts": 1, "created_at": dt.datetime.combine(day, dt.time(9)),
            "receipt_id": f"R-{case_id}-{version}"}  # fmt: skip


class ReceiptsPlatform:
    """A platform as the reconciliation sees it: its receipts query answers for each receipt asked (accepted for
    the versions it holds, else rejected); it keeps every window it was asked about."""

    def __init__(self, held: set[tuple[str, int]], query: bool = True):
        self.held, self.query, self.asked = held, query, []

    def verified_by(self) -> str | None:
        return "its receipts query" if self.query else None

    def format_name(self) -> str:
        return ""

    def holdings(self, window: ReadWindow) -> pd.DataFrame | None:
        self.asked.append(window)
        accepted = {f"R-{c}-{v}" for c, v in self.held}
        return pd.DataFrame(
            {
                "receipt": window.receipts,
                "status": ["accepted" if r in accepted else "rejected" for r in window.receipts],
            }
        )


def test_the_sensors_window_asks_the_platform_about_the_windows_receipts_only(warehouse):
    rows = [_sent("GC-OLD", 1, OLD), _sent("GC-NEW", 1, NEW), _sent("GC-NEW", 2, NEW, "sent"), _sent("GC-LOST", 1, NEW)]
    with warehouse.begin() as conn:
        insert_frame(conn, outbox, pd.DataFrame(rows))
    platform = ReceiptsPlatform({("GC-OLD", 1), ("GC-NEW", 1), ("GC-NEW", 2)})
    found = reconcile_receiver(warehouse, "municipal", platform, NEW - dt.timedelta(days=7), EPOCH)
    (window,) = platform.asked
    assert sorted(window.receipts) == ["R-GC-LOST-1", "R-GC-NEW-1", "R-GC-NEW-2"]  # never the October case's
    verdicts = found.cases.set_index("golden_case_id")["verdict"].to_dict()
    assert verdicts == {"GC-NEW": "in_flight", "GC-LOST": "missing_at_receiver"}  # it rejected what we hold acked
    assert found.check == VERIFIED and not found.duplicates_known
    assert found.table[["day", "in_flight", "differences"]].values.tolist() == [[NEW, 1, 1]]


def test_the_whole_history_is_read_a_month_at_a_time(warehouse):
    rows = [_sent("GC-OLD", 1, OLD), _sent("GC-MOVED", 1, OLD), _sent("GC-MOVED", 2, NEW), _sent("GC-NEW", 1, NEW)]
    with warehouse.begin() as conn:
        insert_frame(conn, outbox, pd.DataFrame(rows))
    platform = ReceiptsPlatform({("GC-OLD", 1), ("GC-MOVED", 2), ("GC-NEW", 1)})
    found = reconcile_receiver(warehouse, "municipal", platform, None, EPOCH)
    # October's window: the case whose newest version is October's; November's: the others, with all their versions
    assert [sorted(w.receipts) for w in platform.asked] == [
        ["R-GC-OLD-1"],
        ["R-GC-MOVED-1", "R-GC-MOVED-2", "R-GC-NEW-1"],
    ]
    assert found.windows == 2 and set(found.cases["verdict"]) == {"agrees"}
    assert found.table.set_index("day")["case_versions"].to_dict() == {OLD: 2, NEW: 2}  # one row a day
    counts = receiver_counts(warehouse, "municipal", platform)
    assert counts["received_cases"] == 3 and counts["duplicate_effects"] is None  # receipts cannot tell


def test_a_platform_without_a_receipts_query_cannot_be_verified(warehouse):
    with warehouse.begin() as conn:
        insert_frame(conn, outbox, pd.DataFrame([_sent("GC1", 1, NEW)]))
    platform = ReceiptsPlatform({("GC1", 1)}, query=False)
    found = reconcile_receiver(warehouse, "municipal", platform, None, EPOCH)
    assert found.check == CANNOT_VERIFY and "publishes no query" in found.why_not and platform.asked == []
    assert found.table["differences"].sum() == 0 and found.table["receiver_cases"].sum() == 0
    assert "cannot_verify" in receiver_counts(warehouse, "municipal", platform)


# ---------------------------------------------------------------- the province: its tables by date range
def _case(n: int, day: dt.date) -> dict:
    number = f"11320412MB0143028G4000102001000{day:%Y%m%d}{n + 1:04d}"
    return {"case_no": number, "project_no": number, "item_code": "000102001000", "item_name": "企业设立登记",
            "applicant_type": "legal_person", "applicant_name": f"常州测试{n}号有限公司",
            "applicant_id": "9132041258558635XF", "applicant_id_kind": "uscc", "status": "受理",
            "contact_phone": "13812345678", "submitted_at": f"{day}T09:00:00", "accepted_at": f"{day}T10:00:00",
            "handling_dept": "market_regulation"}  # fmt: skip


def _queue(warehouse: Warehouse, case_id: str, n: int, day: dt.date, queued: dt.datetime | None = None) -> None:
    text = json.dumps(_case(n, day), ensure_ascii=False, sort_keys=True)
    row = {"target": "one_network", "idempotency_key": f"one_network:{case_id}:v1", "golden_case_id": case_id,
           "version": 1, "partition_date": day, "payload": text,
           "payload_hash": hashlib.sha256(text.encode()).hexdigest(), "status": "queued", "attempts": 0,
           "created_at": queued or dt.datetime.combine(day, dt.time(20))}  # fmt: skip
    with warehouse.begin() as conn:
        insert_frame(conn, outbox, pd.DataFrame([row]))


def test_the_province_is_read_by_its_time_column_from_the_windows_first_version(tmp_path, warehouse):
    url = f"sqlite:///{tmp_path / 'front.sqlite'}"
    engine = sa.create_engine(url)
    build_metadata("current").create_all(engine)  # the published DDL's copy (contracts/national)
    engine.dispose()
    now = [dt.datetime.combine(OLD, dt.time(21))]
    target = ProvinceTableTarget(url=url, settle_seconds=60, tenant_id=1, org_id=2, user_id=3)
    target.using_clock(lambda: now[0])
    read: list[tuple[ReadWindow, pd.DataFrame]] = []
    holdings = target.holdings

    def recording(window: ReadWindow) -> pd.DataFrame:
        listing = holdings(window)
        read.append((window, listing))
        return listing

    object.__setattr__(target, "holdings", recording)
    _queue(warehouse, "GC-OLD", 0, OLD)
    drain(warehouse, "one_network", target)  # written in October
    now[0] = dt.datetime.combine(NEW, dt.time(21))
    # queued by the machine's clock a week after the business date the province's rows are stamped with (a pinned
    # BRIDGE_TODAY against real time): the read still starts before both
    _queue(warehouse, "GC-NEW", 1, NEW, queued=dt.datetime.combine(NEW + dt.timedelta(days=7), dt.time(20)))
    drain(warehouse, "one_network", target)  # written in November; October's is settled and taken
    now[0] += dt.timedelta(minutes=5)
    drain(warehouse, "one_network", target)
    assert warehouse.scalar("SELECT COUNT(*) FROM outbox WHERE status = 'acknowledged'") == 2

    recent = reconcile_receiver(warehouse, "one_network", target, NEW - dt.timedelta(days=7), EPOCH)
    window, listing = read[-1]
    assert window.written_from == dt.datetime.combine(NEW - dt.timedelta(days=1), dt.time())  # its day, less one
    assert set(listing["case_no"]) == {_case(1, NEW)["case_no"]}  # October's rows were not read
    assert recent.check == VERIFIED and recent.cases["verdict"].tolist() == ["agrees"]

    whole = reconcile_receiver(warehouse, "one_network", target, None, EPOCH)
    assert whole.windows == 2 and set(whole.cases["verdict"]) == {"agrees"}
    assert "cd_time" in whole.verified_by
    assert re.search(r"up_pro_accept", whole.verified_by)


def test_the_delivery_mart_says_which_days_could_not_be_verified(warehouse):
    from pipelines.marts.assets import delivery_status_select
    from schemas.warehouse import delivery_reconciliation

    rows = [_sent("GC1", 1, NEW), {**_sent("GC2", 1, NEW), "target": "one_network"}, _sent("GC3", 1, OLD)]
    checked = [
        {"target": target, "day": NEW, "case_versions": 1, "acknowledged": 1, "pending": 0, "dead_lettered": 0,
         "stale_pending": 0, "acknowledged_cases": 1, "receiver_cases": 0, "in_flight": 0, "differences": 0,
         "receiver_check": check, "reconciled_at": dt.datetime(2026, 11, 17, 3)}
        for target, check in (("municipal", CANNOT_VERIFY), ("one_network", VERIFIED))
    ]  # fmt: skip
    with warehouse.begin() as conn:
        insert_frame(conn, outbox, pd.DataFrame(rows))
        insert_frame(conn, delivery_reconciliation, pd.DataFrame(checked))
    mart = warehouse.read(delivery_status_select()).set_index(["target", "day"])["receiver_check"].fillna("NULL")
    mart.index = [(t, str(d)) for t, d in mart.index]
    assert mart.to_dict() == {
        ("municipal", str(OLD)): "NULL",  # not reconciled yet
        ("municipal", str(NEW)): CANNOT_VERIFY,
        ("one_network", str(NEW)): VERIFIED,
    }


def test_reconcile_prints_cannot_verify_for_a_receiver_without_a_query(warehouse):
    from cli.reconciliation import identities, render, summary

    with warehouse.begin() as conn:
        insert_frame(conn, outbox, pd.DataFrame([_sent("GC1", 1, NEW)]))
    receivers = {
        "one_network": ReceiptsPlatform(set()),
        "municipal": ReceiptsPlatform({("GC1", 1)}, query=False),
        "supervision": ReceiptsPlatform(set()),
    }
    figures = summary(warehouse, receivers)
    municipal = figures["targets"]["municipal"]
    assert "publishes no query" in municipal["cannot_verify"] and "received_cases" not in municipal
    text = render(figures)
    assert "[cannot verify] municipal: what the receiver holds (it publishes no query" in text
    assert "municipal cannot verify: it publishes no query" in text
    labels = [label for label, _ in identities(figures)]
    assert not any(label.startswith("municipal: receiver") for label in labels)  # no pass for what was not seen


class TablesProvince:
    """A receiver listing by case number and batch (as the province's tables), the same rows whatever the window:
    overlapping date ranges, as a backfill's writes give."""

    def __init__(self, rows: list[tuple[str, str, int]]):
        self.rows, self.asked = rows, []

    def verified_by(self) -> str:
        return "its tables by cd_time"

    def holdings(self, window: ReadWindow) -> pd.DataFrame:
        self.asked.append(window)
        return pd.DataFrame(self.rows, columns=["case_no", "receipt", "repeats"])


def test_a_batch_we_never_sent_is_counted_once_over_the_nightly_windows(warehouse):
    rows = [_sent("GC-OLD", 1, OLD), _sent("GC-NEW", 1, NEW)]
    with warehouse.begin() as conn:
        insert_frame(conn, outbox, pd.DataFrame(rows))
    province = TablesProvince([("N-OLD", "R-GC-OLD-1", 0), ("N-NEW", "R-GC-NEW-1", 1), ("N-X", "not-ours", 0)])
    found = reconcile_receiver(warehouse, "municipal", province, None, EPOCH)
    assert len(province.asked) == 2 and province.asked[0].written_from < province.asked[1].written_from
    verdicts = found.cases.set_index("golden_case_id")["verdict"].to_dict()
    assert verdicts == {"GC-OLD": "agrees", "GC-NEW": "duplicate_effect", "?N-X": "unknown_to_us"}
    unplaced = found.table[found.table["day"].isna()]
    assert unplaced[["receiver_cases", "differences"]].values.tolist() == [[1, 1]]
    assert int(found.table["differences"].sum()) == 2  # GC-NEW taken twice, N-X unknown
    window = reconcile_receiver(warehouse, "municipal", province, NEW - dt.timedelta(days=7), EPOCH)
    assert set(window.cases["golden_case_id"]) == {"GC-NEW"}  # the sensor's window: its own cases only
