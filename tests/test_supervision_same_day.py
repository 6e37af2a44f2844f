"""The issue's done-when for 审管互动: a revocation a supervisor feeds back on day D changes the licence's status in
the repository and in the sharing API (over HTTP) once day D's run is done; a suspension fed the same way ends the
day after its end date when the daily expiry run refolds it. The real assets (`staged_findings`,
`licence_repository`, `licence_expiry`) run in Dagster against a SQLite warehouse holding a registry licence and
the raw records the feed landed on day D."""

import datetime as dt
import json

import pytest
from dagster import materialize

from core import clock
from core.warehouse import Warehouse
from pipelines.feeds.assets import staged_findings_asset
from pipelines.licences.assets import licence_expiry, licence_repository
from schemas.warehouse import metadata, raw_feed_records
from sharing.api import key_variable, sharing_clients
from tests.test_findings import COMPANY, PERSON, SHOP, _licences
from tests.test_sharing_api import WINDOW_CASE, Api, _start

pytestmark = pytest.mark.integration

DAY = dt.date(2026, 11, 16)


def _fed(warehouse: Warehouse, *rows: dict) -> None:
    base = {"JCJG": "", "XDRMC": "", "ZZBH": "", "ZZLXDM": "", "JGBM": "武进区市场监督管理局", "JDRQ": "2026-11-16",
            "SXRQ": "", "JZRQ": "", "ZT": "0", "JARQ": "", "SY": "", "GXSJ": "2026-11-16 18:00:00"}  # fmt: skip
    with warehouse.begin() as conn:
        conn.execute(
            raw_feed_records.insert(),
            [
                {
                    "source_system": "supervision_findings",
                    "partition_date": DAY,
                    "record_key": r["JGJGBH"],
                    "payload": json.dumps({**base, **r}, ensure_ascii=False),
                    "fetched_at": dt.datetime(2026, 11, 17, 1, 30),
                    "batch_id": "test-batch",
                    "changed_at": "2026-11-16 18:00:00",
                }
                for r in rows
            ],
        )


def test_a_revocation_fed_on_day_d_shows_in_the_repository_and_the_api_after_day_ds_run(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    warehouse = Warehouse(url=url)
    metadata.create_all(warehouse.engine)
    with clock.frozen(DAY):
        _licences(warehouse, DAY)
    licence_id = warehouse.scalar(f"SELECT licence_id FROM licences WHERE licence_no = '{COMPANY}'")
    _fed(
        warehouse,
        {"JGJGBH": "SGHD1", "JGLX": "04", "XDRDM": COMPANY, "ZZBH": COMPANY, "SY": "吊销营业执照"},
        {"JGJGBH": "SGHD2", "JGLX": "03", "XDRDM": PERSON, "ZZLXDM": SHOP, "JZRQ": "2026-11-20"},
    )
    for caller in sharing_clients():
        monkeypatch.delenv(key_variable(caller), raising=False)
    server = _start(url)
    api = Api(f"http://127.0.0.1:{server.port}", url)
    try:
        with clock.frozen(DAY):
            before = api.get(f"/v1/licences/{licence_id}", "approval_bureau", caseNo=WINDOW_CASE)[0].json()
            assert before["status"] == "有效"
            result = materialize(
                [staged_findings_asset, licence_repository],
                partition_key=DAY.isoformat(),
                resources={"warehouse": warehouse},
                selection=["staged_findings", "licence_repository"],
            )
            assert result.success
            statuses = dict(warehouse.read("SELECT licence_no, status FROM licences").values.tolist())
            assert statuses[COMPANY] == "吊销" and "暂扣" in statuses.values()
            after = api.get(f"/v1/licences/{licence_id}", "approval_bureau", caseNo=WINDOW_CASE)[0].json()
            assert after["status"] == "吊销" and after["version"] == before["version"] + 1
            history = warehouse.read(
                "SELECT event, source, partition_date FROM licence_events WHERE source = 'supervision'"
            )
            assert sorted(history["event"]) == ["reinstated", "revoked", "suspended"]
            queued = warehouse.scalar("SELECT COUNT(*) FROM outbox WHERE target = 'supervision'")
            assert queued >= 2  # the changed licences go to their supervising departments as new versions
        with clock.frozen(dt.date(2026, 11, 21)):  # the day after the suspension's end: the daily run refolds it
            assert materialize([licence_expiry], resources={"warehouse": warehouse}).success
            statuses = dict(warehouse.read("SELECT licence_no, status FROM licences").values.tolist())
            assert statuses[COMPANY] == "吊销" and "暂扣" not in statuses.values()
    finally:
        api.close()
        server.stop()
        server.server.config.app.state.sharing.warehouse.dispose()
        warehouse.dispose()
