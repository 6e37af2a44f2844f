"""What a receiver's database meant when it raised: the data was refused, the database could not be used as
configured, or it was not reached (try again later).

Decided from what the driver gives, never from the message text: SQLAlchemy's ``connection_invalidated``, the
server's error number (MySQL/MariaDB through PyMySQL or mysqlclient), the SQLSTATE (PostgreSQL through psycopg2 or
psycopg), the result code (SQLite, Python 3.11+), and the PEP 249 exception class where none of those is given.
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa

REFUSED, UNUSABLE, UNREACHED = "refused", "unusable", "unreached"
Kind = Literal["refused", "unusable", "unreached"]

#: MySQL/MariaDB server errors that refuse the data of one statement (a version's dead letter): column cannot be
#: null (1048), duplicate entry (1062), out of range (1264, 1690), data truncated (1265), incorrect datetime (1292),
#: no default value (1364), incorrect string value (1366, 1367), data too long (1406), a foreign key (1216, 1217,
#: 1451, 1452), a check constraint (3819; MariaDB 4025), incorrect value for the function (1411).
MYSQL_REFUSED = frozenset(
    {1048, 1062, 1216, 1217, 1264, 1265, 1292, 1364, 1366, 1367, 1406, 1411, 1451, 1452, 1690, 3819, 4025}
)
#: MySQL/MariaDB errors that say the tables or rights are not what the bridge was configured for: access denied
#: (1044, 1045, 1142, 1143), unknown database, table or column (1049, 1146, 1054), a statement the server cannot
#: parse (1064), column count does not match (1136), unknown table in a statement (1109).
MYSQL_UNUSABLE = frozenset({1044, 1045, 1049, 1054, 1064, 1109, 1136, 1142, 1143, 1146})
#: SQLSTATE classes: 22 data exception, 23 integrity constraint violation; 42 syntax error or access rule violation
#: (undefined column or table, insufficient privilege), 28 invalid authorisation, 3D/3F invalid catalog/schema.
SQLSTATE_REFUSED = ("22", "23")
SQLSTATE_UNUSABLE = ("42", "28", "3D", "3F")
#: SQLite primary result codes: CONSTRAINT (19, NOT NULL among them), TOOBIG (18), MISMATCH (20), RANGE (25) refuse
#: the data; ERROR (1: no such table or column, a syntax error) and AUTH (23) say the database is not as configured.
SQLITE_REFUSED = frozenset({18, 19, 20, 25})
SQLITE_UNUSABLE = frozenset({1, 23})


class TargetMisconfigured(RuntimeError):
    """The receiver's database is reachable but not as configured (an unknown column or table, no rights): a
    configuration fault that stops sending, never a rejection of the versions."""


def classify(exc: sa.exc.DBAPIError) -> Kind:
    """``refused`` (the statement's data), ``unusable`` (the database is not as configured) or ``unreached`` (a
    connection that failed or broke off, a lock or deadlock timeout, anything else: try again later)."""
    if exc.connection_invalidated:
        return UNREACHED
    original = exc.orig
    number = _mysql_number(original)
    if number is not None:
        return REFUSED if number in MYSQL_REFUSED else UNUSABLE if number in MYSQL_UNUSABLE else UNREACHED
    state = getattr(original, "pgcode", None) or getattr(original, "sqlstate", None)
    if isinstance(state, str) and len(state) == 5:
        if state.startswith(SQLSTATE_REFUSED):
            return REFUSED
        return UNUSABLE if state.startswith(SQLSTATE_UNUSABLE) else UNREACHED
    code = getattr(original, "sqlite_errorcode", None)
    if isinstance(code, int):
        primary = code & 0xFF
        return REFUSED if primary in SQLITE_REFUSED else UNUSABLE if primary in SQLITE_UNUSABLE else UNREACHED
    if isinstance(exc, sa.exc.IntegrityError | sa.exc.DataError):
        return REFUSED
    if isinstance(exc, sa.exc.ProgrammingError):
        return UNUSABLE
    return UNREACHED


def _mysql_number(original: BaseException | None) -> int | None:
    """The server's error number of a MySQL-family driver's error (its first argument)."""
    module = type(original).__module__
    if not module.startswith(("pymysql", "MySQLdb", "mysql", "mariadb")):
        return None
    args = getattr(original, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def refusal(exc: sa.exc.DBAPIError) -> tuple[str, str]:
    """(code, message) as the database gave them: ``MySQL 1364``, ``SQLSTATE 23502``, ``SQLite 1299`` (or the
    driver's class name), and the driver's own message, first line, without the statement or its parameters (which
    may hold personal data)."""
    original = exc.orig
    if (number := _mysql_number(original)) is not None:
        code = f"MySQL {number}"
        message = str(original.args[1]) if len(original.args) > 1 else str(original)
    elif isinstance(state := getattr(original, "pgcode", None) or getattr(original, "sqlstate", None), str):
        code = f"SQLSTATE {state}"
        message = str(original)
    elif isinstance(sqlite := getattr(original, "sqlite_errorcode", None), int):
        code = f"SQLite {sqlite}"
        message = str(original)
    else:
        code = type(original).__name__ if original is not None else type(exc).__name__
        message = str(original if original is not None else exc)
    first = message.strip().splitlines()[0] if message.strip() else code
    return code, first[:500]
