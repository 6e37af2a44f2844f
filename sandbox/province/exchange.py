"""The province's exchange process for the national family (up_pro_*) and the front-end family (PRE_*).

Each pass takes the rows the sender wrote since the last pass (older than the acknowledgement delay), checks each
against the province's definitions and code lists (:mod:`sandbox.province.rules`) and against what the province
already holds, and records the outcome the way the family does:

- national: an accepted row stays in its up_pro_* table and is copied into the mirror dn_pro_* (keyed by row_guid:
  the row as it now stands; ``d`` removes it); a refused row gets a ``dn_audit_abnormal`` row naming the table,
  row_guid, batch and the reason (err_type + remark).
- PRE: SYNC_STATUS goes from I to S, or to E with the reason in SYNC_ERROR.

Beyond one row: an update (``u``/``d``; PRE: DATAVERSION > 1) must name a row the province has accepted; a
process, result, special-procedure or material row (PRE: every child table) must name a case whose acceptance the
province has accepted; a second ``i`` of a row_guid it holds is refused.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Mapping

import sqlalchemy as sa

from sandbox.province.fixture import LEDGER, TableSpec, family, table
from sandbox.province.rules import DUPLICATE, NO_SUCH_ROW, NOT_ACCEPTED, Problem, check_row, reason

ACCEPTED, REFUSED, PENDING = "S", "E", "I"


def _now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


def _cut(value: object, length: int) -> str | None:
    return None if value is None else str(value)[:length]


class NationalExchange:
    """The national sharing area's intake of up_pro_* rows."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine, self.spec = engine, family("national")

    def process_once(self, cutoff: dt.datetime) -> int:
        return sum(self._process_table(spec, cutoff) for spec in self.spec.tables.values())

    def _process_table(self, spec: TableSpec, cutoff: dt.datetime) -> int:
        t, ledger = table(spec.name), table(LEDGER)
        seen = sa.select(sa.literal(1)).where(
            ledger.c.table_sql_name == spec.name, ledger.c.row_guid == t.c.row_guid, ledger.c.cd_batch == t.c.cd_batch
        )
        with self.engine.begin() as conn:
            rows = (
                conn.execute(
                    sa.select(t)
                    .where(~sa.exists(seen), t.c.cd_time <= cutoff)
                    .order_by(t.c.cd_time, t.c.cd_batch, t.c.row_guid)
                )
                .mappings()
                .all()
            )
            for row in rows:
                self._take(conn, spec, row)
        return len(rows)

    def _state_problems(self, conn: sa.Connection, spec: TableSpec, row: Mapping) -> list[Problem] | None:
        """What the row conflicts with in what the province holds; None while a row it depends on (the case's
        acceptance, the insert an update changes) has arrived but is not processed yet: the province takes rows
        in the order they depend on each other, not in the order its passes happen to read them."""
        mirror = table(self.spec.mirror_name(spec.name))
        held = conn.execute(sa.select(mirror.c.row_guid).where(mirror.c.row_guid == row["row_guid"])).first()
        problems = []
        if row["cd_operation"] == "i" and held:
            problems.append(Problem("row_guid", DUPLICATE, f"记录{row['row_guid']}已存在，不能重复新增"))
        elif row["cd_operation"] in ("u", "d") and not held:
            t = table(spec.name)
            if self._waiting(conn, spec.name, (t.c.row_guid == row["row_guid"]) & (t.c.cd_operation == "i")):
                return None
            problems.append(Problem("row_guid", NO_SUCH_ROW, f"修改或删除的记录{row['row_guid']}不存在"))
        if row["cd_operation"] == "d" and any(
            self._waiting(conn, child.name, table(child.name).c.project_no == row["project_no"])
            for child in self.spec.tables.values()
            if child.parent == spec.name
        ):
            return None  # the case's rows that hang on this one go first, whatever order the pass reads tables in
        if spec.parent and row["cd_operation"] != "d":  # taking back a held row needs no parent
            parent = table(self.spec.mirror_name(spec.parent))
            if not conn.execute(sa.select(parent.c.row_guid).where(parent.c.project_no == row["project_no"])).first():
                if self._waiting(conn, spec.parent, table(spec.parent).c.project_no == row["project_no"]):
                    return None
                problems.append(Problem("project_no", NOT_ACCEPTED, f"办件{row['project_no']}未受理，不能接收"))
        return problems

    @staticmethod
    def _waiting(conn: sa.Connection, name: str, condition) -> bool:
        """Whether a row of ``name`` matching ``condition`` has arrived and not been processed yet."""
        t, ledger = table(name), table(LEDGER)
        seen = sa.select(sa.literal(1)).where(
            ledger.c.table_sql_name == name, ledger.c.row_guid == t.c.row_guid, ledger.c.cd_batch == t.c.cd_batch
        )
        return conn.execute(sa.select(t.c.row_guid).where(condition, ~sa.exists(seen)).limit(1)).first() is not None

    def _take(self, conn: sa.Connection, spec: TableSpec, row: Mapping) -> None:
        state = self._state_problems(conn, spec, row)
        if state is None:
            return  # taken on a later pass, once what it depends on is
        problems = check_row(spec, row) + state
        now = _now()
        mirror = table(self.spec.mirror_name(spec.name))
        if not problems:
            conn.execute(mirror.delete().where(mirror.c.row_guid == row["row_guid"]))
            if row["cd_operation"] != "d":
                conn.execute(mirror.insert().values(**dict(row), update_time=now))
        else:
            conn.execute(
                table(self.spec.abnormal.name)
                .insert()
                .values(
                    err_type=problems[0].err_type,
                    table_sql_name=spec.name,
                    table_row_guid=_cut(row["row_guid"], 50),
                    table_cd_batch=_cut(row["cd_batch"], 32),
                    table_cd_source=_cut(row["data_source"], 3),
                    table_cd_time=row["cd_time"],
                    table_update_time=now,
                    remark=_cut(reason(problems), 2000),
                )
            )
        conn.execute(
            table(LEDGER)
            .insert()
            .values(
                table_sql_name=spec.name,
                row_guid=row["row_guid"],
                cd_batch=row["cd_batch"],
                project_no=_cut(row.get("project_no"), 50),
                outcome="rejected" if problems else "accepted",
                err_type=problems[0].err_type if problems else None,
                processed_at=now,
            )
        )

    def holdings(self) -> list[dict]:
        """Per case the province holds (accepted in dn_pro_accept): its acceptance batch, how many process,
        special-procedure and material rows it holds, its result code, and how many repeated inserts it refused."""
        counts: dict[str, Counter] = defaultdict(Counter)
        results: dict[str, str] = {}
        with self.engine.connect() as conn:
            accepted = conn.execute(sa.select(table("dn_pro_accept").c["project_no", "cd_batch"])).all()
            for name in ("dn_pro_process", "dn_pro_special_procedure", "dn_pro_material"):
                t = table(name)
                for case_no, n in conn.execute(sa.select(t.c.project_no, sa.func.count()).group_by(t.c.project_no)):
                    counts[case_no][name] = n
            t = table("dn_pro_result")
            for case_no, code in conn.execute(sa.select(t.c.project_no, t.c.result_type)):
                results[case_no] = code
            ledger = table(LEDGER)
            for case_no, n in conn.execute(
                sa.select(ledger.c.project_no, sa.func.count())
                .where(ledger.c.err_type == DUPLICATE)
                .group_by(ledger.c.project_no)
            ):
                counts[case_no]["repeats"] = n
        return [
            {
                "case_no": case_no,
                "batch": batch,
                "process_rows": counts[case_no]["dn_pro_process"],
                "special_rows": counts[case_no]["dn_pro_special_procedure"],
                "material_rows": counts[case_no]["dn_pro_material"],
                "result_type": results.get(case_no),
                "repeated_inserts_refused": counts[case_no]["repeats"],
            }
            for case_no, batch in sorted(accepted)
        ]

    def rejections(self) -> list[dict]:
        t = table(self.spec.abnormal.name)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(t).order_by(t.c.abnormal_id)).mappings()]


class PreExchange:
    """The provincial front-end database's exchange of PRE_* rows (SYNC_STATUS I -> S / E)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine, self.spec = engine, family("pre")

    def process_once(self, cutoff: dt.datetime) -> int:
        return sum(self._process_table(spec, cutoff) for spec in self.spec.tables.values())

    def _process_table(self, spec: TableSpec, cutoff: dt.datetime) -> int:
        t = table(spec.name)
        with self.engine.begin() as conn:
            rows = (
                conn.execute(
                    sa.select(t)
                    .where(t.c.SYNC_STATUS == PENDING, cutoff >= t.c.CTRTIME)
                    .order_by(t.c.CTRTIME, t.c.DATAVERSION)
                )
                .mappings()
                .all()
            )
            taken = 0
            for row in rows:
                state = self._state_problems(conn, spec, row)
                if state is None:
                    continue  # left pending for a later pass, once what it depends on is taken
                problems = check_row(spec, row) + state
                conn.execute(
                    t.update()
                    .where(*(t.c[k] == row[k] for k in spec.primary_key))
                    .values(
                        SYNC_STATUS=REFUSED if problems else ACCEPTED,
                        SYNC_ERROR=_cut(reason(problems), 2000) if problems else None,
                    )
                )
                taken += 1
        return taken

    def _state_problems(self, conn: sa.Connection, spec: TableSpec, row: Mapping) -> list[Problem] | None:
        """What the row conflicts with in what the province holds; None while a row it depends on (the earlier
        version, the case's PRE_APASINFO row) has arrived and is still pending: the province takes rows in the
        order they depend on each other, not in the order its passes happen to read the tables."""
        t, problems = table(spec.name), []
        version = row["DATAVERSION"]
        if isinstance(version, int) and version > 1:
            same = [t.c[k] == row[k] for k in spec.primary_key if k != "DATAVERSION"]
            earlier = sa.select(t.c.SYNC_STATUS).where(*same, version > t.c.DATAVERSION)
            states = {s for (s,) in conn.execute(earlier)}
            if ACCEPTED not in states:
                if PENDING in states:
                    return None
                problems.append(Problem("DATAVERSION", NO_SUCH_ROW, f"数据版本{version}的前一版本不存在，不能修改"))
        if spec.parent:
            parent = table(spec.parent)
            states = {
                s for (s,) in conn.execute(sa.select(parent.c.SYNC_STATUS).where(row["PROJID"] == parent.c.PROJID))
            }
            if ACCEPTED not in states:
                if PENDING in states:
                    return None
                problems.append(Problem("PROJID", NOT_ACCEPTED, f"办件{row['PROJID']}未受理，不能接收"))
        return problems

    def holdings(self) -> list[dict]:
        """Per case the province holds (an accepted PRE_APASINFO row, not 作废 in its newest): its newest accepted
        DATAVERSION, whether
        its acceptance is held, how many process steps, its result code, and how many of its rows it refused."""
        cases: dict[str, dict] = {}
        with self.engine.connect() as conn:
            t = table("PRE_APASINFO")
            newest = (
                sa.select(t.c.PROJID, sa.func.max(t.c.DATAVERSION).label("version"))
                .where(t.c.SYNC_STATUS == ACCEPTED)
                .group_by(t.c.PROJID)
                .subquery()
            )
            for case_no, version, state in conn.execute(
                sa.select(newest.c.PROJID, newest.c.version, t.c.DATASTATE).join(
                    t, (t.c.PROJID == newest.c.PROJID) & (newest.c.version == t.c.DATAVERSION)
                )
            ):
                if state == "0":
                    continue  # 作废: the case is no longer held under this number
                cases[case_no] = {
                    "case_no": case_no,
                    "version": version,
                    "accepted": False,
                    "node_rows": 0,
                    "result_code": None,
                    "refused_rows": 0,
                }
            t = table("PRE_ACCEPT")
            for (case_no,) in conn.execute(sa.select(t.c.PROJID).where(t.c.SYNC_STATUS == ACCEPTED).distinct()):
                if case_no in cases:
                    cases[case_no]["accepted"] = True
            t = table("PRE_NODE")
            steps = sa.select(t.c.PROJID, t.c.NODE_NAME).where(t.c.SYNC_STATUS == ACCEPTED).distinct()
            for case_no, *_ in conn.execute(steps):
                if case_no in cases:
                    cases[case_no]["node_rows"] += 1
            t = table("PRE_TRANSACT")
            for case_no, code in conn.execute(
                sa.select(t.c.PROJID, t.c.RESULT_CODE).where(t.c.SYNC_STATUS == ACCEPTED).order_by(t.c.DATAVERSION)
            ):
                if case_no in cases:
                    cases[case_no]["result_code"] = code
            for name in self.spec.tables:
                t = table(name)
                for case_no, n in conn.execute(
                    sa.select(t.c.PROJID, sa.func.count()).where(t.c.SYNC_STATUS == REFUSED).group_by(t.c.PROJID)
                ):
                    if case_no in cases:
                        cases[case_no]["refused_rows"] += n
        return [cases[k] for k in sorted(cases)]

    def rejections(self) -> list[dict]:
        """Every refused row: table, key and the province's text."""
        found = []
        with self.engine.connect() as conn:
            for name, spec in self.spec.tables.items():
                t = table(name)
                keys = [t.c[k] for k in spec.primary_key]
                for row in conn.execute(sa.select(*keys, t.c.SYNC_ERROR).where(t.c.SYNC_STATUS == REFUSED)).mappings():
                    found.append({"table": name, **dict(row)})
        return found
