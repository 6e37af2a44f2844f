"""The published national tables (``contracts/national``) on PostgreSQL and MariaDB: the reader makes the server
hold the published constraints (NOT NULL refused by the server; over-long text refused by PostgreSQL's varchar and
by MariaDB in strict mode, lengths counted in characters; AUTO_INCREMENT in the 2020 copy), and the stand-in's audit
decides rows there as on SQLite."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from sandbox.province.contract import contract, definitions
from sandbox.province.exchange import NationalExchange
from sandbox.province.fixture import front_end_metadata, table
from tests.test_province_contract import LATER, accept_row, housekeeping, process_row

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Column .up_pro_accept.id. is marked as a member of the primary key"),
]


def _engine(url: str, version: str) -> sa.Engine:
    engine = sa.create_engine(url)
    if engine.dialect.name in ("mysql", "mariadb"):

        @sa.event.listens_for(engine, "connect")
        def strict(dbapi_connection, _record):  # the province's server runs in strict mode
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'")

    front_end_metadata(version).create_all(engine)
    return engine


def _reflected_as_published(engine: sa.Engine, version: str) -> None:
    inspector = sa.inspect(engine)
    for name, definition in definitions(version).items():
        reflected = {c["name"]: c for c in inspector.get_columns(name)}
        assert list(reflected) == [c.name for c in definition.columns], name
        for column in definition.columns:
            got = reflected[column.name]
            assert got["nullable"] == (not column.not_null), (name, column.name)
            if column.type == "varchar":
                assert getattr(got["type"], "length", None) == column.length, (name, column.name)
        assert inspector.get_pk_constraint(name)["constrained_columns"] == ["id"]


def _constraints_hold(url: str) -> None:
    engine = _engine(url, "current")
    try:
        _reflected_as_published(engine, "current")
        t = table("up_pro_accept")
        with engine.begin() as conn:
            conn.execute(t.insert().values(**accept_row(org_name="局" * 100)))  # 100 characters: fits
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(t.insert().values(**accept_row(row_guid="a-null", applyer_name=None)))
        with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:  # no id: the writer must supply one
            conn.execute(t.insert().values(**{k: v for k, v in accept_row(row_guid="a-noid").items() if k != "id"}))
        with pytest.raises(sa.exc.DataError), engine.begin() as conn:
            conn.execute(t.insert().values(**accept_row(row_guid="a-long", org_name="局" * 101)))
        with pytest.raises(sa.exc.DataError), engine.begin() as conn:
            conn.execute(t.insert().values(**accept_row(row_guid="a-code", project_type="即办件")))

        # What the database lets through, the audit decides: the same outcomes as on SQLite.
        with engine.begin() as conn:
            conn.execute(
                table("up_pro_process").insert(),
                [process_row(), process_row(row_guid="p-2", event_name="9", cd_batch="B9")],
            )
        national = NationalExchange(engine)
        assert national.process_once(LATER) == 3
        (refused,) = national.rejections()
        assert (refused["table_row_guid"], refused["err_type"]) == ("p-2", "04")
        assert refused["remark"] == "字段event_name的值9不在代码表event_name中"
        assert [h["process_rows"] for h in national.holdings()] == [1]
    finally:
        front_end_metadata("current").drop_all(engine)
        engine.dispose()


def _older_copy_numbers_rows(url: str) -> None:
    engine = _engine(url, "2020")
    try:
        _reflected_as_published(engine, "2020")
        plain = {k: v for k, v in accept_row().items() if k not in housekeeping()}
        with engine.begin() as conn:
            conn.execute(table("up_pro_accept", "2020").insert(), [plain, {**plain, "row_guid": "a-2"}])
            ids = conn.execute(sa.text("SELECT id FROM up_pro_accept ORDER BY id")).scalars().all()
        assert ids == [1, 2]  # AUTO_INCREMENT, as published
        assert contract("2020").tables["up_pro_accept"].column("org_code").length == 18
        with pytest.raises(sa.exc.DataError), engine.begin() as conn:
            conn.execute(table("up_pro_accept", "2020").insert().values(**{**plain, "org_code": "1" * 19}))
    finally:
        front_end_metadata("2020").drop_all(engine)
        engine.dispose()


def test_published_tables_on_postgresql(postgres_url):
    _constraints_hold(postgres_url)
    _older_copy_numbers_rows(postgres_url)


def test_published_tables_on_mariadb(mariadb_url):
    _constraints_hold(mariadb_url)
    _older_copy_numbers_rows(mariadb_url)
