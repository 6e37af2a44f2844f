"""Does the sharing API's timing tell a caller what its answers do not? Pairs that must look alike, timed.

To ``housing`` (whose purpose covers companies' 营业执照 and construction and pre-sale permits), a natural person of
the benchmark warehouse is known only through licences outside the purpose. Each pair below must answer
identically (docs/security.md, "No oracles"); this measures whether it also answers in the same time:

* lookup of such a person          vs  lookup of a code nobody holds           (both 404 no such holder)
* verify of the person's own number vs verify of a number that is nobody's    (both 200 matches false)
* fetch of the person's licence     vs  fetch of an id that does not exist     (both 404 no such licence)

and, as the yardstick for noise, two halves of the same kind of request (unknown codes vs unknown codes).
Requests of all kinds are shuffled together over one keep-alive connection to a server in its own process
(as in ``licence_api.py``). Reported per kind: median and p90 in ms, and each pair's difference of medians.

    .venv/bin/python benchmarks/oracle_timing.py                 # 10k holders, 600 requests per kind
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from licence_api import CASE_BODY, ISSUER, build_warehouse, free_port, rics, start_server  # noqa: E402

from schemas.identifiers import make_licence_identifier  # noqa: E402
from schemas.warehouse import licences  # noqa: E402
from sharing.api import SANDBOX_KEY  # noqa: E402

CALLER = "housing"
CASE_NO = CASE_BODY + "202611300001"


def plan(url: str, holder_frame: pd.DataFrame, per_kind: int, rng: np.random.Generator) -> list[tuple[str, str, dict]]:
    persons = holder_frame[holder_frame["holder_code_type"] == "111"].sample(per_kind, replace=True, random_state=1)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        own = pd.DataFrame(
            conn.execute(
                sa.select(licences.c.licence_id, licences.c.licence_no, licences.c.holder_code).where(
                    licences.c.holder_code_type == "111"
                )
            ).all()
        ).sample(per_kind, replace=True, random_state=2)
    engine.dispose()
    strangers = rics(np.random.default_rng(99), per_kind * 2)
    strangers = strangers[~strangers.isin(holder_frame["holder_code"])].reset_index(drop=True)
    nobody = [make_licence_identifier("11100000MB0143028R002", ISSUER, f"NOBODY{i:06d}") for i in range(per_kind)]
    requests = []
    for code in persons["holder_code"]:
        requests.append(("lookup: known only outside the purpose", f"/v1/holders/{code}/licences", {}))
    for i, code in enumerate(strangers[:per_kind]):
        half = "a" if i % 2 else "b"
        requests.append(("lookup: unknown code", f"/v1/holders/{code}/licences", {}))
        requests.append((f"noise: unknown code, half {half}", f"/v1/holders/{code}/licences", {}))
    for row in own.itertuples():
        requests.append(
            (
                "verify: own number outside the purpose",
                "/v1/verify",
                {"licenceNo": row.licence_no, "holderCode": row.holder_code},
            )
        )
        requests.append(
            (
                "verify: nobody's number",
                "/v1/verify",
                {"licenceNo": "WJ99999999" + row.licence_no[-4:], "holderCode": row.holder_code},
            )
        )
        requests.append(("fetch: licence outside the purpose", f"/v1/licences/{row.licence_id}", {}))
    for licence_id in nobody:
        requests.append(("fetch: no such licence", f"/v1/licences/{licence_id}", {}))
    order = rng.permutation(len(requests))
    return [requests[i] for i in order]


PAIRS = [
    ("lookup: known only outside the purpose", "lookup: unknown code"),
    ("verify: own number outside the purpose", "verify: nobody's number"),
    ("fetch: licence outside the purpose", "fetch: no such licence"),
    ("noise: unknown code, half a", "noise: unknown code, half b"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--holders", type=int, default=10_000)
    parser.add_argument("--per-kind", type=int, default=600)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory(prefix="oracle-timing-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'warehouse.sqlite'}"
        holder_frame, _, _ = build_warehouse(url, args.holders, args.seed)
        requests = plan(url, holder_frame, args.per_kind, rng)
        port = free_port()
        server = start_server(url, port, Path(tmp) / "server.log")
        times: dict[str, list[float]] = {}
        answers: dict[str, set[tuple[int, bytes]]] = {}
        try:
            headers = {"X-Api-Key": SANDBOX_KEY.format(caller=CALLER)}
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as client:
                for _, path, params in requests[:100]:  # warm-up
                    client.get(path, params={"caseNo": CASE_NO, **params})
                for kind, path, params in requests:
                    started = time.perf_counter()
                    response = client.get(path, params={"caseNo": CASE_NO, **params})
                    times.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
                    answers.setdefault(kind, set()).add((response.status_code, response.content))
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"{args.holders:,} holders; caller {CALLER}; requests of every kind shuffled together\n")
    print(f"{'kind':<42} {'n':>5} {'median ms':>10} {'p90 ms':>8}  answers")
    for kind in sorted(times):
        values = np.array(times[kind])
        shown = "; ".join(sorted(f"{status} {body[:40].decode()}" for status, body in answers[kind]))[:60]
        print(f"{kind:<42} {len(values):>5} {np.median(values):>10.2f} {np.percentile(values, 90):>8.2f}  {shown}")
    print()
    for left, right in PAIRS:
        gap = np.median(times[left]) - np.median(times[right])
        same = "identical" if answers[left] == answers[right] or left.startswith("noise") else "DIFFERENT"
        print(f"{left[: left.index(':')]:<7} difference of medians {gap:+.2f} ms; answers {same}")


if __name__ == "__main__":
    main()
