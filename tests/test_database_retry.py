"""A database briefly locked or out of reach is tried again (core.database_retry); a refused statement is not."""

from __future__ import annotations

import socket
import threading

import pymysql.err
import pytest
import sqlalchemy as sa

from core.database_retry import is_transient, with_retries
from core.warehouse import Warehouse

NO_WAIT = {"wait_first": 0, "wait_max": 0}  # the attempts follow each other at once: no test sleeps


def _file_engine(path) -> sa.Engine:
    """An engine that gives up on a lock at once (no busy timeout), so a held lock is an error, not a wait."""
    return sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 0}, poolclass=sa.pool.NullPool)


def _holder(path, locked: threading.Event, release: threading.Event) -> threading.Thread:
    """A thread holding the file's write lock (BEGIN IMMEDIATE) until ``release`` is set."""

    def hold() -> None:
        engine = _file_engine(path)
        with engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
            locked.set()
            release.wait()
            conn.exec_driver_sql("COMMIT")
        engine.dispose()

    return threading.Thread(target=hold)


def _table(path) -> sa.Engine:
    engine = _file_engine(path)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    return engine


def _error(work) -> sa.exc.DBAPIError:
    with pytest.raises(sa.exc.DBAPIError) as caught:
        work()
    return caught.value


@pytest.mark.unit
def test_a_write_lock_held_by_another_connection_is_transient_and_a_constraint_is_not(tmp_path):
    path = tmp_path / "db.sqlite"
    engine = _table(path)
    locked, release = threading.Event(), threading.Event()
    holder = _holder(path, locked, release)
    holder.start()
    locked.wait()

    def write() -> None:
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (2)")

    busy = _error(write)
    release.set()
    holder.join()
    assert isinstance(busy, sa.exc.OperationalError) and "locked" in str(busy.orig)
    assert is_transient(busy)

    def duplicate() -> None:
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")  # the holder's row: a primary key violation

    assert not is_transient(_error(duplicate))

    def no_table() -> None:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT * FROM nowhere")

    assert not is_transient(_error(no_table))
    assert not is_transient(ValueError("not a database error"))
    engine.dispose()


@pytest.mark.unit
def test_mysql_errors_by_the_servers_number():
    def wrapped(number: int, message: str) -> sa.exc.DBAPIError:
        original = pymysql.err.OperationalError(number, message)
        return sa.exc.OperationalError("INSERT …", {}, original)

    assert is_transient(wrapped(1205, "Lock wait timeout exceeded; try restarting transaction"))
    assert is_transient(wrapped(2013, "Lost connection to MySQL server during query"))
    assert is_transient(wrapped(1213, "Deadlock found when trying to get lock"))
    refused = sa.exc.IntegrityError("INSERT …", {}, pymysql.err.IntegrityError(1062, "Duplicate entry"))
    assert not is_transient(refused)
    assert not is_transient(wrapped(1045, "Access denied for user"))


@pytest.mark.unit
def test_a_transaction_waits_out_a_lock_and_then_commits(tmp_path, caplog):
    path = tmp_path / "db.sqlite"
    engine = _table(path)
    locked, release = threading.Event(), threading.Event()
    holder = _holder(path, locked, release)
    holder.start()
    locked.wait()
    attempts = []

    def work() -> int:
        attempts.append(len(attempts) + 1)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql("INSERT INTO t VALUES (2)")
                return conn.exec_driver_sql("SELECT COUNT(*) FROM t").scalar()
        except sa.exc.OperationalError:
            release.set()  # the other connection finishes while this one waits for its next attempt
            holder.join()
            raise

    assert with_retries("test table", work, **NO_WAIT) == 2
    assert attempts == [1, 2]
    assert "test table: OperationalError (database is locked); attempt 2 of" in caplog.text
    engine.dispose()


@pytest.mark.unit
def test_attempts_are_bounded_and_a_refusal_is_not_tried_again(tmp_path):
    path = tmp_path / "db.sqlite"
    engine = _table(path)
    locked, release = threading.Event(), threading.Event()
    holder = _holder(path, locked, release)
    holder.start()
    locked.wait()
    attempts = []

    def write() -> None:
        attempts.append(1)
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (2)")

    try:
        with pytest.raises(sa.exc.OperationalError, match="locked"):
            with_retries("held for good", write, attempts=3, **NO_WAIT)
    finally:
        release.set()
        holder.join()
    assert len(attempts) == 3

    refused = []

    def duplicate() -> None:
        refused.append(1)
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")

    with pytest.raises(sa.exc.IntegrityError):
        with_retries("duplicate", duplicate, **NO_WAIT)
    assert refused == [1]
    engine.dispose()


@pytest.mark.unit
def test_the_warehouse_runs_a_transaction_again_from_the_start(tmp_path):
    warehouse = Warehouse(url=f"sqlite:///{tmp_path / 'w.sqlite'}")
    with warehouse.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    calls = []

    def work(conn: sa.Connection) -> int:
        calls.append(1)
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        if len(calls) == 1:  # the connection broke off after the first statement: nothing of it stays
            raise sa.exc.OperationalError("INSERT …", {}, Exception("server closed the connection"), True)
        return conn.exec_driver_sql("SELECT COUNT(*) FROM t").scalar()

    assert warehouse.transaction(work, "test") == 1
    assert len(calls) == 2
    warehouse.dispose()


@pytest.mark.integration
def test_postgresql_lock_timeout_is_transient_and_a_unique_violation_is_not(postgres_url):
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    with engine.connect() as holder:
        holder.exec_driver_sql("BEGIN")
        holder.exec_driver_sql("SELECT * FROM t FOR UPDATE")

        def blocked() -> None:
            with engine.begin() as conn:
                conn.exec_driver_sql("SET LOCAL lock_timeout = '50ms'")
                conn.exec_driver_sql("UPDATE t SET id = 2")

        lock = _error(blocked)
        holder.exec_driver_sql("ROLLBACK")
    assert lock.orig.pgcode == "55P03" and is_transient(lock)

    def duplicate() -> None:
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")

    assert not is_transient(_error(duplicate))
    engine.dispose()


@pytest.mark.integration
def test_a_refused_postgresql_login_is_not_tried_again_and_no_server_is(postgres_url):
    """psycopg2 gives a failed login no SQLSTATE: the server's FATAL answer (an unknown role, an unknown database)
    is a refusal, raised at once; a port where nothing listens is a server out of reach, waited for."""
    url = sa.engine.make_url(postgres_url)

    def connect(**parts) -> None:
        engine = sa.create_engine(url.set(**parts), connect_args={"connect_timeout": 3})
        try:
            with engine.connect():
                pass
        finally:
            engine.dispose()

    assert not is_transient(_error(lambda: connect(username="no_such_account")))
    assert not is_transient(_error(lambda: connect(database="no_such_database")))
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed_port = free.getsockname()[1]
    assert is_transient(_error(lambda: connect(port=closed_port)))
