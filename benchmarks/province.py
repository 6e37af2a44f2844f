"""How fast the bridge writes case versions into the province's national tables, per DDL version and database.

Each case goes out twice, as a district's cases do: accepted one day (acceptance, one step, two materials), finished
on a later one (the same rows updated where they changed, two more steps, the result). The tables are the published
ones (``contracts/national``, created by the stand-in's reader); the stand-in's audit then takes every row, so the
figures also show the follow-up (``follow_up``: reading the province's answers back once the settling time has
passed) and the reconciliation listing (``holdings``). Printed per DDL version: rows written, versions per second
through ``send`` (``batch_size`` versions per transaction), follow-up and listing seconds, and peak Python memory.

    .venv/bin/python benchmarks/province.py                           # 2,000 cases on SQLite, both DDL versions
    .venv/bin/python benchmarks/province.py --cases 5000 --url postgresql+psycopg2://postgres@127.0.0.1/test
"""

import argparse
import datetime as dt
import hashlib
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.province import ProvinceTableTarget, batch_of  # noqa: E402
from connectors.targets import OutboxMessage, ReadWindow  # noqa: E402
from sandbox.province.exchange import NationalExchange  # noqa: E402
from sandbox.province.fixture import front_end_metadata  # noqa: E402
from schemas.identifiers import make_uscc  # noqa: E402

TASK = "11320412MB0143028G4000102001000"  # 企业设立登记 as the market regulator implements it
VERSIONS = ("current", "2020")
IDS = {"tenant_id": 1, "org_id": 2, "user_id": 3}
MATERIALS = [
    {"name": "申请书", "get_type": "paper", "count": 1, "attachment": None},
    {"name": "章程", "get_type": "upload", "count": None, "attachment": "章程.pdf"},
]


def versions(cases: int) -> tuple[list[OutboxMessage], list[OutboxMessage]]:
    """(accepted, finished): one version of each case per day, numbered 0001… per day."""
    first, later = [], []
    for n in range(cases):
        day = dt.datetime(2026, 11, 2) + dt.timedelta(days=n // 9000)
        number = f"{TASK}{day:%Y%m%d}{n % 9000 + 1:04d}"
        base = {
            "project_no": number,
            "case_no": number,
            "item_code": "000102001000",
            "item_name": "企业设立登记",
            "applicant_type": "legal_person",
            "applicant_name": f"常州基准{n}号科技有限公司",
            "applicant_id": make_uscc("91320412", f"{n + 10_000_000:08d}"),
            "applicant_id_kind": "uscc",
            "contact_phone": "13812345678",
            "address": "江苏省常州市武进区湖塘镇人民中路1号",
            "submitted_at": (day + dt.timedelta(hours=9)).isoformat(),
            "accepted_at": (day + dt.timedelta(hours=10)).isoformat(),
            "status": "受理",
            "promised_days": 2,
            "statutory_days": 15,
            "handling_dept": "market_regulation",
            "handler_name": "陈晓燕",
            "materials": MATERIALS,
        }
        done = {
            **base,
            "status": "办结",
            "decided_at": (day + dt.timedelta(days=1, hours=9)).isoformat(),
            "completed_at": (day + dt.timedelta(days=1, hours=11)).isoformat(),
        }
        first.append(_message(f"GC{n:010d}", 1, base))
        later.append(_message(f"GC{n:010d}", 2, done))
    return first, later


def _message(golden_case_id: str, version: int, payload: dict) -> OutboxMessage:
    key = f"one_network:{golden_case_id}:v{version}"
    return OutboxMessage(key, golden_case_id, version, payload, hashlib.sha256(repr(payload).encode()).hexdigest())


def run(url: str, version: str, cases: int, batch: int | None = None) -> dict:
    engine = sa.create_engine(url)
    metadata = front_end_metadata(version)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    exchange = NationalExchange(engine, version)
    sizes = {"batch_size": batch} if batch else {}
    target = ProvinceTableTarget(
        url=url, ddl_version=version, rate_limit_per_second=0, settle_seconds=0, **IDS, **sizes
    )
    figures: dict = {"ddl_version": version, "cases": cases, "batch": target.batch_size}
    tracemalloc.start()
    sent_seconds = follow_seconds = 0.0
    for label, batch in zip(("accepted", "finished"), versions(cases), strict=True):
        started = time.perf_counter()
        answers = target.send(batch)
        sent_seconds += time.perf_counter() - started
        assert {a.outcome for a in answers} == {"sent"}, label
        exchange.process_once(dt.datetime(2100, 1, 1))
        exchange.process_once(dt.datetime(2100, 1, 1))
        receipts = {a.idempotency_key: a.receipt_id for a in answers}
        sent = [OutboxMessage(m.idempotency_key, m.golden_case_id, m.version, {}, "", receipts[m.idempotency_key])
                for m in batch]  # fmt: skip
        started = time.perf_counter()
        acknowledged = [d for d in target.follow_up(sent) if d.outcome == "acknowledged"]
        follow_seconds += time.perf_counter() - started
        assert len(acknowledged) == len(batch), (label, len(acknowledged))
        assert all(a.receipt_id == batch_of(a.idempotency_key) for a in acknowledged)
    started = time.perf_counter()
    listing = target.holdings(ReadWindow())  # every row: the nightly read of a whole month, at most
    figures["holdings_s"] = round(time.perf_counter() - started, 2)
    figures["peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
    tracemalloc.stop()
    with engine.connect() as conn:
        rows = sum(
            conn.execute(sa.select(sa.func.count()).select_from(sa.table(t))).scalar() for t in target.profile.tables
        )
    engine.dispose()
    assert listing["case_no"].nunique() == cases
    figures.update(
        rows_written=rows,
        send_s=round(sent_seconds, 2),
        versions_per_s=round(2 * cases / sent_seconds),
        rows_per_s=round(rows / sent_seconds),
        follow_up_s=round(follow_seconds, 2),
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--url", help="a database for the province's tables (default: a SQLite file)")
    parser.add_argument("--batch", type=int, help="versions per transaction (default: the target's)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'province.sqlite'}"
        print(f"{args.cases} cases, two versions each, into {sa.make_url(url).get_backend_name()}")
        rows = [run(url, version, args.cases, args.batch) for version in VERSIONS]
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
