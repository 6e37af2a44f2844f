"""Shared fixtures: sandboxes on loopback, and fresh databases on the local PostgreSQL and MariaDB servers.

Tests that need a server skip with the reason when it is absent, unless ``BRIDGE_REQUIRE_SERVICES=1``
(set by ``.ci/run``), in which case they fail: in CI the server paths always run.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from core.warehouse import Warehouse
from sandbox.runtime import Sandbox, SandboxSettings
from schemas.warehouse import metadata

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

POSTGRES_ADMIN_URL = os.environ.get("BRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
MARIADB_ADMIN_URL = os.environ.get("BRIDGE_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
SANDBOX_START = dt.date(2026, 11, 16)
EPHEMERAL_PORTS = {"market_regulation": 0, "approval_platform": 0, "municipal": 0, "supervision": 0}


def _unavailable(what: str, exc: Exception):
    reason = f"{what} is not reachable ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"
    if os.environ.get("BRIDGE_REQUIRE_SERVICES") == "1":
        pytest.fail(reason + " but BRIDGE_REQUIRE_SERVICES=1")
    pytest.skip(reason)


def _fresh_database(admin_url: str, what: str) -> Iterator[str]:
    """Create a throw-away database on the server, yield its URL, drop it afterwards."""
    name = f"bridge_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        _unavailable(what, exc)
    url = sa.make_url(admin_url).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            if admin.dialect.name == "postgresql":
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            else:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from _fresh_database(POSTGRES_ADMIN_URL, "PostgreSQL")


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    yield from _fresh_database(MARIADB_ADMIN_URL + "?charset=utf8mb4", "MariaDB")


def start_sandbox(root, **overrides) -> Sandbox:
    settings = SandboxSettings(**{"root": root, "start": SANDBOX_START, "ports": dict(EPHEMERAL_PORTS), **overrides})
    return Sandbox(settings).start()


@pytest.fixture(scope="module")
def quiet_sandbox(tmp_path_factory) -> Iterator[Sandbox]:
    """A well-behaved sandbox (no injected faults) shared by the connector tests of a module."""
    sandbox = start_sandbox(tmp_path_factory.mktemp("sandbox"), days=3, cases_per_day=40, fault_level="none")
    yield sandbox
    sandbox.stop()


@pytest.fixture
def warehouse(tmp_path) -> Iterator[Warehouse]:
    """An empty warehouse (every table created) in a SQLite file of the test's own."""
    warehouse = Warehouse(url=f"sqlite:///{tmp_path / 'w.sqlite'}")
    metadata.create_all(warehouse.engine)
    yield warehouse
    warehouse.dispose()


def pipeline_environment(sandbox: Sandbox, warehouse_url: str) -> dict[str, str]:
    return {**sandbox.environment(), "BRIDGE_WAREHOUSE_URL": warehouse_url}


def headless_dom(url: str, budget_ms: int = 10000) -> str:
    """The page's DOM after its scripts ran, from Debian's Chromium in headless mode (skips without it, unless
    BRIDGE_REQUIRE_SERVICES=1)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("BRIDGE_REQUIRE_SERVICES") == "1":
            pytest.fail("chromium is not installed but BRIDGE_REQUIRE_SERVICES=1")
        pytest.skip("chromium is not installed (Debian package `chromium`)")
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1600,2000",
         f"--virtual-time-budget={budget_ms}", "--dump-dom", url],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout
