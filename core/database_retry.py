"""One retry policy for a database the bridge reads or writes (the warehouse, the province's front-end database):
a lock that is briefly held elsewhere or a connection that broke off is tried again with backoff and jitter, a
bounded number of times; anything else (a constraint, a bad value, an unknown table) is raised at once.

A transient error is told from what the driver gives, not from the message text: SQLAlchemy's
``connection_invalidated``, SQLite's result code (BUSY, LOCKED), PostgreSQL's SQLSTATE (class 08 connection
exception, serialization failure, deadlock, lock not available, the server shutting down), and the MySQL/MariaDB
server's error number (lock wait timeout, deadlock, server gone away, lost connection). What is retried is always a
whole unit of work (one transaction, or one read): a transaction that failed half-way was rolled back by the
database, so doing it again from the start is safe.

One exception to "not the message": a PostgreSQL login that failed gives psycopg2 no SQLSTATE (libpq has no result
to carry one). There the server's own answer is recognised by libpq's ``FATAL:`` prefix: a refused login (wrong
password, unknown role or database, no pg_hba.conf entry) is raised at once, never tried six times against the
server's authentication; only "starting up", "shutting down" and "too many clients" are waited for. A server that
does not answer at all (connection refused, timeout) has no ``FATAL:`` and is transient.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

log = logging.getLogger(__name__)
T = TypeVar("T")

ATTEMPTS = 6  # the first and five more: about 15 s of waiting at most with the waits below
WAIT_FIRST, WAIT_MAX = 0.25, 5.0

#: SQLite primary result codes: SQLITE_BUSY (5, another connection holds the lock past the busy timeout) and
#: SQLITE_LOCKED (6, a conflict inside one shared-cache connection).
SQLITE_TRANSIENT = frozenset({5, 6})
#: SQLSTATE: 40001 serialization failure, 40P01 deadlock, 55P03 lock not available, 57P01-57P03 the server shutting
#: down or not yet accepting connections; and the whole class 08 (connection exception).
SQLSTATE_TRANSIENT = frozenset({"40001", "40P01", "55P03", "57P01", "57P02", "57P03"})
#: MySQL/MariaDB: 1205 lock wait timeout, 1213 deadlock, 2002/2003 cannot connect, 2006 server has gone away,
#: 2013 lost connection during a query, 1040 too many connections, 1053 server shutdown.
MYSQL_TRANSIENT = frozenset({1040, 1053, 1205, 1213, 2002, 2003, 2006, 2013})
#: The server's answers to a PostgreSQL login that are worth waiting for (libpq's words for 57P03 and 53300).
PG_LOGIN_TRANSIENT = ("the database system is starting up", "the database system is shutting down", "too many")


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` says the database was busy or out of reach for a moment (worth trying again), rather than
    refusing the statement or its data."""
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    original = exc.orig
    code = getattr(original, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in SQLITE_TRANSIENT
    state = getattr(original, "pgcode", None) or getattr(original, "sqlstate", None)
    if isinstance(state, str) and len(state) == 5:
        return state in SQLSTATE_TRANSIENT or state.startswith("08")
    module = type(original).__module__
    if module.startswith("psycopg2") and "FATAL:" in str(original):
        return any(words in str(original) for words in PG_LOGIN_TRANSIENT)  # the server answered the login
    if module.startswith(("pymysql", "MySQLdb", "mysql", "mariadb")):
        args = getattr(original, "args", ())
        return bool(args) and isinstance(args[0], int) and args[0] in MYSQL_TRANSIENT
    # a driver that gives no code: a PEP 249 OperationalError is about the database's state (a lock, a dropped
    # connection), never about the data; the other classes (IntegrityError, DataError, ProgrammingError) are not
    return isinstance(exc, sa.exc.OperationalError)


def _say(what: str) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        # the driver's class and first line only: a statement's parameters may hold personal data
        first = str(getattr(exc, "orig", exc) or "").strip().splitlines()[:1]
        log.warning(
            "%s: %s (%s); attempt %d of %d in %.1f s",
            what,
            type(getattr(exc, "orig", exc)).__name__,
            first[0][:200] if first else "",
            state.attempt_number + 1,
            ATTEMPTS,
            state.next_action.sleep if state.next_action else 0.0,
        )

    return before_sleep


def retrying(
    what: str, *, attempts: int = ATTEMPTS, wait_first: float = WAIT_FIRST, wait_max: float = WAIT_MAX
) -> Retrying:
    """A tenacity policy for one unit of work on a database (``what`` names it in the log line of each retry)."""
    return Retrying(
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(attempts),
        wait=wait_random_exponential(multiplier=wait_first, max=wait_max),
        before_sleep=_say(what),
        reraise=True,
    )


def with_retries(what: str, work: Callable[[], T], **policy) -> T:
    """``work()`` (one whole transaction or read), tried again while it fails transiently (:func:`is_transient`);
    the last error is raised as it was when the attempts run out."""
    return retrying(what, **policy)(work)
