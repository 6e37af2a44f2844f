"""The sharing API's findings endpoint (审管互动 back to approval) over real HTTP on loopback: the approval bureau
sees a holder's open findings and credit flag for the case it is deciding; every other caller is refused, a read
without its case or with a case of another shape is refused, each request is audited, and 身份证号 stay masked in
the log. The warehouse is test_sharing_api's hand-made one plus hand-made findings."""

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from schemas.warehouse import findings
from sharing.api import key_variable, sharing_clients
from tests.conftest import TODAY
from tests.test_sharing_api import (
    COMPANY,
    HOUSING_CASE,
    LICENCES,
    MARKET_CASE,
    OTHER_COMPANY,
    PERSON,
    WINDOW_CASE,
    Api,
    _holder_id,
    _start,
    build_warehouse,
)

pytestmark = pytest.mark.integration

STRANGER = "91320412MA1X0P0Y9" + "0"  # a code no holder has (its check need not hold: it is only looked up)


def _finding(finding_id: str, holder: str | None, kind: str, **fields) -> dict:
    row = {
        "source_system": "supervision_findings",
        "finding_id": finding_id,
        "status": "linked" if holder else "unknown_holder",
        "kind": kind,
        "result": None,
        "holder_id": _holder_id(holder) if holder else None,
        "holder_code": holder,
        "licence_key": None,
        "licences": 0,
        "licence_type_code": None,
        "department": "武进区市场监督管理局",
        "decided_date": TODAY - dt.timedelta(days=10),
        "effective_date": TODAY - dt.timedelta(days=10),
        "end_date": None,
        "in_force": True,
        "first_partition": TODAY - dt.timedelta(days=9),
        "partition_date": TODAY - dt.timedelta(days=9),
        "records": 1,
        "note": None,
    }
    return {**row, **fields}


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Iterator[Api]:
    url = build_warehouse(tmp_path_factory.mktemp("findings") / "warehouse.sqlite")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            findings.insert(),
            [
                _finding("F1", COMPANY, "rectification", licence_key="LC0002", licences=1),
                _finding("F2", COMPANY, "blacklist"),
                _finding("F3", COMPANY, "inspection", result="pass", in_force=False),  # an event: not open
                _finding("F4", PERSON, "suspension", end_date=TODAY + dt.timedelta(days=3)),
                _finding("F5", PERSON, "suspension", in_force=False),  # ended
                _finding("F6", None, "rectification", holder_code=STRANGER),  # a holder the repository lacks
            ],
        )
    engine.dispose()
    with pytest.MonkeyPatch.context() as env:
        for caller in sharing_clients():
            env.delenv(key_variable(caller), raising=False)
        server = _start(url)
    client = Api(f"http://127.0.0.1:{server.port}", url)
    yield client
    client.close()
    server.stop()
    server.server.config.app.state.sharing.warehouse.dispose()


def _findings(api: Api, code: str, caller: str = "approval_bureau", case_no: str | None = WINDOW_CASE):
    return api.get(f"/v1/holders/{code}/findings", caller, caseNo=case_no)


def test_the_approval_bureau_sees_open_findings_and_the_credit_flag(api):
    response, row = _findings(api, COMPANY)
    assert response.status_code == 200
    body = response.json()
    assert body["creditFlag"] is True and body["asOf"] == TODAY.isoformat()
    assert [f["findingId"] for f in body["openFindings"]] == ["F1", "F2"]  # the passed inspection is not open
    rectification = body["openFindings"][0]
    assert rectification["kind"] == "rectification" and rectification["licenceId"] == LICENCES["food"]["licence_id"]
    assert body["holder"]["holderCode"] == COMPANY
    assert (row["caller"], row["action"], row["outcome"], row["case_no"]) == (
        "approval_bureau",
        "findings",
        "allowed",
        WINDOW_CASE,
    )
    assert "credit flag" in row["reason"]


def test_a_suspension_still_running_is_open_and_identity_numbers_stay_out_of_the_log(api):
    response, row = _findings(api, PERSON)
    body = response.json()
    assert [f["findingId"] for f in body["openFindings"]] == ["F4"] and body["creditFlag"] is False
    assert body["openFindings"][0]["endDate"] == (TODAY + dt.timedelta(days=3)).isoformat()
    assert row["holder"] != PERSON and PERSON not in str(row)  # masked in the audit


def test_a_holder_with_no_findings_and_a_code_only_findings_know(api):
    body = _findings(api, OTHER_COMPANY)[0].json()
    assert body["openFindings"] == [] and body["creditFlag"] is False
    known_only_to_findings = _findings(api, STRANGER)[0]
    # a code that fails its USCC check is not matched against the findings' codes: answered as unknown
    assert known_only_to_findings.status_code in (200, 404)


def test_other_callers_are_refused_and_audited(api):
    for caller, case_no in (("market_regulation", MARKET_CASE), ("housing", HOUSING_CASE)):
        response, row = _findings(api, COMPANY, caller, case_no)
        assert response.status_code == 403
        assert (row["caller"], row["action"], row["outcome"]) == (caller, "findings", "refused")
        assert "findings" not in response.json() and "openFindings" not in response.json()


def test_reads_out_of_purpose_are_refused(api):
    missing, row = _findings(api, COMPANY, case_no=None)
    assert missing.status_code == 400 and row["outcome"] == "refused"
    other_shape, _ = _findings(api, COMPANY, case_no=HOUSING_CASE.replace("WJJS", "WJXX"))
    assert other_shape.status_code == 400
    no_key = api.get(f"/v1/holders/{COMPANY}/findings", None, caseNo=WINDOW_CASE)[0]
    assert no_key.status_code == 401
    bad, _ = api.get("/v1/holders/%00abc/findings", "approval_bureau", caseNo=WINDOW_CASE)
    assert bad.status_code in (400, 404)


def test_openapi_documents_the_findings_endpoint(api):
    schema = api.client.get("/openapi.json").json()
    operation = schema["paths"]["/v1/holders/{holder_code}/findings"]["get"]
    assert {"200", "400", "401", "403", "404"} <= set(operation["responses"])
    assert {p["name"] for p in operation["parameters"]} == {"holder_code", "caseNo"}
