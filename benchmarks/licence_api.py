"""Licence sharing API benchmark: holder lookups against a SQLite warehouse of 10,000 holders.

The warehouse gets ``--holders`` holders (seven in ten companies with a USCC, the rest natural persons with a
身份证号), about two licences each of assorted types and statuses, and a mistyped code for one holder in ten. The
API runs in its own process (``python -m sharing.server``, uvicorn), so the client's timing does not share an
interpreter with the server. After a warm-up, ``--requests`` lookups of random holders (a tenth by a mistyped
code, callers of every purpose) are timed one after another over one keep-alive connection; reported: p50, p95,
p99 and max latency in ms, requests per second, and the access-log row count (every read audited). Each holder
applied in a case of its own (``case_parties``): a read cites its holder's case, so it is bound (through
``holder_codes`` when by a mistyped code), and one in twenty cites another holder's case and is refused (403).
``--unbound`` leaves ``case_parties`` empty (every case unknown): the same requests without the binding.

    .venv/bin/python benchmarks/licence_api.py                       # 10k holders, 2,000 lookups
    .venv/bin/python benchmarks/licence_api.py --holders 100000 --requests 5000
"""

import argparse
import datetime as dt
import os
import socket
import subprocess
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

from core.warehouse import Warehouse, insert_frame  # noqa: E402
from schemas.identifiers import (  # noqa: E402
    ORG_CODE_WEIGHTS,
    RIC_CHECK,
    RIC_WEIGHTS,
    USCC_ALPHABET,
    USCC_WEIGHTS,
    classify_identifiers,
    make_licence_identifier,
)
from schemas.warehouse import case_parties, holder_codes, holders, licence_access_log, licences  # noqa: E402
from sharing.api import SANDBOX_KEY, sharing_clients  # noqa: E402
from sharing.guard import LIMIT_VARIABLES  # noqa: E402

CASE_BODY = "12441500196720244T3442199806003"  # a published 实施编码: each read names a national 办件编号

ISSUER = "11320412MB0395161Y"  # approval_bureau in departments.csv
UPDATED = dt.datetime(2026, 1, 5, 9, 30)
# (type code, name, validity in years or None for 长期有效, supervising department)
COMPANY_TYPES = [
    ("11100000MB0143028R003", "食品经营许可证", 5, "market_regulation"),
    ("11100000MB01873110001", "建筑工程施工许可证", None, "housing"),
    ("11100000MB01873110002", "商品房预售许可证", 2, "housing"),
    ("11100000MB0288542B001", "公共场所卫生许可证", 4, "health"),
]
PERSON_TYPES = [
    ("32000000MB1P0A5200001", "小型餐饮服务提供者备案公示卡", None, "market_regulation"),
    ("11100000MB0143028R003", "食品经营许可证", 5, "market_regulation"),
    ("11100000MB0288542B002", "诊所备案凭证", None, "health"),
]
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林")
GIVEN = ["伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超", "秀英", "建华"]


# ---------------------------------------------------------------- data
def usccs(bodies: np.ndarray) -> pd.Series:
    """Valid 统一社会信用代码 ``91320412`` + an 8-digit organisation body, check characters computed column-wise."""
    digits = (bodies[:, None] // 10 ** np.arange(7, -1, -1)) % 10
    org_check = 11 - (digits @ np.array(ORG_CODE_WEIGHTS)) % 11  # 10 → X, 11 → 0
    org_value = np.where(org_check == 10, USCC_ALPHABET.index("X"), org_check % 11)
    prefix = np.tile([9, 1, 3, 2, 0, 4, 1, 2], (len(bodies), 1))
    check = (31 - (np.column_stack([prefix, digits, org_value]) @ USCC_WEIGHTS) % 31) % 31
    alphabet = np.array(list(USCC_ALPHABET))
    return (
        "91320412"
        + pd.Series(bodies).astype(str).str.zfill(8)
        + pd.Series(alphabet[org_value])
        + pd.Series(alphabet[check])
    )


def rics(rng: np.random.Generator, count: int) -> pd.Series:
    """Valid 身份证号 of Wujin (320412), born 1950–1999, distinct."""
    draws = rng.choice(50 * 365 * 1000, size=count, replace=False)
    births = (pd.Timestamp("1950-01-01") + pd.to_timedelta(draws // 1000, unit="D")).strftime("%Y%m%d")
    first17 = "320412" + pd.Series(births) + pd.Series(draws % 1000).astype(str).str.zfill(3)
    digits = np.frombuffer("".join(first17).encode("ascii"), dtype=np.uint8).reshape(count, 17).astype(np.int64) - 48
    return first17 + pd.Series(np.array(list(RIC_CHECK))[(digits @ RIC_WEIGHTS) % 11])


def transposed(codes: pd.Series, at: int = 12) -> pd.Series:
    """The clerk's typo: two neighbouring characters swapped."""
    return (
        codes.str.slice(0, at) + codes.str.slice(at + 1, at + 2) + codes.str.slice(at, at + 1) + codes.str.slice(at + 2)
    )


def build_holders(rng: np.random.Generator, count: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    companies = int(count * 0.7)
    persons = count - companies
    codes = pd.concat([usccs(rng.choice(10**8, size=companies, replace=False)), rics(rng, persons)], ignore_index=True)
    classified = classify_identifiers(codes.astype("string"))
    assert classified["checksum_ok"].all(), "generated identifiers must be valid"
    names = pd.concat(
        [
            "常州武进基准" + pd.Series(range(companies)).astype(str) + "号有限公司",
            pd.Series(rng.choice(SURNAMES, persons)) + pd.Series(rng.choice(GIVEN, persons)),
        ],
        ignore_index=True,
    )
    frame = pd.DataFrame(
        {
            "holder_id": "HD" + pd.Series(range(count)).astype(str).str.zfill(12),
            "holder_code": codes,
            "holder_code_type": np.where(np.arange(count) < companies, "001", "111"),
            "holder_name": names,
            "updated_at": UPDATED,
        }
    )
    own = frame[["holder_code", "holder_id"]].rename(columns={"holder_code": "code"}).assign(how="identifier")
    sample = frame.sample(frac=0.1, random_state=int(rng.integers(1 << 31)))
    typo = pd.DataFrame(
        {"code": transposed(sample["holder_code"]), "holder_id": sample["holder_id"], "how": "resolved"}
    )
    typo = typo[(typo["code"] != sample["holder_code"]) & ~typo["code"].isin(own["code"])].drop_duplicates("code")
    return frame, pd.concat([own, typo], ignore_index=True)


def build_licences(rng: np.random.Generator, holder_frame: pd.DataFrame, today: dt.date) -> pd.DataFrame:
    """Per holder its 营业执照 and one more licence; one in twenty also holds an older, revoked one."""
    company = holder_frame["holder_code_type"] == "001"
    business = holder_frame.assign(
        licence_type_code=np.where(company, "11100000MB0143028R001", "11100000MB0143028R002"),
        licence_name="营业执照",
        licence_no=holder_frame["holder_code"].where(company, "WJ002002" + holder_frame["holder_id"].str.slice(-8)),
        years=np.nan,
        supervising_dept="market_regulation",
        status="有效",
        issued_days_ago=rng.integers(30, 3000, len(holder_frame)),
    )
    pick_company = rng.integers(0, len(COMPANY_TYPES), len(holder_frame))
    pick_person = rng.integers(0, len(PERSON_TYPES), len(holder_frame))
    chosen = [
        COMPANY_TYPES[c] if is_company else PERSON_TYPES[p]
        for c, p, is_company in zip(pick_company, pick_person, company, strict=True)
    ]
    second = holder_frame.assign(
        licence_type_code=[t[0] for t in chosen],
        licence_name=[t[1] for t in chosen],
        licence_no="WJ" + holder_frame["holder_id"].str.slice(-8) + "02",
        years=[np.nan if t[2] is None else t[2] for t in chosen],
        supervising_dept=[t[3] for t in chosen],
        status=rng.choice(["有效", "暂扣", "撤销", "注销"], len(holder_frame), p=[0.85, 0.03, 0.07, 0.05]),
        issued_days_ago=rng.integers(30, 2500, len(holder_frame)),
    )
    old = second.sample(frac=0.05, random_state=int(rng.integers(1 << 31))).assign(
        licence_no=lambda df: "WJ" + df["holder_id"].str.slice(-8) + "01", status="撤销", issued_days_ago=3500
    )
    frame = pd.concat([business, second, old], ignore_index=True)
    issue = pd.Timestamp(today) - pd.to_timedelta(frame["issued_days_ago"], unit="D")
    years = frame["years"].fillna(0).astype(int)
    valid_to = pd.Series(
        [
            d + pd.DateOffset(years=int(y)) - pd.Timedelta(days=1) if y else pd.NaT
            for d, y in zip(issue, years, strict=True)
        ]
    )
    expired = valid_to.notna() & (valid_to < pd.Timestamp(today)) & (frame["status"] == "有效")
    keys = "LC" + pd.Series(range(len(frame))).astype(str).str.zfill(12)
    return frame.assign(
        licence_key=keys,
        licence_id=[
            make_licence_identifier(t, ISSUER, k) for t, k in zip(frame["licence_type_code"], keys, strict=True)
        ],
        issuer_name="武进区行政审批局",
        issuer_code=ISSUER,
        issue_date=issue.dt.date,
        valid_from=issue.dt.date,
        valid_to=valid_to.dt.date,
        status=frame["status"].where(~expired, "过期失效"),
        area_code="320412",
        sources="case",
        version=1,
        content_hash=keys.str.pad(64, fillchar="0"),
        updated_at=UPDATED,
    )


def case_numbers(count: int) -> np.ndarray:
    """A national 办件编号 for each holder's own case (its position in the holder frame)."""
    serial = np.arange(count)
    days = pd.Series(20260101 + serial % 28).astype(str)
    return (CASE_BODY + days + pd.Series(serial // 28 + 1).astype(str).str.zfill(4)).to_numpy()


def build_warehouse(
    url: str, holder_count: int, seed: int, bound: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    rng = np.random.default_rng(seed)
    holder_frame, code_frame = build_holders(rng, holder_count)
    licence_frame = build_licences(rng, holder_frame, dt.date.today())
    parties = pd.DataFrame(
        {
            "case_no": case_numbers(len(holder_frame)),
            "party_code": holder_frame["holder_code"].to_numpy(),
            "golden_case_id": holder_frame["holder_id"].to_numpy(),
            "role": "applicant",
        }
    )
    warehouse = Warehouse(url=url)
    with warehouse.begin() as conn:
        insert_frame(conn, holders, holder_frame)
        insert_frame(conn, holder_codes, code_frame)
        insert_frame(conn, licences, licence_frame)
        if bound:
            insert_frame(conn, case_parties, parties)
    warehouse.dispose()
    return holder_frame, code_frame, len(licence_frame)


# ---------------------------------------------------------------- the server and the client
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(url: str, port: int, log_path: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "sharing.server", "--port", str(port), "--warehouse-url", url]
    # One client from one address at full speed: the production limits would measure the limiter, not the reads.
    unlimited = {variable: "1000000/minute" for variable in LIMIT_VARIABLES.values()}
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=log_path.open("w"), stderr=subprocess.STDOUT, env={**os.environ, **unlimited}
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the API exited: {log_path.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1.0).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError("the API did not start within 60 s")


def lookups(rng: np.random.Generator, holder_frame: pd.DataFrame, code_frame: pd.DataFrame, count: int) -> list:
    """(path, caller, caseNo): random holders, a tenth of them by a mistyped code, each citing its holder's case,
    but one in twenty another holder's case."""
    numbers = pd.Series(case_numbers(len(holder_frame)), index=holder_frame["holder_id"].to_numpy())
    typos = code_frame[code_frame["how"] == "resolved"]
    picked = holder_frame.sample(count, replace=True, random_state=rng)
    by_typo = rng.random(count) < 0.1
    typo = typos.sample(count, replace=True, random_state=rng)
    codes = np.where(by_typo, typo["code"].to_numpy(), picked["holder_code"].to_numpy())
    owners = np.where(by_typo, typo["holder_id"].to_numpy(), picked["holder_id"].to_numpy())
    cited = numbers.reindex(owners).to_numpy()
    stranger = rng.random(count) < 0.05
    cited[stranger] = rng.choice(numbers.to_numpy(), int(stranger.sum()))
    callers = rng.choice(list(sharing_clients()), count)
    return [
        (f"/v1/holders/{code}/licences", caller, case_no)
        for code, caller, case_no in zip(codes, callers, cited, strict=True)
    ]


def timed(client: httpx.Client, requests: list, label: str) -> tuple[np.ndarray, dict[int, int]]:
    latencies, statuses = np.empty(len(requests)), {}
    for i, (path, caller, case_no) in enumerate(requests):
        started = time.perf_counter()
        response = client.get(
            path,
            params={"caseNo": case_no},
            headers={"X-Api-Key": SANDBOX_KEY.format(caller=caller)},
        )
        latencies[i] = time.perf_counter() - started
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    return latencies * 1000, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--holders", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--unbound", action="store_true", help="leave case_parties empty: no read is bound")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="licence-api-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'warehouse.sqlite'}"
        started = time.perf_counter()
        holder_frame, code_frame, licence_count = build_warehouse(url, args.holders, args.seed, not args.unbound)
        resolved = int((code_frame["how"] == "resolved").sum())
        print(
            f"warehouse: {len(holder_frame):,} holders ({resolved:,} mistyped codes), {licence_count:,} licences "
            f"in {time.perf_counter() - started:.1f} s"
        )
        port = free_port()
        server = start_server(url, port, Path(tmp) / "server.log")
        try:
            rng = np.random.default_rng(args.seed + 1)
            timeout = httpx.Timeout(10.0, connect=5.0)
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=timeout) as client:
                timed(client, lookups(rng, holder_frame, code_frame, args.warmup), "warmup")
                requests = lookups(rng, holder_frame, code_frame, args.requests)
                started = time.perf_counter()
                latencies, statuses = timed(client, requests, "run")
                elapsed = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=10)
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            audited = conn.execute(sa.select(sa.func.count()).select_from(licence_access_log)).scalar_one()
        engine.dispose()

    p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
    binding = "every case unknown (--unbound)" if args.unbound else "each citing a case, 1 in 20 a stranger's"
    print(f"holder lookups: {args.requests:,} after {args.warmup:,} warm-up, one client, keep-alive, {binding}")
    print(f"  statuses      {dict(sorted(statuses.items()))}")
    print(f"  latency (ms)  p50 {p50:.2f}  p95 {p95:.2f}  p99 {p99:.2f}  max {latencies.max():.2f}")
    print(f"  throughput    {args.requests / elapsed:,.0f} requests/s")
    expected = args.warmup + args.requests
    verdict = "every read audited" if audited == expected else "ROWS MISSING"
    print(f"  access log    {audited:,} rows for {expected:,} requests ({verdict})")


if __name__ == "__main__":
    main()
