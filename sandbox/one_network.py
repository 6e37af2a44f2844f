"""Stand-in for the province's side of the front-end database: its tables and its audit.

The front-end database holds the national tables as published (``contracts/national``, in the DDL version
``ONE_NETWORK_DDL_VERSION`` names, default current), created by the stand-in, never from the bridge's definitions.
Each pass takes the rows the bridge wrote after a delay and audits them the national way
(:mod:`sandbox.province.exchange`): a refused row is named in ``dn_audit_abnormal`` with the reason, an accepted
one is left alone (the bridge hears nothing and takes it as taken once its settling time has passed). Under heavy
faults the audit stops for a stretch once, as the province's does during maintenance: rows wait until it is back.
Nothing here imports the product.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time

import sqlalchemy as sa

from sandbox.faults import FaultProfile
from sandbox.province.exchange import NationalExchange, shanghai_now
from sandbox.province.fixture import ddl_version, front_end_metadata


def _sqlite_wal(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # kept in the file: the bridge's connections read beside the audit
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class ExchangeProcessor:
    def __init__(
        self, url: str, faults: FaultProfile, seed: int = 0, interval: float = 0.3, version: str | None = None
    ) -> None:
        self.engine = sa.create_engine(url, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":  # the embedded front-end database: readers never wait for the audit
            sa.event.listen(self.engine, "connect", _sqlite_wal)
        self.version = version or ddl_version()
        front_end_metadata(self.version).create_all(self.engine)
        # a pause between the audit's transactions longer than SQLite's busy handler sleeps at once (100 ms)
        self.national = NationalExchange(self.engine, self.version, pause_seconds=0.12)
        self.faults = faults
        self.rng = random.Random(seed)
        self.interval = interval
        self.processed = 0
        self.paused_until = 0.0  # the province's audit stops for a stretch (heavy faults)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def process_once(self) -> int:
        if time.time() < max(self.paused_until, self.faults.outage_until):
            return 0
        low, high = self.faults.ack_delay_seconds
        cutoff = shanghai_now() - dt.timedelta(seconds=self.rng.uniform(low, high))
        done = self.national.process_once(cutoff)
        threshold = self.faults.outage_after_requests
        if threshold and self.processed < threshold <= self.processed + done:
            self.paused_until = time.time() + self.faults.outage_seconds
        self.processed += done
        return done

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.wait(self.interval):
                try:
                    self.process_once()
                except sa.exc.OperationalError:
                    continue  # the bridge holds the SQLite write lock; try on the next tick

        self._thread = threading.Thread(target=loop, name="one-network-exchange", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        self.engine.dispose()
