"""江苏政务服务网 through the national case tables on the province's front-end database (前置库).

:class:`ProvinceTableTarget` writes golden-case versions as the rows a profile declares
(:mod:`connectors.province_profile`), reads the province's answers back and lists what the province holds:

- **Writing.** A row the province does not have is inserted (``cd_operation`` i); one whose content changed is
  written again under the same row_guid (u); an unchanged one is left alone. Each row also gets what the tables'
  DDL version demands: its id (snowflake, or the database's AUTO_INCREMENT), the tenant and the bridge's org and
  user ids, created/updated times from the project's clock, and ``version`` (1, then one more per later version of
  the same row). The newest stored version of a row is the one with the highest id.
- **Answers.** The province refuses a row by naming it in ``dn_audit_abnormal`` (table, row_guid, batch, error
  type, remark): the case version that wrote it is dead-lettered with those words. A version none of whose rows is
  named there once they have stood for the settling time is taken (acknowledged).
- **Holdings.** Per row_guid the newest version the province has not refused, unless that is a delete: what is in
  effect there, by case number and batch, for the reconciliation (:func:`delivery.reconcile.resolve_receipts`).

A statement the database itself refuses (NOT NULL, too long, a bad value) is that version's dead letter with the
database's message, the other versions of the batch still go (:meth:`DeliveryTarget.send_in_transactions`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable

import numpy as np
import pandas as pd
import sqlalchemy as sa
from pydantic import Field, PrivateAttr

from connectors.database_errors import TargetMisconfigured
from connectors.province_profile import (
    CASE_FIELDS,
    DDL_VARIABLE,
    DEFAULT_DDL_VERSION,
    DEFAULT_PROVINCE_PROFILE,
    PROFILE_VARIABLE,
    ColumnMap,
    DdlVersion,
    Profile,
    ProfileError,
    assumptions,
    case_facts,
    case_rows,
    column_values,
    ddl_version,
    load_file,
    profile,
    province_profile,
)
from connectors.snowflake import Snowflake
from connectors.targets import NOTHING, Delivery, DeliveryTarget, OutboxMessage, ReadWindow
from core import clock
from core.database_retry import with_retries
from core.frames import isin
from core.warehouse import frame_of, in_lists, insert_frame

__all__ = [
    "CASE_FIELDS",
    "DDL_VARIABLE",
    "DEFAULT_DDL_VERSION",
    "DEFAULT_PROVINCE_PROFILE",
    "PROFILE_VARIABLE",
    "ColumnMap",
    "ProfileError",
    "ProvinceTableTarget",
    "assumptions",
    "batch_of",
    "case_facts",
    "case_rows",
    "column_values",
    "ddl_version",
    "load_file",
    "profile",
    "province_profile",
]


def batch_of(idempotency_key: str) -> str:
    """The batch a case version's rows go out in (32 characters): the same on every re-send of the version, so
    a re-send finds its rows already written and writes nothing twice."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


def _comparable(frame: pd.DataFrame, table: sa.Table) -> pd.DataFrame:
    """Values as text the same way whether they came from the case or back from the province's table."""
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        if isinstance(table.c[column].type, sa.DateTime):
            out[column] = pd.to_datetime(frame[column]).dt.strftime("%Y-%m-%d %H:%M:%S").astype("string")
        else:
            out[column] = frame[column].astype("string").str.strip()
    return out


class ProvinceTableTarget(DeliveryTarget):
    """The province's case tables on its front-end database, as a profile declares them
    (``connectors/profiles/<profile>.yaml``) in the DDL version the database has. The province owns the database
    and its tables: the bridge reads their definitions and writes and reads rows, nothing else."""

    url: str = Field(description="SQLAlchemy URL of the front-end database; credentials via environment")
    profile_name: str = Field(default=DEFAULT_PROVINCE_PROFILE, description="connectors/profiles/<name>.yaml")
    ddl_version: str = Field(
        default=DEFAULT_DDL_VERSION, description="ONE_NETWORK_DDL_VERSION: the published DDL the tables follow"
    )
    tenant_id: int | None = Field(default=None, description="ONE_NETWORK_TENANT_ID: 租户ID the province issued")
    org_id: int | None = Field(default=None, description="ONE_NETWORK_ORG_ID: the bridge's 机构ID (created/updated by)")
    user_id: int | None = Field(
        default=None, description="ONE_NETWORK_USER_ID: the bridge's 用户ID (created/updated by)"
    )
    worker_id: int = Field(default=0, ge=0, le=1023, description="ONE_NETWORK_WORKER_ID: this writer's snowflake id")
    settle_seconds: float = Field(
        default=600.0, ge=0, description="ONE_NETWORK_SETTLE_SECONDS: how long a row stands unrefused to be taken"
    )
    batch_size: int = Field(default=1000, description="versions per transaction (benchmarks/province.py)")

    _engine_cache: sa.Engine | None = PrivateAttr(default=None)
    _tables: dict[str, sa.Table] = PrivateAttr(default_factory=dict)
    _ids: Snowflake | None = PrivateAttr(default=None)
    _clock: Callable[[], dt.datetime] = PrivateAttr(default_factory=lambda: clock.now)

    def model_post_init(self, _context) -> None:
        chosen = self.profile
        if self.ddl_version not in chosen.ddl_versions:
            raise ProfileError(
                f"DDL version {self.ddl_version!r}: profile {chosen.name} knows {', '.join(chosen.ddl_versions)}"
            )

    def using_clock(self, now: Callable[[], dt.datetime]) -> ProvinceTableTarget:
        """The same target reading time (written rows, the settling time) from ``now``: tests move it by hand."""
        self._clock = now
        return self

    @property
    def profile(self) -> Profile:
        return profile(self.profile_name)

    @property
    def ddl(self) -> DdlVersion:
        return self.profile.ddl_versions[self.ddl_version]

    @property
    def ids(self) -> Snowflake:
        if self._ids is None:
            self._ids = Snowflake(self.worker_id)
        return self._ids

    def _engine(self) -> sa.Engine:
        if self._engine_cache is None:
            url = sa.make_url(self.url)
            # an embedded (SQLite) front-end database: wait for the province's own writer rather than fail at once
            extra = {"connect_args": {"timeout": 30}} if url.get_backend_name() == "sqlite" else {}
            self._engine_cache = sa.create_engine(url, pool_pre_ping=True, **extra)
        return self._engine_cache

    def format_name(self) -> str:
        return f"profile {self.profile_name} (DDL {self.ddl_version}): {self.profile.title}"

    def _table(self, conn: sa.Connection, name: str) -> sa.Table:
        """The province's table as its database defines it; one of the profile's that lacks a column the profile
        or its DDL version writes stops the run (the DDL version configured is not the database's)."""
        if name not in self._tables:
            found = sa.Table(name, sa.MetaData(), autoload_with=conn)
            if name in self.profile.tables:
                missing = [c for c in self._written(name) if c not in found.c]
                if missing:
                    raise TargetMisconfigured(
                        f"{name} has no column {', '.join(missing)}: the front-end database's tables are not DDL "
                        f"version {self.ddl_version!r} ({DDL_VARIABLE}); nothing was sent"
                    )
            self._tables[name] = found
        return self._tables[name]

    def _written(self, name: str) -> list[str]:
        """Every column the bridge writes in table ``name``: the profile's and the DDL version's."""
        sync, ddl = self.profile.sync, self.ddl
        renamed = ddl.rename.get(name, {})
        columns = [renamed.get(c, c) for c in self.profile.tables[name].columns]
        columns += [sync.row_key, sync.batch, sync.operation, sync.time, ddl.row_id.column, *ddl.housekeeping]
        columns += [c for c in (sync.origin.column if sync.origin else None, ddl.version) if c]
        return list(dict.fromkeys(columns))

    # ------------------------------------------------------------ writing
    def send(self, messages: list[OutboxMessage]) -> list[Delivery]:
        return self.send_in_transactions(messages, self.batch_size, self._send_batch)

    def _send_batch(self, messages: list[OutboxMessage]) -> list[Delivery]:
        chosen = self.profile
        cases = pd.DataFrame(
            [{**m.payload, "golden_case_id": m.golden_case_id, "version": m.version} for m in messages]
        )
        tables, held = case_rows(cases, chosen)
        batches = pd.Series(
            {(m.golden_case_id, m.version): batch_of(m.idempotency_key) for m in messages}, dtype="string"
        )
        now = self._clock()
        written: set[tuple[str, int]] = set()
        reasons = {(r.golden_case_id, int(r.version)): r.reason for r in held.itertuples()}
        with self._engine().begin() as conn:
            if self.ddl.row_id.by == "snowflake":
                self.ids.advance_past(self._highest_id(conn))  # above every id there, whoever wrote it
            for name, rows in tables.items():
                if len(rows):
                    written |= self._write(conn, name, rows, batches, now)
            if chosen.withdraw:
                for m in messages:
                    key = (m.golden_case_id, m.version)
                    numbers = [n for n in str(m.payload.get("withdrawn_numbers") or "").split(",") if n]
                    if numbers and key not in reasons and self._withdraw(conn, numbers, batches[key], now):
                        written.add(key)
        results = []
        for m in messages:
            key, batch = (m.golden_case_id, m.version), batch_of(m.idempotency_key)
            if key in reasons:
                results.append(Delivery(m.idempotency_key, "rejected", None, "HELD", reasons[key]))
            else:  # a version that changed nothing the province keeps (not yet accepted, say) has nothing to wait for
                results.append(Delivery(m.idempotency_key, "sent", batch if key in written else NOTHING + batch[1:]))
        return results

    def _highest_id(self, conn: sa.Connection) -> int | None:
        column = self.ddl.row_id.column
        found = [
            conn.execute(sa.select(sa.func.max(self._table(conn, name).c[column]))).scalar()
            for name in self.profile.tables
        ]
        return max((int(f) for f in found if f is not None), default=None)

    def _write(
        self, conn: sa.Connection, name: str, rows: pd.DataFrame, batches: pd.Series, now: dt.datetime
    ) -> set[tuple[str, int]]:
        """A case's versions in order: a row the province does not have is inserted; one whose content changed is
        written again under the same key (an update); an unchanged one, or one already written in this batch, is
        left alone."""
        chosen, sync = self.profile, self.profile.sync
        t = self._table(conn, name)
        rows = rows.rename(columns={"version": "_case_version", **self.ddl.rename.get(name, {})})
        columns = [c for c in rows.columns if c not in ("golden_case_id", "_case_version", sync.row_key)]
        rows["_batch"] = [
            batches[(g, int(v))] for g, v in zip(rows["golden_case_id"], rows["_case_version"], strict=True)
        ]
        rows = rows.sort_values(["golden_case_id", "_case_version"], kind="stable")
        rank = rows.groupby(sync.row_key).cumcount()
        delete = chosen.operations.get("delete")
        written: set[tuple[str, int]] = set()
        for step in range(int(rank.max()) + 1 if len(rank) else 0):
            wave = rows[rank == step].set_index(sync.row_key, drop=False)
            latest, present = self._latest(conn, t, wave[chosen.case_key].unique().tolist(), columns)
            live = latest[latest[sync.operation] != delete]  # a deleted row is written anew, not compared
            before = _comparable(live[columns], t)
            now_rows = _comparable(wave[columns], t)
            known = isin(now_rows.index, before.index)
            same = pd.Series(False, index=now_rows.index)
            if known.any():
                a, b = now_rows[known], before.loc[now_rows.index[known]]
                same[known] = (a.fillna("\x00") == b.fillna("\x00")).all(axis=1).to_numpy()
            # a re-send: its rows are there under its batch, so it did write them
            again = pd.Series(
                [(k, bt) in present for k, bt in zip(wave.index, wave["_batch"], strict=True)], index=wave.index
            )
            done = wave[again]
            written |= set(zip(done["golden_case_id"], done["_case_version"].astype(int), strict=True))
            out = wave[~(same | again)].copy()
            if out.empty:
                continue
            out[sync.operation] = [chosen.operations["update" if u else "insert"] for u in isin(out.index, live.index)]
            out[sync.batch] = out["_batch"]
            insert_frame(conn, t, self._stamped(out, latest, now))  # the table's columns only
            written |= set(zip(out["golden_case_id"], out["_case_version"].astype(int), strict=True))
        return written

    def _latest(
        self, conn: sa.Connection, t: sa.Table, numbers: list[str], columns: list[str]
    ) -> tuple[pd.DataFrame, set[tuple[str, str]]]:
        """The newest stored version of each row of the cases ``numbers`` (by row id, indexed by row key), and
        every (row key, batch) already there."""
        chosen, ddl, sync = self.profile, self.ddl, self.profile.sync
        kept = [c for c, h in ddl.housekeeping.items() if h.keep]
        read = list(
            dict.fromkeys([ddl.row_id.column, sync.row_key, sync.batch, sync.operation, *kept, *columns])
            | ({ddl.version: None} if ddl.version else {})
        )
        frames = [
            frame_of(conn.execute(sa.select(*(t.c[c] for c in read)).where(t.c[chosen.case_key].in_(part))))
            for part in in_lists(numbers)
        ]
        # an IN list that found nothing (new cases) has no types: it must not turn the others' numbers into objects
        found = [f for f in frames if len(f)]
        stored = pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=read)
        present = set(zip(stored[sync.row_key], stored[sync.batch], strict=True))
        newest = stored.sort_values(ddl.row_id.column).drop_duplicates(sync.row_key, keep="last")
        return newest.set_index(sync.row_key), present

    def _stamped(self, out: pd.DataFrame, latest: pd.DataFrame, now: dt.datetime) -> pd.DataFrame:
        """``out`` (indexed by row key) with the exchange and housekeeping columns every row carries: written now,
        its origin, a row id, the bridge's ids, and the row's version (one more than its stored newest)."""
        sync, ddl = self.profile.sync, self.ddl
        out = out.copy()
        out[sync.time] = now
        if sync.origin:
            out[sync.origin.column] = sync.origin.value
        earlier = isin(out.index, latest.index)
        issued = {"tenant_id": self.tenant_id, "org_id": self.org_id, "user_id": self.user_id}
        for column, how in ddl.housekeeping.items():
            if how.value == "now":
                out[column] = pd.Timestamp(now)
            else:
                if issued[how.value] is None:
                    raise ProfileError(
                        f"DDL version {self.ddl_version} fills {column} with the {how.value} the province issued: "
                        f"set ONE_NETWORK_{how.value.upper()}"
                    )
                out[column] = issued[how.value]
            if how.keep and earlier.any():  # the value the row's first version was written with
                first = latest[column].reindex(out.index[earlier])
                if how.value == "now":
                    first = pd.to_datetime(first)
                kept = first.fillna(out.loc[earlier, column]).astype(object).to_numpy()
                out[column] = out[column].astype(object)  # what was stored, as it was stored: no cast either way
                out.loc[earlier, column] = kept
        if ddl.version:
            previous = pd.to_numeric(latest[ddl.version].reindex(out.index), errors="coerce").fillna(0).astype(int)
            out[ddl.version] = (previous + 1).to_numpy()
        if ddl.row_id.by == "snowflake":
            out[ddl.row_id.column] = self.ids.take(len(out))
        else:
            out = out.drop(columns=[ddl.row_id.column], errors="ignore")  # the database numbers it
        return out

    def _withdraw(self, conn: sa.Connection, numbers: list[str], batch: str, now: dt.datetime) -> bool:
        """Tell the province the case no longer goes out under ``numbers``, in ``batch``: every row it holds under
        them again with the delete operation, children before the acceptance. True when that batch holds such rows
        (written now, or by an earlier send of the same version)."""
        chosen, sync, ddl = self.profile, self.profile.sync, self.ddl
        touched = False
        for name in reversed(chosen.tables):  # children first
            t = self._table(conn, name)
            held = pd.DataFrame(conn.execute(sa.select(t).where(t.c[chosen.case_key].in_(numbers))).mappings().all())
            if held.empty:
                continue
            if (held[sync.batch] == batch).any():
                touched = True  # a re-send: this version's withdrawal is written already
                continue
            latest = held.sort_values(ddl.row_id.column).drop_duplicates(sync.row_key, keep="last")
            latest = latest.set_index(sync.row_key, drop=False)
            out = latest[latest[sync.operation] != chosen.operations["delete"]].copy()
            if out.empty:
                continue
            out[sync.operation], out[sync.batch] = chosen.operations["delete"], batch
            insert_frame(conn, t, self._stamped(out, latest, now))
            touched = True
        return touched

    # ------------------------------------------------------------ answers
    def follow_up(self, messages: list[OutboxMessage]) -> list[Delivery]:
        """Per version: rejected when the province's feedback table names one of its rows (its error type and
        remark); acknowledged once every row it wrote has stood for the settling time unrefused; else no answer."""
        results = [
            Delivery(m.idempotency_key, "acknowledged", m.receipt_id)
            for m in messages
            if (m.receipt_id or "").startswith(NOTHING)
        ]
        by_batch = {batch_of(m.idempotency_key): m for m in messages if not (m.receipt_id or "").startswith(NOTHING)}
        if not by_batch:
            return results

        def read() -> tuple[pd.DataFrame, dict[str, tuple[str, str]]]:
            with self._engine().connect() as conn:
                written = self._rows_of(conn, list(by_batch))
                return written, self._refused(conn, written)

        # the province's own writer may hold its database for a moment: wait and read again, never fail the run
        written, refused = with_retries("one_network follow-up", read)
        settled_before = self._clock() - dt.timedelta(seconds=self.settle_seconds)
        newest = written.groupby("batch")["time"].max() if len(written) else pd.Series(dtype=object)
        for batch, message in by_batch.items():
            if batch in refused:
                code, reason = refused[batch]
                results.append(Delivery(message.idempotency_key, "rejected", batch, code, reason))
            elif batch in newest.index and pd.Timestamp(newest[batch]) <= pd.Timestamp(settled_before):
                results.append(Delivery(message.idempotency_key, "acknowledged", batch))
        return results

    def _rows_of(self, conn: sa.Connection, batches: list[str]) -> pd.DataFrame:
        """Every row the batches wrote: table, row key, batch, time written."""
        sync, frames = self.profile.sync, []
        for name in self.profile.tables:
            t = self._table(conn, name)
            for part in in_lists(batches):
                query = sa.select(t.c[sync.row_key], t.c[sync.batch], t.c[sync.time]).where(t.c[sync.batch].in_(part))
                frames.append(
                    pd.DataFrame(conn.execute(query).all(), columns=["row", "batch", "time"]).assign(table=name)
                )
        return pd.concat(frames, ignore_index=True)

    def _refused(self, conn: sa.Connection, written: pd.DataFrame) -> dict[str, tuple[str, str]]:
        """Per batch, the first of its rows the feedback table names: (error type, the province's words)."""
        if written.empty:
            return {}
        answers = self._refusal_rows(conn, written["batch"].unique().tolist())
        named = answers.merge(written[["table", "row", "batch"]], on=["table", "row", "batch"])
        return {
            r.batch: (str(r.code), f"{r.table}: {r.reason or '（省级未给出原因）'}")
            for r in named.drop_duplicates("batch").itertuples()
        }

    def _refusal_rows(self, conn: sa.Connection, batches: list[str] | None = None) -> pd.DataFrame:
        """Rows of the feedback table (those naming ``batches``, or all): table, row, batch, code, reason."""
        spec = self.profile.answers.refusals
        t = self._table(conn, spec.table)
        query = sa.select(t.c[spec.table_name], t.c[spec.row_key], t.c[spec.batch], t.c[spec.code], t.c[spec.reason])
        columns = ["table", "row", "batch", "code", "reason"]
        if batches is None:
            return pd.DataFrame(conn.execute(query).all(), columns=columns)
        frames = [
            pd.DataFrame(conn.execute(query.where(t.c[spec.batch].in_(part))).all(), columns=columns)
            for part in in_lists(batches)
        ]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)

    # ------------------------------------------------------------ holdings
    def verified_by(self) -> str:
        tables = list(self.profile.tables)
        shown = tables[0] + (f" and {len(tables) - 1} more" if len(tables) > 1 else "")
        return f"its tables ({shown}) by {self.profile.sync.time}, from the window's first day"

    def holdings(self, window: ReadWindow) -> pd.DataFrame | None:
        """What is in effect at the province among the rows written from ``window.written_from`` on (the tables'
        own time column, ``cd_time``; None: every row), row by row: per row key its newest version (by row id) that
        the province did not refuse, unless that is a delete; listed by case number and the batch that wrote it
        (``case_no``, ``receipt``), with ``repeats``: inserts of a row key beyond its first that the province did
        not refuse (a row taken twice). Which case version a batch was is the outbox's to say
        (:func:`delivery.reconcile.resolve_receipts`)."""
        chosen, sync, ddl = self.profile, self.profile.sync, self.ddl
        frames, read = [], [ddl.row_id.column, sync.row_key, chosen.case_key, sync.batch, sync.operation]
        with self._engine().connect() as conn:
            written = {}
            for name in chosen.tables:
                t = self._table(conn, name)
                query = sa.select(*(t.c[c] for c in read))
                if window.written_from is not None:
                    query = query.where(t.c[sync.time] >= window.written_from)
                written[name] = pd.DataFrame(conn.execute(query).all(), columns=read)
            batches = pd.concat(written.values())[sync.batch].dropna().astype(str).unique().tolist()
            refused = self._refusal_rows(conn, None if window.written_from is None else batches)
            for name, rows in written.items():
                named = refused[refused["table"] == name]
                out = pd.MultiIndex.from_frame(named[["row", "batch"]].astype(str))
                taken = rows[~pd.MultiIndex.from_frame(rows[[sync.row_key, sync.batch]].astype(str)).isin(out)]
                inserts = taken[taken[sync.operation] == chosen.operations["insert"]]
                extra = inserts.groupby(sync.row_key).size().sub(1).clip(lower=0)
                newest = taken.sort_values(ddl.row_id.column).drop_duplicates(sync.row_key, keep="last")
                newest = newest[newest[sync.operation] != chosen.operations.get("delete")]
                newest = newest.assign(repeats=newest[sync.row_key].map(extra).fillna(0).astype(int))
                frames.append(newest.rename(columns={chosen.case_key: "case_no", sync.batch: "receipt"}))
        listing = pd.concat(frames, ignore_index=True)
        repeats = listing.groupby("case_no")["repeats"].sum()
        listing = listing[["case_no", "receipt"]].drop_duplicates().reset_index(drop=True)
        first = ~listing["case_no"].duplicated()
        listing["repeats"] = np.where(first, listing["case_no"].map(repeats).fillna(0), 0).astype(int)
        return listing
