"""Connectors against real loopback servers: the sandbox stand-ins, a scripted HTTP server, real databases."""

import datetime as dt
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from dagster import build_resources

from connectors.http import RequestRejected, call_with_retries, make_client
from connectors.sources import FileDropSource, RestSource, SqlSource
from pipelines.resources import build_resources as pipeline_resources
from sandbox.runtime import CREDENTIALS, HOUSING_TABLE
from tests.conftest import SANDBOX_START, start_sandbox

pytestmark = pytest.mark.integration

DAY = dt.datetime.combine(SANDBOX_START, dt.time())
SOURCE_KEYS = {"approval_platform", "housing", "health"}


class Scripted:
    """A loopback HTTP server answering with a fixed script of (status, headers, body)."""

    def __init__(self, script):
        self.script, self.hits, self.times = list(script), 0, []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                owner.hits += 1
                owner.times.append(time.monotonic())
                status, headers, body = owner.script[min(owner.hits - 1, len(owner.script) - 1)]
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(json.dumps(body).encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def _get(url):
    client = make_client(url, 5.0)
    return lambda: client.get("/x")


def test_retries_5xx_then_succeeds():
    server = Scripted([(503, {}, {}), (502, {}, {}), (200, {}, {"ok": True})])
    try:
        assert call_with_retries(_get(server.url), max_wait=0.2).json() == {"ok": True}
        assert server.hits == 3
    finally:
        server.close()


def test_honours_retry_after_on_429():
    server = Scripted([(429, {"Retry-After": "1"}, {}), (200, {}, {"ok": True})])
    try:
        call_with_retries(_get(server.url), max_wait=5)
        assert server.hits == 2
        assert server.times[1] - server.times[0] >= 0.95  # waited what the server asked, not the short backoff
    finally:
        server.close()


def test_never_retries_a_validation_error():
    server = Scripted([(400, {}, {"code": "E1001"}), (200, {}, {"ok": True})])
    try:
        with pytest.raises(RequestRejected):
            call_with_retries(_get(server.url))
        assert server.hits == 1
    finally:
        server.close()


def test_connection_errors_are_retried_until_given_up():
    attempts = []

    def send():
        attempts.append(1)
        return httpx.Client(timeout=0.5).get("http://127.0.0.1:9/")  # nothing listens on the discard port

    with pytest.raises(httpx.TransportError):
        call_with_retries(send, attempts=3, max_wait=0.05)
    assert len(attempts) == 3


def _market_regulation(sandbox, **overrides):
    key, secret = CREDENTIALS["market_regulation"]
    settings = dict(
        base_url=sandbox.url("market_regulation"),
        path="/api/v1/cases",
        app_key=key,
        app_secret=secret,
        id_field="SBLSH",
        changed_field="GXSJ",
        page_size=7,
    )
    return RestSource(**{**settings, **overrides})


def _expected(sandbox, source, field, start, end):
    def parse(value):
        return dt.datetime.fromisoformat(value.replace("+08:00", ""))

    return sorted(
        r[field]
        for r in sandbox.data.records(source)
        if start <= (parse(r["GXSJ"]) if source == "market_regulation" else parse(r["updateTime"])) < end
    )


def test_rest_source_pages_through_a_signed_api(quiet_sandbox):
    end = DAY + dt.timedelta(days=1)
    batch = _market_regulation(quiet_sandbox).fetch_changes(DAY, end)
    assert sorted(r.record_key for r in batch.records) == _expected(
        quiet_sandbox, "market_regulation", "SBLSH", DAY, end
    )
    assert len(batch.records) > 7  # more than one page
    assert batch.cursor.startswith(str(SANDBOX_START))


def test_configured_sources_pull_through_the_real_wiring(quiet_sandbox, monkeypatch):
    """The department wiring of the code location (cursor paging on the platform, SQL, files) against the sandbox."""
    for name, value in quiet_sandbox.environment().items():
        monkeypatch.setenv(name, value)
    start, end = DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)
    with build_resources({k: v for k, v in pipeline_resources().items() if k in SOURCE_KEYS}) as sources:
        paged = sources.approval_platform.model_copy(update={"page_size": 5})  # several cursor pages
        platform = paged.fetch_changes(start, end)
        housing = sources.housing.fetch_changes(start, end)
        health = sources.health.fetch_changes(start, end)
    expected = _expected(quiet_sandbox, "approval_platform", "caseNo", start, end)
    assert sorted(r.record_key for r in platform.records) == expected
    assert len(expected) > 5
    assert sorted(r.record_key for r in housing.records) == _housing_keys(quiet_sandbox, start, end)
    assert {r.payload["_file"] for r in health.records} == {
        f"health_cases_{start:%Y%m%d}.{ext}" for ext in ("csv", "xlsx")
    } & {p.name for p in quiet_sandbox.health_dir.iterdir()}


def test_wrong_secret_is_refused_without_retry(quiet_sandbox):
    with pytest.raises(RequestRejected) as refused:
        _market_regulation(quiet_sandbox, app_secret="not-the-secret").fetch_changes(DAY, DAY + dt.timedelta(days=1))
    assert refused.value.response.status_code == 401


def test_rest_source_rides_out_a_short_outage(tmp_path):
    sandbox = start_sandbox(tmp_path, days=1, cases_per_day=20, fault_level="none")
    try:
        httpx.post(sandbox.url("market_regulation") + "/_sandbox/faults", json={"down_for_seconds": 1.0})
        started = time.monotonic()
        batch = _market_regulation(sandbox).fetch_changes(DAY, DAY + dt.timedelta(days=1))
        assert time.monotonic() - started >= 0.9
        assert len(batch.records) == len(
            _expected(sandbox, "market_regulation", "SBLSH", DAY, DAY + dt.timedelta(days=1))
        )
    finally:
        sandbox.stop()


def _housing_keys(sandbox, start, end):
    return sorted(r["ywh"] for r in sandbox.data.housing if start <= r["gxsj"] < end)


def test_sql_source_on_sqlite(quiet_sandbox):
    source = SqlSource(url=quiet_sandbox.housing_url, table=HOUSING_TABLE, id_column="ywh", changed_column="gxsj")
    end = DAY + dt.timedelta(days=2)
    batch = source.fetch_changes(DAY, end)
    assert sorted(r.record_key for r in batch.records) == _housing_keys(quiet_sandbox, DAY, end)
    assert isinstance(batch.records[0].payload["sqrq"], str)  # datetimes land as ISO text in the JSON payload


def test_sql_source_on_mariadb(tmp_path, mariadb_url):
    sandbox = start_sandbox(tmp_path, days=2, cases_per_day=40, fault_level="none", housing_url=mariadb_url)
    try:
        source = SqlSource(url=mariadb_url, table=HOUSING_TABLE, id_column="ywh", changed_column="gxsj")
        end = DAY + dt.timedelta(days=2)
        batch = source.fetch_changes(DAY, end)
        assert sorted(r.record_key for r in batch.records) == _housing_keys(sandbox, DAY, end)
        names = {r.payload["jsdw"] for r in batch.records}
        assert any("公司" in n for n in names)  # Chinese text survives the round trip (utf8mb4)
    finally:
        sandbox.stop()


def test_file_drop_reads_gbk_csv_and_excel(quiet_sandbox):
    source = FileDropSource(
        directory=str(quiet_sandbox.health_dir), pattern="health_cases_*", id_field="办件编号", changed_field="更新时间"
    )
    files = sorted(p.name for p in quiet_sandbox.health_dir.iterdir())
    gbk = next(quiet_sandbox.health_dir / f for f in files if f.endswith(".csv") and "补报" not in f)
    with pytest.raises(UnicodeDecodeError):
        gbk.read_bytes().decode("utf-8")  # the export really is GBK, not UTF-8
    batch = source.fetch_changes(DAY, DAY + dt.timedelta(days=3))
    expected = sorted(r["办件编号"] for r in quiet_sandbox.data.health)
    readable = sorted(r.record_key for r in batch.records if "_error" not in r.payload)
    assert readable == expected
    assert any(f.endswith(".xlsx") for f in files)
    assert any("decoded as gb18030" in note for note in batch.notes)


def test_file_in_unexpected_encoding_becomes_one_unreadable_record(quiet_sandbox):
    source = FileDropSource(
        directory=str(quiet_sandbox.health_dir), pattern="health_cases_*", id_field="办件编号", changed_field="更新时间"
    )
    batch = source.fetch_changes(DAY, DAY + dt.timedelta(days=1))
    broken = [r for r in batch.records if "_error" in r.payload]
    assert len(broken) == 1 and broken[0].record_key.endswith("_补报.csv")
    assert "NUL bytes" in broken[0].payload["_error"]
