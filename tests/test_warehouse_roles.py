"""Least privilege in the warehouse: the marts in their own schema, and the two roles granted on it.

On PostgreSQL the warehouse is built by an owner account that is not a superuser (as in production: it owns the
database and has CREATEROLE), the roles are granted with ``approval-bridge warehouse …``, and each role then
connects as itself (LOGIN with a password on 127.0.0.1) to show what it can and cannot do. Roles are cluster-wide:
each test makes its own, with unique names, and drops them at the end.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from cli.main import main
from core.roles import API, API_AUDIT, API_READS, DASHBOARD, mart_tables
from core.warehouse import Warehouse, create_engine
from dashboard.build import build, read_marts
from schemas.warehouse import (
    ALSO_IN_MARTS,
    MARTS,
    Table,
    case_parties,
    findings,
    golden_cases,
    licence_access_log,
    licences,
    metadata,
    raw_records,
    staged_cases,
)
from sharing.api import create_app
from tests.conftest import POSTGRES_ADMIN_URL
from tests.test_dashboard import _marts
from tests.test_security import KEY, Server, lookup

#: Columns that hold personal data, or lead to it: none of them may be in a table of the marts schema.
PERSONAL = {
    "applicant_id", "applicant_name", "contact_phone", "address", "holder_id", "holder_code", "holder_name", "holder",
    "payload", "summary", "evidence",
}  # fmt: skip
PERSONAL_TABLES = {
    "raw_records", "staged_cases", "golden_cases", "quarantined_records", "review_queue", "link_evidence",
    "resolution_splits", "holders", "holder_codes", "licences", "licence_events", "raw_licence_feed",
    "licence_access_log", "outbox", "dead_letters",
}  # fmt: skip
DENIED = "42501"  # insufficient_privilege: "permission denied for table …"


# ---------------------------------------------------------------- the rule (no server)
@pytest.mark.unit
def test_the_marts_schema_holds_every_mart_and_no_personal_data():
    in_marts = {t.name for t in metadata.tables.values() if t.schema == MARTS}
    marts = {t.name for t in metadata.tables.values() if t.name.startswith("mart_")}
    assert marts and marts <= in_marts
    assert in_marts == marts | ALSO_IN_MARTS
    assert not in_marts & PERSONAL_TABLES
    assert {t.name for t in mart_tables()} == in_marts
    for table in mart_tables():
        assert not PERSONAL & {c.name for c in table.columns}, table.name
    for name in PERSONAL_TABLES:  # and the tables that hold it stay in the default schema
        assert metadata.tables[name].schema is None, name


@pytest.mark.unit
def test_a_new_mart_lands_in_the_marts_schema_by_its_name():
    scratch = sa.MetaData()
    assert Table("mart_something_new", scratch, sa.Column("day", sa.Date)).schema == MARTS
    assert Table("something_personal", scratch, sa.Column("day", sa.Date)).schema is None


@pytest.mark.unit
def test_the_marts_are_found_on_sqlite(tmp_path):
    warehouse = Warehouse(url=f"sqlite:///{tmp_path / 'w.sqlite'}")
    _marts(warehouse)
    assert read_marts(create_engine(warehouse.engine.url))["volume"]  # the dashboard's engine, translated
    assert "mart_daily_volume" in sa.inspect(warehouse.engine).get_table_names()
    warehouse.dispose()


@pytest.mark.unit
def test_roles_are_a_postgresql_feature(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BRIDGE_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'w.sqlite'}")
    for action in ("grant-dashboard-role", "grant-api-role"):
        assert main(["warehouse", action, "--role", "reader"]) == 2
        out = capsys.readouterr().out
        assert out.count("\n") == 1 and "PostgreSQL feature" in out and "sqlite" in out
    assert not (tmp_path / "w.sqlite").exists()  # nothing was created
    assert main(["warehouse", "grant-dashboard-role", "--role", "two words"]) == 2
    assert "not a role name" in capsys.readouterr().err


@pytest.mark.unit
def test_the_printed_sql_grants_what_the_role_needs_and_nothing_else(capsys):
    assert main(["warehouse", "grant-dashboard-role", "--role", "dash", "--print-sql"]) == 0
    script = capsys.readouterr().out
    grants = [line for line in script.splitlines() if line.startswith("GRANT") or " GRANT " in line]
    assert grants == [
        "GRANT USAGE, CREATE ON SCHEMA public TO CURRENT_USER;",  # the owner's, before PUBLIC's is revoked
        'GRANT USAGE ON SCHEMA marts TO "dash";',
        'GRANT SELECT ON ALL TABLES IN SCHEMA marts TO "dash";',
        'ALTER DEFAULT PRIVILEGES IN SCHEMA marts GRANT SELECT ON TABLES TO "dash";',
    ]
    assert "NOLOGIN" in script and 'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "dash";' in script

    assert main(["warehouse", "grant-api-role", "--role", "api", "--password-env", "X", "--print-sql"]) == 0
    script = capsys.readouterr().out
    assert "LOGIN PASSWORD :'password';" in script and "psql -v password=" in script
    granted = " ".join(line for line in script.splitlines() if "GRANT" in line and "REVOKE" not in line)
    for table in API_READS:
        assert f'"public"."{table.name}"' in granted
    assert 'GRANT INSERT ON "public"."licence_access_log" TO "api";' in script
    assert "marts" not in granted and "ALL TABLES" not in granted


# ---------------------------------------------------------------- on PostgreSQL
@pytest.fixture
def cluster_roles(postgres_url) -> Iterator[dict[str, str]]:
    """An owner account for the test's database (LOGIN, CREATEROLE, owner of the database, no superuser) and the
    names of a dashboard and an API role; all of them dropped afterwards."""
    prefix = f"bridge_t{uuid.uuid4().hex[:8]}"
    names = {"owner": f"{prefix}_owner", DASHBOARD: f"{prefix}_dash", API: f"{prefix}_api"}
    database = sa.make_url(postgres_url).database
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE ROLE \"{names['owner']}\" LOGIN CREATEROLE PASSWORD 'owner-secret'"))
        conn.execute(sa.text(f'ALTER DATABASE "{database}" OWNER TO "{names["owner"]}"'))
    admin.dispose()
    try:
        yield names
    finally:
        in_test_database = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
        with in_test_database.connect() as conn:
            existing = conn.execute(
                sa.text("SELECT rolname FROM pg_roles WHERE rolname IN :names").bindparams(
                    sa.bindparam("names", expanding=True)
                ),
                {"names": list(names.values())},
            ).scalars()
            # One at a time, the granted roles before the owner (DROP OWNED BY of roles sharing a default ACL
            # entry fails in PostgreSQL 15: "could not find tuple for default ACL").
            for name in sorted(existing, key=lambda n: n == names["owner"]):
                conn.execute(sa.text(f'REASSIGN OWNED BY "{name}" TO CURRENT_USER'))
                conn.execute(sa.text(f'DROP OWNED BY "{name}"'))
                conn.execute(sa.text(f'DROP ROLE "{name}"'))
        in_test_database.dispose()


def _as(postgres_url: str, role: str, password: str) -> str:
    return sa.make_url(postgres_url).set(username=role, password=password).render_as_string(hide_password=False)


def _refused(engine: sa.Engine, statement: sa.Executable) -> bool:
    """Whether PostgreSQL refuses ``statement`` for lack of privilege (each try in a transaction of its own)."""
    try:
        with engine.begin() as conn:
            conn.execute(statement)
    except sa.exc.DBAPIError as exc:
        if getattr(exc.orig, "pgcode", None) == DENIED:
            return True
        raise
    return False


@pytest.fixture
def owned_warehouse(postgres_url, cluster_roles, monkeypatch) -> Iterator[str]:
    """The warehouse built by the owner account, with some marts and a staged record; the commands pointed at it."""
    url = _as(postgres_url, cluster_roles["owner"], "owner-secret")
    warehouse = Warehouse(url=url)
    _marts(warehouse)
    with warehouse.begin() as conn:
        conn.execute(
            staged_cases.insert().values(
                source_system="market_regulation", partition_date=dt.date(2026, 10, 12), record_key="R1",
                source_record_id="R1", applicant_id="320412198503120011", contact_phone="13800000000",
            )
        )  # fmt: skip
    warehouse.dispose()
    monkeypatch.setenv("BRIDGE_WAREHOUSE_URL", url)
    yield url


@pytest.mark.integration
def test_the_dashboard_role_reads_every_mart_and_nothing_else(
    postgres_url, cluster_roles, owned_warehouse, monkeypatch, tmp_path, capsys
):
    role = cluster_roles[DASHBOARD]
    monkeypatch.setenv("DASHBOARD_DB_PASSWORD", "dash-secret")
    command = ["warehouse", "grant-dashboard-role", "--role", role, "--password-env", "DASHBOARD_DB_PASSWORD"]
    assert main(command) == 0
    assert main(command) == 0  # again: the role is brought back to the same grants
    assert f"role {role} (LOGIN): USAGE on schema marts" in capsys.readouterr().out

    owner = create_engine(owned_warehouse)
    inspector = sa.inspect(owner)  # the marts in their schema, the rest in public, nothing in both
    assert set(inspector.get_table_names(schema=MARTS)) == {t.name for t in mart_tables()}
    assert {"staged_cases", "licence_access_log"} <= set(inspector.get_table_names(schema="public"))
    assert not set(inspector.get_table_names(schema="public")) & set(inspector.get_table_names(schema=MARTS))
    later = sa.Table("mart_added_later", sa.MetaData(), sa.Column("day", sa.Date), schema=MARTS)
    later.create(owner)  # a mart the pipeline creates after the grant: readable by default privileges
    owner.dispose()

    dashboard = create_engine(_as(postgres_url, role, "dash-secret"))
    try:
        with dashboard.connect() as conn:
            assert conn.execute(sa.text("SELECT current_user")).scalar() == role
            for table in [*mart_tables(), later]:
                conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            assert conn.execute(sa.text("SELECT SUM(cases) FROM mart_daily_volume")).scalar() == 8  # search_path
        for table in (staged_cases, raw_records, golden_cases, licence_access_log, licences):
            # named with their schema: the role's search_path is marts alone
            assert _refused(dashboard, sa.text(f"SELECT count(*) FROM public.{table.name}")), table.name
        assert _refused(dashboard, mart_tables()[0].delete())  # read-only
        assert _refused(dashboard, sa.text("CREATE TABLE public.mine (x int)"))
        assert _refused(dashboard, sa.text("CREATE TABLE marts.mine (x int)"))
    finally:
        dashboard.dispose()

    # The dashboard page is built from the marts alone, as that role.
    page = build(_as(postgres_url, role, "dash-secret"), tmp_path / "index.html", today=dt.date(2026, 11, 28))
    assert '"handling_dept":"housing"' in page.read_text(encoding="utf-8").replace(" ", "")


@pytest.mark.integration
def test_the_api_role_reads_licences_and_writes_only_the_access_log(
    postgres_url, cluster_roles, owned_warehouse, monkeypatch, capsys
):
    role = cluster_roles[API]
    monkeypatch.setenv("SHARING_DB_PASSWORD", "api-secret")
    assert main(["warehouse", "grant-api-role", "--role", role, "--password-env", "SHARING_DB_PASSWORD"]) == 0
    assert f"role {role} (LOGIN): SELECT on holders, holder_codes, licences" in capsys.readouterr().out

    # The sharing API opens the warehouse as sharing/api.py does: Warehouse(url).engine, which creates nothing here.
    warehouse = Warehouse(url=_as(postgres_url, role, "api-secret"))
    try:
        engine = warehouse.engine
        with engine.connect() as conn:
            for table in API_READS:
                conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
        with engine.begin() as conn:  # as LicenceSharing.audit does: INSERT … RETURNING id
            written = conn.execute(
                API_AUDIT.insert().values(
                    at=dt.datetime(2026, 11, 30, 9), caller="housing", action="lookup", outcome="refused"
                )
            )
            assert written.inserted_primary_key[0] >= 1
        row = {
            "licence_key": "LC1", "licence_id": "x", "licence_type_code": "t", "licence_name": "n", "licence_no": "1",
            "holder_id": "HD1", "holder_name": "h", "issuer_name": "i", "issuer_code": "c",
            "issue_date": dt.date(2026, 1, 1), "valid_from": dt.date(2026, 1, 1), "status": "有效",
            "area_code": "320412", "sources": "case", "version": 1, "content_hash": "0",
            "updated_at": dt.datetime(2026, 1, 1),
        }  # fmt: skip
        assert _refused(engine, licences.insert().values(**row))
        assert _refused(engine, licences.update().values(status="撤销"))
        assert _refused(engine, licences.delete())
        assert _refused(engine, API_AUDIT.update().values(outcome="allowed"))  # the audit log is append-only
        assert _refused(engine, API_AUDIT.delete())
        assert _refused(engine, sa.select(API_AUDIT.c.caller))  # it writes the log, it does not read it back
        assert _refused(engine, sa.select(sa.func.count()).select_from(staged_cases))
        assert _refused(engine, sa.select(sa.func.count()).select_from(golden_cases))
        assert _refused(engine, sa.select(sa.func.count()).select_from(mart_tables()[0]))
        assert _refused(engine, sa.text("CREATE TABLE public.mine (x int)"))
    finally:
        warehouse.dispose()


@pytest.mark.integration
def test_the_sharing_api_serves_and_audits_as_its_role(postgres_url, cluster_roles, owned_warehouse, monkeypatch):
    """The API itself, run with the API role's account: reads answered, refusals and reads audited."""
    role = cluster_roles[API]
    monkeypatch.setenv("SHARING_DB_PASSWORD", "api-secret")
    assert main(["warehouse", "grant-api-role", "--role", role, "--password-env", "SHARING_DB_PASSWORD"]) == 0
    with Server(create_app(_as(postgres_url, role, "api-secret"))) as base, httpx.Client(base_url=base) as client:
        path, params = lookup("91320412123456788X")
        unknown = client.get(path, params=params, headers={"X-Api-Key": KEY(caller="approval_bureau")})
        wrong = client.get(path, params=params, headers={"X-Api-Key": "wrong"})
        malformed = client.get(path, params={"caseNo": "x\x00"}, headers={"X-Api-Key": KEY(caller="approval_bureau")})
    assert (unknown.status_code, wrong.status_code, malformed.status_code) == (404, 401, 400)
    owner = create_engine(owned_warehouse)
    with owner.connect() as conn:
        logged = conn.execute(sa.select(licence_access_log.c.caller, licence_access_log.c.outcome)).all()
    owner.dispose()
    assert sorted(logged) == [("approval_bureau", "allowed"), ("approval_bureau", "refused"), ("unknown", "refused")]


@pytest.mark.integration
def test_every_endpoint_answers_under_the_api_role_as_under_the_owner(
    postgres_url, cluster_roles, owned_warehouse, monkeypatch
):
    """Each endpoint of the API (lookup, fetch, verify, findings), on the hand-made licences and findings, answers
    the same under the API role as under the owner's account: no ``permission denied`` turned into a 500 (the
    findings table was not granted, issue 24)."""
    from tests.test_sharing_api import COMPANY, LICENCES, MARKET_CASE, PERSON, WINDOW_CASE, build_warehouse
    from tests.test_sharing_findings import _finding

    build_warehouse(owned_warehouse)
    owner = create_engine(owned_warehouse)
    with owner.begin() as conn:
        conn.execute(
            findings.insert(), [_finding("F1", COMPANY, "rectification"), _finding("F2", COMPANY, "blacklist")]
        )
        # the bureau's case is the company's: reads of it are bound (case_parties read under the role)
        conn.execute(
            case_parties.insert().values(
                case_no=WINDOW_CASE, party_code=COMPANY, golden_case_id="GC1", role="applicant"
            )
        )
    owner.dispose()
    role = cluster_roles[API]
    monkeypatch.setenv("SHARING_DB_PASSWORD", "api-secret")
    assert main(["warehouse", "grant-api-role", "--role", role, "--password-env", "SHARING_DB_PASSWORD"]) == 0
    bureau, market = {"X-Api-Key": KEY(caller="approval_bureau")}, {"X-Api-Key": KEY(caller="market_regulation")}
    requests = {
        "lookup": (f"/v1/holders/{COMPANY}/licences", {"caseNo": WINDOW_CASE}, bureau),
        "fetch": (f"/v1/licences/{LICENCES['business']['licence_id']}", {"caseNo": WINDOW_CASE}, bureau),
        "verify": ("/v1/verify", {"caseNo": MARKET_CASE, "licenceNo": COMPANY, "holderCode": COMPANY}, market),
        "findings": (f"/v1/holders/{COMPANY}/findings", {"caseNo": WINDOW_CASE}, bureau),
        "stranger": (f"/v1/holders/{PERSON}/findings", {"caseNo": WINDOW_CASE}, bureau),  # not a party: 403
    }
    answers = {}
    for account, url in (("owner", owned_warehouse), ("api", _as(postgres_url, role, "api-secret"))):
        with Server(create_app(url)) as base, httpx.Client(base_url=base, timeout=10) as client:
            answers[account] = {
                name: (response.status_code, response.json() if response.status_code < 500 else response.text)
                for name, (path, params, headers) in requests.items()
                for response in [client.get(path, params=params, headers=headers)]
            }
    assert {name: status for name, (status, _) in answers["api"].items()} == {
        **dict.fromkeys(requests, 200),
        "stranger": 403,
    }
    assert answers["api"] == answers["owner"]
    assert [f["findingId"] for f in answers["api"]["findings"][1]["openFindings"]] == ["F1", "F2"]


@pytest.mark.unit
def test_the_api_role_is_granted_every_table_the_api_reads():
    """Read from the API's own module: every warehouse table it names is granted (the audit log for INSERT)."""
    import sharing.api as api

    named = {value for value in vars(api).values() if isinstance(value, sa.Table)}
    assert named - {API_AUDIT} == set(API_READS), "core/roles.py API_READS differs from what sharing/api.py reads"
