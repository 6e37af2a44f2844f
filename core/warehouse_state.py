"""Which warehouse a command reads, shown without credentials, and whether it was ever loaded.

A wrong ``DAGSTER_HOME`` or ``BRIDGE_WAREHOUSE_URL`` must not look like a quiet day: a command that reads the
warehouse says which one it read, and one whose answer would be "nothing" refuses a warehouse that was never
loaded instead of printing zeros. A warehouse is **loaded** when at least one pull of a department system or a
platform feed has finished in it: a row in ``source_loads`` (each pull writes its row in the same transaction as
its records, ``pipelines/pull``, ``pipelines/feeds``). It is **never loaded** when

- ``missing``: its SQLite file does not exist (checked before connecting: opening a SQLite URL creates the file);
- ``no_tables``: the database is there but holds no ``source_loads`` table (a new database, or someone else's);
- ``no_loads``: the table is there but empty (tables created, nothing pulled yet).

A warehouse that cannot be read at all (server down, wrong password, a file that is not a database) is
``unreadable``, with the driver's reason in one line: that is not an empty warehouse either.

Reading here creates nothing: the engine comes from :func:`core.warehouse.create_engine`, which creates no table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from core.redact import NotAURL, redacted_url
from core.warehouse import create_engine

LOADED, MISSING, NO_TABLES, NO_LOADS, UNREADABLE = "loaded", "missing", "no_tables", "no_loads", "unreadable"
NEVER_LOADED = (MISSING, NO_TABLES, NO_LOADS)


class UnreadableURL(ValueError):
    """The configured warehouse URL is not a SQLAlchemy URL (its text is not repeated: it may hold a password)."""


def shown_url(url: str | sa.URL) -> str:
    """The URL as a person may see it: every credential part replaced by ``***`` (``core.redact``)."""
    try:
        return redacted_url(url)
    except NotAURL:
        raise UnreadableURL("the warehouse URL is not a SQLAlchemy URL (dialect+driver://user@host/database)") from None


def sqlite_file(url: str | sa.URL) -> Path | None:
    """The file a SQLite URL names (None for another database or an in-memory one)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    database = parsed.database
    if database.startswith("file:"):  # sqlite:///file:path?uri=true
        database = database[len("file:") :]
    return Path(database)


@dataclass(frozen=True)
class WarehouseState:
    """What a command found at the warehouse URL, before reading anything else."""

    shown: str  # the URL without credentials
    state: str  # LOADED, MISSING, NO_TABLES, NO_LOADS or UNREADABLE
    loads: int = 0  # rows in source_loads
    sources: int = 0  # systems and feeds with a load
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    last_fetched_at: dt.datetime | None = None
    problem: str | None = None  # why it is unreadable, in one line

    @property
    def loaded(self) -> bool:
        return self.state == LOADED

    @property
    def never_loaded(self) -> bool:
        return self.state in NEVER_LOADED

    def why(self) -> str:
        """What was found, in a few words (for the line naming the warehouse)."""
        if self.state == LOADED:
            days = f"{self.first_day} to {self.last_day}" if self.first_day != self.last_day else f"{self.last_day}"
            last = f", last load {self.last_fetched_at:%Y-%m-%d %H:%M}" if self.last_fetched_at else ""
            return f"{self.loads} loads of {self.sources} sources, days {days}{last}"
        return {
            MISSING: "never loaded: the file does not exist",
            NO_TABLES: "never loaded: it has no bridge tables (no source_loads)",
            NO_LOADS: "never loaded: no pull has finished in it (source_loads is empty)",
        }.get(self.state, f"cannot be read: {self.problem}")


def state_of(url: str | sa.URL) -> WarehouseState:
    """The warehouse at ``url``: loaded (with what), never loaded (and why) or unreadable. Creates nothing."""
    shown = shown_url(url)
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        return WarehouseState(shown, MISSING)
    engine = None
    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("source_loads"):
                return WarehouseState(shown, NO_TABLES)
            row = conn.execute(
                sa.text(
                    "SELECT COUNT(*), COUNT(DISTINCT source_system), MIN(partition_date), MAX(partition_date), "
                    "MAX(fetched_at) FROM source_loads"
                )
            ).one()
    except Exception as exc:  # the driver's refusal (no server, no database, a file that is not one): one line
        return WarehouseState(shown, UNREADABLE, problem=_one_line(exc, url))
    finally:
        if engine is not None:
            engine.dispose()
    loads, sources, first, last, fetched = row
    if not loads:
        return WarehouseState(shown, NO_LOADS)
    return WarehouseState(shown, LOADED, int(loads), int(sources), _day(first), _day(last), _moment(fetched))


def _one_line(exc: Exception, url: str | sa.URL) -> str:
    """The driver's own words, first line, without the URL's password should the driver repeat it."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    reason = text[0].strip() if text else type(exc).__name__
    password = sa.make_url(url).password
    return reason.replace(str(password), "***") if password else reason


def _day(value) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])  # SQLite returns text from an aggregate


def _moment(value) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))
