"""Delivery benchmark: throughput under a receiver's rate limit, and draining a backlog after an outage.

1. Throughput. The municipal stand-in enforces a rate limit of ``--limit`` requests per second (429 with
   Retry-After above it); the bridge is configured with the same limit and sends one case version per request.
   Reported: the achieved request rate as a fraction of the receiver's limit, and how many requests it refused.
   The bridge's limit is set a little under the receiver's (``--headroom``), as one configures it in production:
   at exactly the limit, network jitter lets a few requests land inside one second and each 429 costs the
   Retry-After second.
2. Backlog. ``--backlog`` case versions (default 100k) queue while the receiver is down. The bridge tries, its
   circuit opens after a few calls; the receiver comes back and ``drain`` runs until every version is sent and
   then acknowledged. The HTTP intake takes batches (``--batch`` versions per request) under the same request
   limit; the exchange table takes rows under its own limit. Reported: seconds to send and to acknowledgement.

    .venv/bin/python benchmarks/delivery.py                       # limit 50/s, 100k backlog
    .venv/bin/python benchmarks/delivery.py --limit 20 --backlog 20000
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.municipal import MunicipalTarget  # noqa: E402
from connectors.province import ProvinceTableTarget  # noqa: E402
from connectors.targets import DeliveryTarget  # noqa: E402
from core.warehouse import Warehouse, insert_frame  # noqa: E402
from delivery.outbox import drain  # noqa: E402
from delivery.reconcile import receiver_counts  # noqa: E402
from sandbox.runtime import CREDENTIALS  # noqa: E402
from schemas.identifiers import make_uscc  # noqa: E402
from schemas.warehouse import metadata, outbox  # noqa: E402


def queue(warehouse: Warehouse, target: str, count: int, offset: int = 0) -> None:
    """``count`` golden-case versions in the outbox, as case_resolution writes them."""
    n = pd.RangeIndex(offset, offset + count)
    ids = [make_uscc("91320412", f"{i + 10_000_000:08d}") for i in n]
    first = dt.date(2026, 11, 16)  # 9,999 serials a day: the next day after that
    numbers = [f"11320412MB0143028G4000102001000{first + dt.timedelta(i // 9999):%Y%m%d}{i % 9999 + 1:04d}" for i in n]
    payloads = [
        json.dumps(
            {
                "case_no": number,
                "project_no": number,  # the 办件编号 (the market regulator's 实施编码, the day, a serial)
                "applicant_id_kind": "uscc",
                "handling_dept": "market_regulation",
                "accepted_at": "2026-11-16T10:00:00",
                "item_code": "000102001000",
                "item_name": "企业设立登记",
                "applicant_type": "legal_person",
                "applicant_name": f"常州基准{number[-6:]}号有限公司",
                "applicant_id": ident,
                "contact_phone": "13812345678",
                "status": "受理",
                "submitted_at": "2026-11-16T09:00:00",
            },
            ensure_ascii=False,
            sort_keys=True,
        )
        for number, ident in zip(numbers, ids, strict=True)
    ]
    golden = "GC" + pd.Series(n).astype(str).str.zfill(10)
    frame = pd.DataFrame(
        {
            "target": target,
            "idempotency_key": target + ":" + golden + ":v1",
            "golden_case_id": golden,
            "version": 1,
            "partition_date": dt.date(2026, 11, 16),
            "payload": payloads,
            "payload_hash": [hashlib.sha256(p.encode()).hexdigest() for p in payloads],
            "status": "queued",
            "attempts": 0,
            "created_at": dt.datetime(2026, 11, 16, 9),
        }
    )
    with warehouse.begin() as conn:
        insert_frame(conn, outbox, frame)


def count(warehouse: Warehouse, target: str, status: str) -> int:
    return int(warehouse.scalar(f"SELECT COUNT(*) FROM outbox WHERE target = '{target}' AND status = '{status}'"))


def faults(url: str, **settings) -> None:
    httpx.post(url + "/_sandbox/faults", json=settings, timeout=10).raise_for_status()


def served(url: str) -> dict:
    return httpx.get(url + "/_sandbox/served", timeout=10).json()


def throughput(url: str, warehouse: Warehouse, limit: float, headroom: float, versions: int) -> dict:
    faults(url, rate_limit_per_second=limit)
    key, secret = CREDENTIALS["municipal"]
    configured = limit * headroom
    target = MunicipalTarget(base_url=url, app_key=key, app_secret=secret, rate_limit_per_second=configured)
    queue(warehouse, "municipal", versions)
    before = served(url)
    started = time.perf_counter()
    while count(warehouse, "municipal", "queued"):
        drain(warehouse, "municipal", target)
    seconds = time.perf_counter() - started
    after = served(url)
    requests = after["requests"] - before["requests"]
    return {
        "receiver_limit": limit,
        "configured_limit": configured,
        "versions": versions,
        "requests": requests,
        "refused_over_limit": after["over_rate_limit"] - before["over_rate_limit"],
        "seconds": round(seconds, 1),
        "achieved_per_second": round(requests / seconds, 2),
        "fraction_of_limit": round(requests / seconds / limit, 3),
    }


def backlog(
    warehouse: Warehouse,
    name: str,
    target: DeliveryTarget,
    while_down: DeliveryTarget,
    outage,
    size: int,
    offset: int,
) -> dict:
    """Queue ``size`` versions while the receiver is down, try (the circuit opens), then drain once it is back."""
    queue(warehouse, name, size, offset)
    outage(True)
    started = time.perf_counter()
    drain(warehouse, name, while_down)
    tried_for = time.perf_counter() - started
    still_queued = count(warehouse, name, "queued")
    outage(False)
    started = time.perf_counter()
    sent_after = None
    while True:
        drain(warehouse, name, target)
        if sent_after is None and not count(warehouse, name, "queued"):
            sent_after = time.perf_counter() - started
        if not count(warehouse, name, "queued") and not count(warehouse, name, "sent"):
            break
        time.sleep(0.2)
    return {
        "target": name,
        "backlog": size,
        "seconds_trying_while_down": round(tried_for, 1),
        "queued_after_outage": still_queued,
        "seconds_to_send": round(sent_after, 1),
        "seconds_to_acknowledged": round(time.perf_counter() - started, 1),
        "versions_per_second": round(size / sent_after),
        "acknowledged": count(warehouse, name, "acknowledged") - offset,
        "receiver_holds": receiver_counts(warehouse, name, target)["received_cases"] - offset,  # by its own query
    }


SERVE = """
import datetime as dt, sys, time
from pathlib import Path
from sandbox.runtime import Sandbox, SandboxSettings
ports = {"market_regulation": 0, "approval_platform": 0, "municipal": 0, "supervision": 0}
settings = SandboxSettings(
    root=Path(sys.argv[1]), start=dt.date(2026, 11, 16), days=1, cases_per_day=5, ports=ports, fault_level="none"
)
with Sandbox(settings):
    while True:
        time.sleep(1)
"""


class Receivers:
    """The sandbox receivers in their own process, so their work does not share this process's interpreter."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.process = subprocess.Popen([sys.executable, "-c", SERVE, str(root)], cwd=ROOT)
        deadline = time.monotonic() + 60
        while not (root / "endpoints.json").exists():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("the sandbox did not start")
            time.sleep(0.2)
        endpoints = json.loads((root / "endpoints.json").read_text())
        self.municipal_url, self.exchange_url = endpoints["municipal"], endpoints["one_network_db"]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=float, default=50.0, help="the receiver's rate limit, requests per second")
    parser.add_argument(
        "--headroom", type=float, default=0.95, help="the bridge's configured limit as a fraction of the receiver's"
    )
    parser.add_argument("--versions", type=int, default=1500, help="versions for the throughput run")
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=100, help="versions per request while draining the backlog")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        receivers = Receivers(root / "sandbox")
        try:
            warehouse = Warehouse(url=f"sqlite:///{root / 'warehouse.sqlite'}")
            metadata.create_all(warehouse.engine)
            print("Throughput under the receiver's rate limit (one version per request)")
            figures = throughput(receivers.municipal_url, warehouse, args.limit, args.headroom, args.versions)
            print(pd.DataFrame([figures]).to_string(index=False))

            key, secret = CREDENTIALS["municipal"]
            municipal = MunicipalTarget(
                base_url=receivers.municipal_url,
                app_key=key,
                app_secret=secret,
                rate_limit_per_second=args.limit * args.headroom,
                batch_size=args.batch,
                circuit_breaker_failures=5,
                circuit_breaker_cooldown_seconds=2,
            )
            breaker = {"circuit_breaker_failures": 3, "circuit_breaker_cooldown_seconds": 2}
            # the national tables (the province's ids for their housekeeping columns; its audit answers within 2 s)
            breaker |= {"tenant_id": 1, "org_id": 2, "user_id": 3, "settle_seconds": 2}
            exchange = ProvinceTableTarget(url=receivers.exchange_url, rate_limit_per_second=50_000, **breaker)
            # The front-end database unreachable: a URL whose directory does not exist.
            exchange_down = ProvinceTableTarget(url=f"sqlite:///{root / 'gone' / 'front.sqlite'}", **breaker)

            def municipal_outage(down: bool) -> None:
                faults(receivers.municipal_url, down_for_seconds=3600 if down else 0.001)

            rows = [
                backlog(warehouse, "municipal", municipal, municipal, municipal_outage, args.backlog, args.versions),
                backlog(warehouse, "one_network", exchange, exchange_down, lambda down: None, args.backlog, 0),
            ]
            print(f"\nDraining a backlog of {args.backlog:,} versions after an outage")
            print(pd.DataFrame(rows).to_string(index=False))
            warehouse.dispose()
        finally:
            receivers.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"\npeak memory of the bridge's process {peak:.2f} GB")


if __name__ == "__main__":
    main()
