"""Shared fixtures: sandboxes on loopback, fresh databases on the local PostgreSQL and MariaDB servers, headless
Chromium; the fixed clock; and the test tiers.

Tests that need a server skip with the reason when it is absent, unless ``BRIDGE_REQUIRE_SERVICES=1``
(set by ``.ci/run``), in which case they fail: in CI the server paths always run.

Tiers (markers registered in pyproject.toml): every test is ``unit`` or ``integration``, never both, never
neither. A unit test stays in this process: no server, no port on loopback, no subprocess, no sandbox; it fails if
it opens an internet socket or starts a process. ``slow`` marks the 90-day backfills and anything over ~30 s. The
service markers (``postgres``, ``mariadb``, ``chromium``) come from the fixtures a test uses; ``spark`` from the
Spark test module.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import sqlalchemy as sa

from core import clock
from core.warehouse import Warehouse
from sandbox.runtime import Sandbox, SandboxSettings
from schemas.warehouse import metadata
from schemas.workdays import CALENDAR_DIR, WorkingCalendar

T = TypeVar("T")

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

POSTGRES_ADMIN_URL = os.environ.get("BRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
MARIADB_ADMIN_URL = os.environ.get("BRIDGE_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
SANDBOX_START = dt.date(2026, 11, 16)
#: The business date every test runs on (``BRIDGE_TODAY``), whatever the real date: two weeks after the sandbox's
#: first day, so its days are past, and in the last year with a published holiday calendar file.
TODAY = dt.date(2026, 11, 30)
EPHEMERAL_PORTS = {"market_regulation": 0, "approval_platform": 0, "municipal": 0, "supervision": 0}


# ---------------------------------------------------------------- tiers
TIERS = {"unit", "integration"}
#: A test that uses the fixture needs the service; the marker lets a run select or leave out what it has not.
SERVICE_FIXTURES = {
    "postgres_url": "postgres",
    "mariadb_url": "mariadb",
    "headless_dom": "chromium",
    "libreoffice": "libreoffice",
}
SERVICES = {"postgres", "mariadb", "chromium", "libreoffice", "spark"}
#: Modules whose tests need a service that no fixture names, marked here rather than in the module.
MODULE_MARKERS = {"test_resolution_spark.py": ("integration", "spark")}


@pytest.hookimpl(tryfirst=True)  # before ``-m`` selects on the markers added here
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wrong = []
    for item in items:
        for fixture, marker in SERVICE_FIXTURES.items():
            if fixture in item.fixturenames:
                item.add_marker(marker)
        names = {mark.name for mark in item.iter_markers()}
        for marker in MODULE_MARKERS.get(item.path.name, ()):
            if marker not in names and not (marker in TIERS and names & TIERS):
                item.add_marker(marker)
        names = {mark.name for mark in item.iter_markers()}
        tiers = names & TIERS
        if len(tiers) != 1:
            wrong.append(f"{item.nodeid}: {' and '.join(sorted(tiers)) or 'no tier'}")
        elif "unit" in tiers and names & SERVICES:
            wrong.append(f"{item.nodeid}: unit, but needs {', '.join(sorted(names & SERVICES))}")
    if wrong:
        raise pytest.UsageError(
            "every test is in exactly one tier, unit or integration (pytestmark in the module, or a mark on the test), "
            "and a unit test needs no service:\n  " + "\n  ".join(wrong)
        )
    if hasattr(config, "workerinput"):
        _slow_modules_first(items)


def _slow_modules_first(items: list[pytest.Item]) -> None:
    """On pytest-xdist's workers (``make test``: ``-n 2 --dist loadfile --no-loadscope-reorder``, one module per
    worker at a time, in collection order): the modules with slow tests come first, so the 90-day backfill and the
    embedded backfills start at once on the two workers, and the other modules fill in beside them."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)


class LeftTheProcess(AssertionError):
    """A unit test reached outside its process."""


def _refuse_inet(original: Callable) -> Callable:
    def guarded(sock: socket.socket, *args, **kwargs):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            raise LeftTheProcess(
                f"a unit test opened a network socket ({original.__name__} {args[:1]}): mark it integration"
            )
        return original(sock, *args, **kwargs)

    return guarded


def _refuse_process(*args, **kwargs):
    raise LeftTheProcess(f"a unit test started a process ({str(args[1:2])[:200]}): mark it integration")


@pytest.fixture(autouse=True)
def _unit_stays_in_process(request: pytest.FixtureRequest) -> Iterator[None]:
    """Unit tests may not connect or bind an internet socket nor start a process (they fail, saying so)."""
    if request.node.get_closest_marker("unit") is None:
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        for name in ("connect", "connect_ex", "bind"):
            patch.setattr(socket.socket, name, _refuse_inet(getattr(socket.socket, name)))
        patch.setattr(subprocess.Popen, "__init__", _refuse_process)
        yield


# ---------------------------------------------------------------- the clock
@pytest.fixture(scope="session", autouse=True)
def fixed_today() -> Iterator[dt.date]:
    """Today is TODAY for every test and every process a test starts (``BRIDGE_TODAY`` is inherited): nothing
    depends on the real date. A test that needs another day pins it with ``core.clock.frozen``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(clock.TODAY_VARIABLE, TODAY.isoformat())
        assert clock.today() == TODAY
        yield TODAY


def rolled_back(warehouse: Warehouse, action: Callable[[sa.Connection], T]) -> T:
    """What ``action`` returns when run in a transaction that is rolled back afterwards: a whole rebuild, to hold
    what a refresh kept against, leaving the warehouse as it was."""
    with warehouse.engine.connect() as conn:
        transaction = conn.begin()
        try:
            return action(conn)
        finally:
            transaction.rollback()


def calendar_through(year: int, directory: Path) -> WorkingCalendar:
    """The shipped holiday calendar as it stood when ``year`` was the last published one: its files up to ``year``,
    copied to ``directory``. Tests about an unpublished year use it, so they hold when the next year's file lands."""
    directory.mkdir(parents=True, exist_ok=True)
    for source in sorted(CALENDAR_DIR.glob("[0-9][0-9][0-9][0-9].csv")):
        if int(source.stem) <= year:
            shutil.copy(source, directory / source.name)
    return WorkingCalendar.load(directory)


# ---------------------------------------------------------------- services
def _unavailable(what: str, exc: Exception | None = None):
    reason = f"{what} is not reachable"
    if exc is not None:
        reason += f" ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"
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


@pytest.fixture
def postgres_warehouse(postgres_url) -> Iterator[Warehouse]:
    """An empty warehouse (every table created, the marts in their schema) in a fresh PostgreSQL database."""
    from core.warehouse import create_tables

    warehouse = Warehouse(url=postgres_url)
    create_tables(warehouse.engine)
    yield warehouse
    warehouse.dispose()


def pipeline_environment(sandbox: Sandbox, warehouse_url: str) -> dict[str, str]:
    return {**sandbox.environment(), "BRIDGE_WAREHOUSE_URL": warehouse_url}


@pytest.fixture
def libreoffice() -> Callable[..., Path]:
    """``libreoffice(workbook, outdir)``: the workbook opened by LibreOffice Calc in headless mode and saved as CSV
    (its first sheet), the path of the CSV. Debian's ``libreoffice-calc-nogui``; the test skips without it, unless
    BRIDGE_REQUIRE_SERVICES=1."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        _unavailable("LibreOffice (Debian package `libreoffice-calc-nogui`, not installed)")

    def convert(workbook: Path, outdir: Path) -> Path:
        profile = outdir / "lo-profile"  # a profile of its own: no lock on a shared one, nothing left behind
        result = subprocess.run(
            [soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to",
             "csv:Text - txt - csv (StarCalc):44,34,76", "--outdir", str(outdir), str(workbook)],
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        return outdir / (workbook.stem + ".csv")

    return convert


@pytest.fixture
def headless_dom() -> Callable[..., str]:
    """``headless_dom(url, budget_ms=10000, window="1600,2000")``: the page's DOM after its scripts ran, from Debian's
    Chromium in headless mode (the test skips without it, unless BRIDGE_REQUIRE_SERVICES=1)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        _unavailable("Chromium (Debian package `chromium`, not installed)")

    def dom(url: str, budget_ms: int = 10000, window: str = "1600,2000") -> str:
        result = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--window-size={window}",
             f"--virtual-time-budget={budget_ms}", "--dump-dom", url],
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    return dom
