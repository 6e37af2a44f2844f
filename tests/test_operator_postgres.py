"""The operator's commands on a PostgreSQL warehouse: the states a database goes through before its first load,
the URL named without its password, and what waits for a person counted with PostgreSQL's dates and timestamps."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from cli.main import main
from core.warehouse import Warehouse
from core.warehouse_state import LOADED, NO_LOADS, NO_TABLES, UNREADABLE, state_of
from schemas.warehouse import metadata
from tests.test_operator_commands import fill

pytestmark = pytest.mark.integration


def test_a_postgres_warehouse_before_and_after_its_first_load(postgres_url, monkeypatch, capsys):
    assert state_of(postgres_url).state == NO_TABLES
    monkeypatch.setenv("BRIDGE_WAREHOUSE_URL", postgres_url)
    assert main(["review", "list"]) == 2
    assert "it has no bridge tables" in capsys.readouterr().err
    assert main(["review", "list", "--allow-empty"]) == 0
    assert "(0 in all)" in capsys.readouterr().out
    with sa.create_engine(postgres_url).connect() as conn:  # read as empty: nothing was created
        assert not sa.inspect(conn).has_table("source_loads")

    warehouse = Warehouse(url=postgres_url)
    metadata.create_all(warehouse.engine)
    assert state_of(postgres_url).state == NO_LOADS
    fill(warehouse)
    warehouse.dispose()
    assert state_of(postgres_url).state == LOADED
    assert main(["review", "list"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "waiting for a person: record pairs 1, 12345 orders 1, project links 1 (3 in all)"
    assert main(["cases", "find", "恒达"]) == 0
    assert "GC00000000000001" in capsys.readouterr().out


def test_a_refused_login_is_one_line_without_the_password(postgres_url, monkeypatch, capsys):
    url = sa.make_url(postgres_url).set(username="nobody_here", password="s3cret-pw")
    monkeypatch.setenv("BRIDGE_WAREHOUSE_URL", url.render_as_string(hide_password=False))
    assert state_of(url).state == UNREADABLE
    assert main(["reconcile"]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "cannot be read" in err and "nobody_here:***@" in err
    assert "s3cret-pw" not in err
