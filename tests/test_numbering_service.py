"""The province's numbering service connector over real HTTP on loopback, against the sandbox's stand-in
(``sandbox.numbering``, which imports nothing of the bridge): signed requests, numbers by request key, retries on
429 (honouring Retry-After) and 5xx, none on 400; and the case resolution's allocation through it.
"""

import datetime as dt
import threading
import time
from collections.abc import Iterator

import httpx
import pandas as pd
import pytest
import uvicorn

from connectors.numbering import CaseNumberService, NumberingRefused
from resolution.numbering import assign_case_numbers
from sandbox.numbering import numbering_app

pytestmark = pytest.mark.integration

KEY, SECRET = "wj-bridge-bjbh", "sandbox-secret-case_no_service"
TASK = "11320412MB0143028G4000102001000"  # the catalogue's 实施编码 of 企业设立登记 (market_regulation)
DAY = dt.date(2026, 11, 16)


@pytest.fixture
def service_url() -> Iterator[str]:
    """The stand-in under uvicorn on an ephemeral loopback port, in a thread."""
    config = uvicorn.Config(
        numbering_app(app_key=KEY, app_secret=SECRET), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the numbering stand-in did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


def client(url: str, **options) -> CaseNumberService:
    return CaseNumberService(base_url=url, app_key=KEY, app_secret=SECRET, max_wait_seconds=2.0, **options)


def script(url: str, *answers: dict) -> None:
    httpx.post(f"{url}/_sandbox/script", json=list(answers), timeout=5).raise_for_status()


def requests_seen(url: str) -> int:
    return httpx.get(f"{url}/_sandbox/requests", timeout=5).json()["requests"]


def wanted(*request_ids: str, task_code: str = TASK) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "request_id": list(request_ids),
            "task_code": task_code,
            "number_date": DAY,
            "org_code": "11320412MB0143028G",
            "item_code": "000102001000",
        }
    )


def test_numbers_come_by_request_and_a_request_asked_again_gets_the_same(service_url):
    first = client(service_url).issue(wanted("r1", "r2", "r3"))
    assert first["project_no"].tolist() == [f"{TASK}20261116{n:04d}" for n in (1, 2, 3)]
    again = client(service_url, batch_size=2).issue(wanted("r3", "r1", "r4"))  # two requests of at most two
    assert again.set_index("request_id")["project_no"].to_dict() == {
        "r3": f"{TASK}202611160003",
        "r1": f"{TASK}202611160001",
        "r4": f"{TASK}202611160004",
    }
    refused = client(service_url).issue(wanted("r5", task_code="SHORT"))
    assert refused["project_no"].isna().all() and refused["error"].iloc[0] == "实施编码应为31位字母或数字"


def test_a_429_is_retried_after_what_retry_after_asks(service_url):
    script(service_url, {"status": 429, "retry_after": "1"})
    before = requests_seen(service_url)
    started = time.monotonic()
    found = client(service_url).issue(wanted("r1"))
    assert time.monotonic() - started >= 1.0  # waited the second asked for, not the backoff's fraction of it
    assert found["project_no"].tolist() == [f"{TASK}202611160001"]
    assert requests_seen(service_url) - before == 2


def test_a_5xx_is_retried(service_url):
    script(service_url, {"status": 503}, {"status": 502})
    before = requests_seen(service_url)
    found = client(service_url).issue(wanted("r1"))
    assert found["project_no"].tolist() == [f"{TASK}202611160001"]
    assert requests_seen(service_url) - before == 3


def test_a_400_is_not_retried(service_url):
    script(service_url, {"status": 400})
    before = requests_seen(service_url)
    with pytest.raises(NumberingRefused, match="refused the request \\(400\\)"):
        client(service_url).issue(wanted("r1"))
    assert requests_seen(service_url) - before == 1


def test_a_wrong_secret_is_refused_not_retried(service_url):
    before = requests_seen(service_url)
    with pytest.raises(NumberingRefused, match="401"):
        CaseNumberService(base_url=service_url, app_key=KEY, app_secret="not-the-secret").issue(wanted("r1"))
    assert requests_seen(service_url) - before == 1


def test_the_resolution_allocates_through_the_service(service_url, warehouse):
    cases = pd.DataFrame(
        [
            {
                "golden_case_id": f"GC{i}",
                "source_system": "approval_platform",
                "source_record_id": f"P{i}",
                "item_code": "000102001000",
                "handling_dept": "market_regulation",
                "accepted_at": pd.Timestamp(DAY) + pd.Timedelta(hours=10 + i),
                "submitted_at": pd.Timestamp(DAY) + pd.Timedelta(hours=9),
            }
            for i in (1, 2)
        ]
    )
    members = cases[["golden_case_id", "source_system", "source_record_id"]].assign(case_no=None)
    now = dt.datetime(2026, 11, 17, 2)
    with warehouse.begin() as conn:
        numbers, figures = assign_case_numbers(conn, cases, members, DAY, now, client(service_url))
    assert numbers.tolist() == [f"{TASK}202611160001", f"{TASK}202611160002"]
    assert figures["allocated"] == 2 and figures["service_refused"] == 0
    with warehouse.begin() as conn:  # a rerun finds them stored and asks nothing
        before = requests_seen(service_url)
        again, figures = assign_case_numbers(conn, cases, members, DAY, now, client(service_url))
    assert again.tolist() == numbers.tolist() and figures["reused"] == 2 and requests_seen(service_url) == before
