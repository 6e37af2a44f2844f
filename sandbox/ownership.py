"""The sandbox drops and refills only databases it created itself.

A database the sandbox (or the demo) fills carries a marker table. Before it drops anything, the sandbox
looks: a database with tables but no marker belongs to someone else (a real warehouse, a department's
database), and the sandbox refuses, naming it, instead of dropping its tables.

Plain SQLAlchemy: the stand-ins' own tables name no schema. The demo's warehouse, whose tables are the bridge's,
is reset by the demo driver (:func:`sandbox.demo.reset_warehouse`), after the same :func:`claim`.
"""

from __future__ import annotations

import sqlalchemy as sa

MARKER = "sandbox_owned"


class NotOurs(RuntimeError):
    """The database holds tables the sandbox did not create."""


def claim(engine: sa.Engine, what: str) -> None:
    """Make sure the sandbox may reset ``engine``'s database: empty, or marked as the sandbox's own."""
    tables = set(sa.inspect(engine).get_table_names())
    if tables and MARKER not in tables:
        where = engine.url.render_as_string(hide_password=True)
        raise NotOurs(
            f"{what}: {where} holds {len(tables)} table(s) the sandbox did not create "
            f"({', '.join(sorted(tables)[:5])}{' …' if len(tables) > 5 else ''}); refusing to drop them"
        )
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE IF NOT EXISTS {MARKER} (note VARCHAR(200))"))


def reset(engine: sa.Engine, metadata: sa.MetaData, what: str) -> None:
    """Drop and recreate a stand-in's tables (``metadata``), on a database the sandbox owns."""
    claim(engine, what)
    metadata.drop_all(engine)
    metadata.create_all(engine)
