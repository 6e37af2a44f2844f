"""Stand-in for the province's exchange process on the front-end database.

The front-end database holds the province's own tables (:mod:`sandbox.province`: the national up_pro_* family,
the provincial PRE_* family and the interim flat table ex_case_info), created from the sandbox's fixture, never
from the bridge's definitions. Each pass takes the rows the bridge wrote after a delay and decides them the way
each family does: ex_case_info and PRE_* rows go from SYNC_STATUS I to S, or to E with the error in the
province's words; national rows are mirrored into dn_pro_* or refused in dn_audit_abnormal
(:mod:`sandbox.province.exchange`). Under heavy faults it stops for a stretch once, as the province's exchange
does during maintenance: rows wait until it comes back.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time

import pandas as pd
import sqlalchemy as sa

from sandbox.faults import FaultProfile
from sandbox.province.exchange import NationalExchange, PreExchange
from sandbox.province.fixture import PROVINCE_METADATA, table
from schemas.identifiers import classify_identifiers

EX_CASE_INFO = table("ex_case_info")
PENDING, SUCCEEDED, FAILED = "I", "S", "E"


def province_check(rows: pd.DataFrame) -> pd.Series:
    """The error text per row ('' = accepted). Codes after the province's 数据质量校验 style."""
    ids = classify_identifiers(rows["SQRZJHM"])
    errors = pd.Series("", index=rows.index, dtype="string")
    errors = errors.mask(~rows["SXBM"].fillna("").str.fullmatch(r"\d{12}"), "E0102 事项编码不在省级事项目录中")
    errors = errors.mask(~ids["checksum_ok"].to_numpy(), "E0301 申请人证件号码缺失或校验不通过")
    errors = errors.mask(rows["SQRMC"].fillna("") == "", "E0201 申请人名称为空")
    return errors


class ExchangeProcessor:
    def __init__(self, url: str, faults: FaultProfile, seed: int = 0, interval: float = 0.3) -> None:
        self.engine = sa.create_engine(url, pool_pre_ping=True)
        PROVINCE_METADATA.create_all(self.engine)
        self.national, self.pre = NationalExchange(self.engine), PreExchange(self.engine)
        self.faults = faults
        self.rng = random.Random(seed)
        self.interval = interval
        self.processed = 0
        self.paused_until = 0.0  # the province's exchange process stops for a stretch (heavy faults)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def process_once(self) -> int:
        if time.time() < max(self.paused_until, self.faults.outage_until):
            return 0
        low, high = self.faults.ack_delay_seconds
        cutoff = dt.datetime.now() - dt.timedelta(seconds=self.rng.uniform(low, high))
        done = self._interim(cutoff) + self.national.process_once(cutoff) + self.pre.process_once(cutoff)
        threshold = self.faults.outage_after_requests
        if threshold and self.processed < threshold <= self.processed + done:
            self.paused_until = time.time() + self.faults.outage_seconds
        self.processed += done
        return done

    def _interim(self, cutoff: dt.datetime) -> int:
        t = EX_CASE_INFO
        with self.engine.begin() as conn:
            rows = pd.DataFrame(
                conn.execute(
                    sa.select(t.c.PROJID, t.c.DATAVERSION, t.c.SXBM, t.c.SQRMC, t.c.SQRZJHM).where(
                        t.c.SYNC_STATUS == PENDING, cutoff >= t.c.INSERT_TIME
                    )
                )
                .mappings()
                .all(),
                columns=["PROJID", "DATAVERSION", "SXBM", "SQRMC", "SQRZJHM"],
            )
            if rows.empty:
                return 0
            rows["error"] = province_check(rows).to_numpy()
            now = dt.datetime.now().replace(microsecond=0)
            updates = [
                {
                    "p": r.PROJID,
                    "v": int(r.DATAVERSION),
                    "s": FAILED if r.error else SUCCEEDED,
                    "e": r.error or None,
                }
                for r in rows.itertuples()
            ]
            conn.execute(
                t.update()
                .where(sa.bindparam("p") == t.c.PROJID, sa.bindparam("v") == t.c.DATAVERSION)
                .values(SYNC_STATUS=sa.bindparam("s"), SYNC_ERROR=sa.bindparam("e"), SYNC_TIME=now),
                updates,
            )
        return len(updates)

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
