"""A read is bound to its case's parties (issue 24, item 2): the holder a read asks about must be the case's
applicant or the holder of a licence it produced, under whichever number the case is cited; any other holder is
refused with an audited 403 (whether or not the repository knows it), and the purpose mart flags the reads that
were answered before the case was known.

The cases are hand-made rows of the warehouse (records, their links, the numbers they went out under, licences
and holders), written here the way a department and a clerk would have produced them, with the hard cases: a
个体工商户 whose licence names the business (its own USCC) while the application names the person, a clerk's
re-entry under its own number, a case written with a mistyped 身份证号 the repository resolved, a namesake, a
sibling company, and a renewal. ``case_parties`` is written by the code under test (``record_parties``) from them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa

from core.warehouse import insert_frame
from licensing.parties import record_parties
from reporting.purpose import unbound_reads
from sandbox.runtime import _ServerThread
from schemas.identifiers import make_uscc, mask_identifier, ric_check_char
from schemas.warehouse import (
    case_links,
    case_numbers,
    case_parties,
    findings,
    golden_cases,
    holder_codes,
    holders,
    licence_access_log,
    licences,
    staged_cases,
)
from sharing.api import SANDBOX_KEY, create_app, sharing_clients
from sharing.api import key_variable as api_key_variable
from tests.conftest import TODAY
from tests.test_sharing_api import (
    COMPANY,
    INDIVIDUAL_NO,
    LICENCES,
    OTHER_COMPANY,
    PERSON,
    PERSON_MISTYPED,
    UNKNOWN_PERSON,
    build_warehouse,
)
from tests.test_sharing_findings import _finding

DAY = TODAY - dt.timedelta(days=30)
# A second 张伟, born the same year in the same district: a namesake of the licensed person, nobody in these cases.
NAMESAKE = "32041219850407003" + ric_check_char("32041219850407003")
SIBLING = make_uscc("91320412", "12345679")  # the food company's sister company, same group, its own USCC

# The cases, each as its department's record (and a clerk's re-entry where there was one). National numbers are
# 31-character 实施编码 + yyyyMMdd + 4-digit serial (research notes, exchange-formats §3.1).
TASK = "11320412MB0395161Y" + "4000000000000"  # an assumed 实施编码 of the district's food-licence item
FOOD_CASE, FOOD_NATIONAL = "WJSP2026010500017", TASK + "202601050017"
FOOD_REENTRY = "WJSP2026010500099"  # the clerk's second entry of the same application, under the hall's number
SHOP_CASE = "WJSP2026010500018"  # 张伟 registers his 个体工商户: the licence names the business
MISTYPED_CASE = "WJSP2026010500019"  # 张伟's catering filing, his 身份证号 typed with two digits swapped
RENEWAL_CASE = "WJSP2026010500020"  # the food company renews its licence a year on
UNKNOWN_CASE = "WJSP2026010500555"  # not (yet) at the bridge
SHOP_NAME = "武进区湖塘镇张伟小吃店"


def _record(system: str, key: str, case_no: str, applicant: str, kind: str) -> dict:
    return {
        "source_system": system,
        "partition_date": DAY,
        "record_key": key,
        "source_record_id": key,
        "case_no": case_no,
        "item_code": "320412-food",
        "applicant_type": "legal" if kind == "uscc" else "natural",
        "applicant_name": "x",
        "applicant_id": applicant,
        "applicant_id_kind": kind,
        "status": "办结",
    }


def _golden(golden_id: str, record: dict) -> dict:
    fields = {k: v for k, v in record.items() if k in golden_cases.c and k not in ("partition_date",)}
    return {
        **fields,
        "golden_case_id": golden_id,
        "record_count": 1,
        "version": 1,
        "content_hash": golden_id,
        "first_partition": DAY,
        "updated_partition": DAY,
        "updated_at": dt.datetime.combine(DAY, dt.time(9)),
    }


def _link(record: dict, golden_id: str, role: str = "golden") -> dict:
    return {
        "source_system": record["source_system"],
        "partition_date": DAY,
        "record_key": record["record_key"],
        "golden_case_id": golden_id,
        "role": role,
        "match_rule": "new" if role == "golden" else "model",
        "linked_at": dt.datetime.combine(DAY, dt.time(9)),
    }


def cases(conn: sa.Connection) -> None:
    """The four golden cases, their records and links, the food case's national number, and the licences the
    cases produced (the hand-made licences of tests/test_sharing_api, tied to their cases)."""
    food = _record("market", "M-17", FOOD_CASE, COMPANY, "uscc")
    reentry = _record("window", "W-99", FOOD_REENTRY, COMPANY, "uscc")
    shop = _record("market", "M-18", SHOP_CASE, PERSON, "ric")
    mistyped = _record("market", "M-19", MISTYPED_CASE, PERSON_MISTYPED, "ric")
    renewal = _record("market", "M-20", RENEWAL_CASE, COMPANY, "uscc")
    records = [food, reentry, shop, mistyped, renewal]
    insert_frame(conn, staged_cases, pd.DataFrame(records).drop(columns=["applicant_id_kind"]))
    golden = [_golden("GC-FOOD", food), _golden("GC-SHOP", shop), _golden("GC-CATER", mistyped)]
    golden.append(_golden("GC-RENEW", renewal))
    insert_frame(conn, golden_cases, pd.DataFrame(golden))
    links = [_link(food, "GC-FOOD"), _link(reentry, "GC-FOOD", "duplicate"), _link(shop, "GC-SHOP")]
    links += [_link(mistyped, "GC-CATER"), _link(renewal, "GC-RENEW")]
    insert_frame(conn, case_links, pd.DataFrame(links))
    conn.execute(
        case_numbers.insert().values(
            project_no=FOOD_NATIONAL,
            source_system="market",
            source_record_id="M-17",
            origin="allocated",
            assigned_partition=DAY,
            assigned_at=dt.datetime.combine(DAY, dt.time(9)),
        )
    )
    # The 个体工商户's business licence names the business (持证主体 its shop, 持证主体代码 its own USCC), not 张伟.
    shop_holder = "HD-SHOP"
    conn.execute(
        holders.insert().values(
            holder_id=shop_holder,
            holder_code=INDIVIDUAL_NO,
            holder_code_type="001",
            holder_name=SHOP_NAME,
            updated_at=dt.datetime.combine(DAY, dt.time(9)),
        )
    )
    conn.execute(holder_codes.insert().values(code=INDIVIDUAL_NO, holder_id=shop_holder, how="identifier"))
    conn.execute(
        licences.update()
        .where(licences.c.licence_key == LICENCES["individual"]["licence_key"])
        .values(holder_id=shop_holder, holder_code=INDIVIDUAL_NO, holder_code_type="001", holder_name=SHOP_NAME)
    )
    produced = {"food": "GC-FOOD", "business": "GC-FOOD", "individual": "GC-SHOP", "catering": "GC-CATER"}
    for name, golden_id in produced.items():
        conn.execute(
            licences.update()
            .where(licences.c.licence_key == LICENCES[name]["licence_key"])
            .values(golden_case_id=golden_id)
        )


def make_warehouse(where) -> str:
    """The hand-made licences and holders, these cases, and their parties as ``record_parties`` writes them."""
    url = build_warehouse(where)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        cases(conn)
        record_parties(conn, ["GC-FOOD", "GC-SHOP", "GC-CATER", "GC-RENEW"])
        conn.execute(findings.insert(), [_finding("F1", COMPANY, "rectification"), _finding("F2", PERSON, "blacklist")])
    engine.dispose()
    return url


@pytest.fixture
def warehouse_url(tmp_path) -> str:
    return make_warehouse(tmp_path / "warehouse.sqlite")


@pytest.fixture(params=["sqlite", "postgresql"])
def any_warehouse(request, tmp_path) -> str:
    """The warehouse on SQLite, and on PostgreSQL (skipped with the reason when no server answers)."""
    if request.param == "sqlite":
        return make_warehouse(tmp_path / "warehouse.sqlite")
    return make_warehouse(request.getfixturevalue("postgres_url"))


def parties(url: str) -> set[tuple[str, str, str, str]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = {tuple(r) for r in conn.execute(sa.select(case_parties))}
    engine.dispose()
    return rows


@pytest.mark.unit
def test_a_case_is_known_by_every_number_with_its_applicant_and_its_licences_holders(warehouse_url):
    got = parties(warehouse_url)
    assert {(c, p, r) for c, p, g, r in got if g == "GC-FOOD"} == {
        (FOOD_CASE, COMPANY, "applicant"),  # the company applied, and holds both licences: one row per number
        (FOOD_REENTRY, COMPANY, "applicant"),  # the clerk's re-entry names the same case
        (FOOD_NATIONAL, COMPANY, "applicant"),  # the number it went out under
    }
    assert {(c, p, r) for c, p, g, r in got if g == "GC-SHOP"} == {
        (SHOP_CASE, PERSON, "applicant"),
        (SHOP_CASE, INDIVIDUAL_NO, "licence_holder"),  # the business the licence names
    }
    assert {(c, p) for c, p, g, _ in got if g == "GC-CATER"} == {
        (MISTYPED_CASE, PERSON_MISTYPED),
        (MISTYPED_CASE, PERSON),
    }
    assert {(c, p) for c, p, g, _ in got if g == "GC-RENEW"} == {(RENEWAL_CASE, COMPANY)}


@pytest.mark.unit
def test_recording_again_replaces_a_cases_rows_and_an_empty_table_is_filled_whole(warehouse_url):
    engine = sa.create_engine(warehouse_url)
    with engine.begin() as conn:
        before = {tuple(r) for r in conn.execute(sa.select(case_parties))}
        conn.execute(
            golden_cases.update().where(golden_cases.c.golden_case_id == "GC-RENEW").values(applicant_id=SIBLING)
        )
        assert record_parties(conn, ["GC-RENEW"]) == 1
        after = {tuple(r) for r in conn.execute(sa.select(case_parties))}
        assert after ^ before == {
            (RENEWAL_CASE, COMPANY, "GC-RENEW", "applicant"),
            (RENEWAL_CASE, SIBLING, "GC-RENEW", "applicant"),
        }
        conn.execute(case_parties.delete())  # a warehouse of an earlier release: no party recorded yet
        record_parties(conn, [])  # a day that touched nothing still fills it
        assert {tuple(r) for r in conn.execute(sa.select(case_parties))} == after
    engine.dispose()


# ---------------------------------------------------------------- the API: real HTTP on loopback
@pytest.fixture
def api(any_warehouse, monkeypatch) -> Iterator[tuple[httpx.Client, sa.Engine]]:
    warehouse_url = any_warehouse
    for caller in sharing_clients():
        monkeypatch.delenv(api_key_variable(caller), raising=False)
    server = _ServerThread(create_app(warehouse_url), 0)
    server.start()
    engine = sa.create_engine(warehouse_url)
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=httpx.Timeout(10.0, connect=5.0)) as client:
        yield client, engine
    server.stop()
    server.server.config.app.state.sharing.warehouse.dispose()
    engine.dispose()


def call(api, path: str, caller: str, **params) -> tuple[int, dict, dict]:
    client, engine = api
    response = client.get(path, params=params, headers={"X-Api-Key": SANDBOX_KEY.format(caller=caller)})
    with engine.connect() as conn:
        row = conn.execute(sa.select(licence_access_log).order_by(licence_access_log.c.id.desc()).limit(1)).mappings()
        row = dict(row.one())
    return response.status_code, response.json(), row


REFUSED = (403, "refused", "holder not a party of the case caseNo names")


@pytest.mark.integration
def test_a_company_case_cited_for_a_persons_findings_is_refused_and_audited(api):
    status, body, row = call(api, f"/v1/holders/{PERSON}/findings", "approval_bureau", caseNo=FOOD_CASE)
    assert (status, row["outcome"], row["reason"]) == REFUSED and "openFindings" not in body
    assert row["holder"] == mask_identifier(PERSON) and row["case_no"] == FOOD_CASE
    assert PERSON not in str(row)
    status, body, row = call(api, f"/v1/holders/{COMPANY}/findings", "approval_bureau", caseNo=FOOD_CASE)
    assert status == 200 and [f["findingId"] for f in body["openFindings"]] == ["F1"]
    assert row["reason"] == "1 open findings"  # bound: no note
    # the person's own case: his findings, under his application's number and under his business's licence's case
    status, body, _ = call(api, f"/v1/holders/{PERSON}/findings", "approval_bureau", caseNo=SHOP_CASE)
    assert status == 200 and body["creditFlag"] is True


@pytest.mark.integration
def test_every_number_of_a_case_binds_alike(api):
    for number in (FOOD_CASE, FOOD_REENTRY):
        assert call(api, f"/v1/holders/{COMPANY}/licences", "approval_bureau", caseNo=number)[0] == 200
        assert call(api, f"/v1/holders/{OTHER_COMPANY}/licences", "approval_bureau", caseNo=number)[0] == 403
    assert call(api, f"/v1/holders/{COMPANY}/licences", "market_regulation", caseNo=FOOD_NATIONAL)[0] == 200
    assert call(api, f"/v1/holders/{PERSON}/licences", "market_regulation", caseNo=FOOD_NATIONAL)[0] == 403
    # a renewal is a case of its own, with the same party
    assert call(api, f"/v1/holders/{COMPANY}/licences", "approval_bureau", caseNo=RENEWAL_CASE)[0] == 200


@pytest.mark.integration
def test_a_licence_holder_and_a_mistyped_applicant_are_parties_namesakes_and_siblings_are_not(api):
    bureau = "approval_bureau"
    # the 个体工商户's licence, fetched under the person's application: its holder is the business, a party
    status, body, _ = call(api, f"/v1/licences/{LICENCES['individual']['licence_id']}", bureau, caseNo=SHOP_CASE)
    assert status == 200 and body["holderCode"] == INDIVIDUAL_NO and body["holderName"] == SHOP_NAME
    # the case wrote a mistyped number the repository resolved to 张伟: he is its party under his own number
    assert call(api, f"/v1/holders/{PERSON}/licences", bureau, caseNo=MISTYPED_CASE)[0] == 200
    # another 张伟, and a sister company of the food company: strangers to these cases
    assert call(api, f"/v1/holders/{NAMESAKE}/licences", bureau, caseNo=SHOP_CASE)[0] == 403
    assert call(api, f"/v1/holders/{SIBLING}/licences", bureau, caseNo=FOOD_CASE)[0] == 403
    # the company's licence fetched under the person's case
    status, _, row = call(api, f"/v1/licences/{LICENCES['business']['licence_id']}", bureau, caseNo=SHOP_CASE)
    assert (status, row["outcome"], row["reason"]) == REFUSED and row["licence_key"] == "LC0001"


@pytest.mark.integration
def test_a_stranger_is_refused_whether_or_not_the_repository_knows_them(api):
    """No oracle: a holder the repository does not know answers 403 like a known one, not 404."""
    for code in (UNKNOWN_PERSON, PERSON):
        status, _, row = call(api, f"/v1/holders/{code}/licences", "approval_bureau", caseNo=FOOD_CASE)
        assert (status, row["outcome"], row["reason"]) == REFUSED
        status, body, _ = call(
            api, "/v1/verify", "market_regulation", caseNo=FOOD_NATIONAL, licenceNo=INDIVIDUAL_NO, holderCode=code
        )
        assert status == 403 and "matches" not in body


@pytest.mark.integration
def test_a_case_not_yet_known_is_answered_and_the_audit_says_so(api):
    status, _, row = call(api, f"/v1/holders/{PERSON}/licences", "approval_bureau", caseNo=UNKNOWN_CASE)
    assert status == 200 and row["outcome"] == "allowed" and row["reason"].endswith("(case not yet known)")


# ---------------------------------------------------------------- the purpose mart, afterwards
def _read(read_id: int, case_no: str, holder: str | None, action: str = "lookup") -> dict:
    return {
        "id": read_id,
        "at": dt.datetime.combine(DAY, dt.time(10)) + dt.timedelta(minutes=read_id),
        "caller": "approval_bureau",
        "purpose": "window",
        "action": action,
        "case_no": case_no,
        "holder": holder,
        "outcome": "allowed",
        "reason": "1 licences (case not yet known)",
    }


def strangers_flagged(url: str) -> dict[int, str]:
    """Reads answered while their case was not yet known, as the audit logged them (a 身份证号 masked, a USCC as
    it is), judged by the purpose mart: read id → finding."""
    reads = [
        _read(1, FOOD_CASE, COMPANY),  # the applicant
        _read(2, FOOD_CASE, mask_identifier(PERSON)),  # a person read under the company's case
        _read(3, SHOP_CASE, INDIVIDUAL_NO),  # the licence's holder
        _read(4, SHOP_CASE, mask_identifier(PERSON)),  # the applicant, masked in the log
        _read(5, MISTYPED_CASE, mask_identifier(PERSON)),  # the case wrote a mistyped number: the same holder
        _read(6, FOOD_NATIONAL, SIBLING),  # the sister company under the national number
        _read(7, FOOD_REENTRY, COMPANY, "findings"),
        _read(8, UNKNOWN_CASE, mask_identifier(NAMESAKE)),  # never came: judged as before
        _read(9, SHOP_CASE, None, "fetch"),  # a fetch of no licence: nothing read, nothing to judge
        _read(10, SHOP_CASE, mask_identifier(NAMESAKE)),  # the other 张伟: same region, other last four
    ]
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        insert_frame(conn, licence_access_log, pd.DataFrame(reads))
        mart = unbound_reads(conn, TODAY, days=7)
    engine.dispose()
    return dict(zip(mart["read_id"], mart["finding"], strict=True))


EXPECTED_FINDINGS = {2: "not_a_party", 6: "not_a_party", 8: "no_case", 10: "not_a_party"}


@pytest.mark.unit
def test_the_purpose_mart_flags_reads_of_strangers_once_the_case_is_known(warehouse_url):
    assert strangers_flagged(warehouse_url) == EXPECTED_FINDINGS


@pytest.mark.integration
def test_the_purpose_mart_flags_reads_of_strangers_on_postgresql(postgres_url):
    assert strangers_flagged(make_warehouse(postgres_url)) == EXPECTED_FINDINGS
