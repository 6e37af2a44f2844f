"""The province's audit of the national up_pro_* rows on its front-end database.

Each pass takes the rows the sender wrote that it has not judged yet (written before the cutoff, in row id order,
parents' tables first), checks each against the published definitions and the province's own code lists and rules
(:mod:`sandbox.province.rules`) and against what it already holds, and answers the way the published tables allow:

- a refused row gets a row in ``dn_audit_abnormal`` (its own housekeeping filled, naming the table, row_guid and
  batch, with the error type and the reason in the province's words);
- an accepted row stays where it is and says nothing: the sender learns it was taken by hearing nothing.

Beyond one row: an update or delete (``u``/``d``) must name a row the province holds; a process, result, special
procedure or material row must name a case whose acceptance it holds; a second ``i`` of a row_guid it holds is
refused. What it has judged it notes in its private ledger (:data:`sandbox.province.fixture.LEDGER`), which is no
part of the interface.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from sandbox.province.fixture import FEEDBACK, LEDGER, AuditedTable, audited, table
from sandbox.province.rules import DUPLICATE, NO_SUCH_ROW, NOT_ACCEPTED, Problem, check_row, reason

SHANGHAI = ZoneInfo("Asia/Shanghai")  # the province's wall clock, as the rows' cd_time
ACCEPTED, REFUSED = "accepted", "refused"
#: The province's own ids on the feedback rows it writes (its tenant, org and audit user): the stand-in's values.
PROVINCE_TENANT, PROVINCE_ORG, PROVINCE_USER = 320000, 320000001, 320000001001


AUDIT_CHUNK = 50  # rows judged in one transaction


def shanghai_now() -> dt.datetime:
    return dt.datetime.now(SHANGHAI).replace(tzinfo=None, microsecond=0)


def _cut(value: object, length: int) -> str | None:
    return None if value is None else str(value)[:length]


class NationalExchange:
    """The national sharing area's audit of up_pro_* rows (``version``: the DDL version of the tables)."""

    def __init__(self, engine: sa.Engine, version: str = "current", pause_seconds: float = 0.0) -> None:
        self.engine, self.version = engine, version
        self.pause_seconds = pause_seconds  # between two transactions of one pass (the running stand-in's)
        self.tables = audited(version)
        #: Per table, the lowest row id the audit has not judged yet: a pass reads from there, not the whole table
        #: (a pass reads everything once, after a restart).
        self.watermark: dict[str, int] = {}

    def _t(self, name: str) -> sa.Table:
        return table(name, self.version)

    def process_once(self, cutoff: dt.datetime) -> int:
        return sum(self._process_table(spec, cutoff) for spec in self.tables.values())

    def _unjudged(self, name: str):
        t, ledger = self._t(name), self._t(LEDGER)
        judged = sa.select(sa.literal(1)).where(ledger.c.table_sql_name == name, ledger.c.row_id == t.c.id)
        return ~sa.exists(judged)

    def _process_table(self, spec: AuditedTable, cutoff: dt.datetime) -> int:
        """Audit the rows of ``spec`` written up to ``cutoff`` and not judged yet, from the table's watermark on;
        the watermark then moves to the first row still unjudged (one too recent, or waiting for another)."""
        t = self._t(spec.name)
        since = self.watermark.get(spec.name)
        query = sa.select(t).where(self._unjudged(spec.name)).order_by(t.c.id)
        if since is not None:
            query = query.where(t.c.id >= since)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        left = [row["id"] for row in rows if row["cd_time"] is None or row["cd_time"] > cutoff]
        due = [row for row in rows if row["cd_time"] is not None and row["cd_time"] <= cutoff]
        taken = 0
        # a few rows a transaction, and a pause between them: a writer waiting on the lock (the bridge's) gets the
        # database in between, as with a real front end, rather than waiting out the whole audit
        for start in range(0, len(due), AUDIT_CHUNK):
            if start and self.pause_seconds:
                time.sleep(self.pause_seconds)
            with self.engine.begin() as conn:
                for row in due[start : start + AUDIT_CHUNK]:
                    judged = self._take(conn, spec, row)
                    taken += judged
                    if not judged:
                        left.append(row["id"])
        if left:
            self.watermark[spec.name] = min(left)
        elif rows:
            self.watermark[spec.name] = rows[-1]["id"] + 1
        return taken

    def _held(self, conn: sa.Connection, name: str, condition) -> set[str]:
        """The row_guids of ``name`` matching ``condition`` the province holds: their newest accepted row is no
        delete."""
        ledger = self._t(LEDGER)
        accepted = (
            sa.select(ledger.c.row_guid, ledger.c.cd_operation, ledger.c.row_id)
            .where(ledger.c.table_sql_name == name, ledger.c.outcome == ACCEPTED, condition(ledger))
            .order_by(ledger.c.row_id)
        )
        newest: dict[str, str] = {}
        for guid, operation, _ in conn.execute(accepted):
            newest[guid] = operation
        return {guid for guid, operation in newest.items() if operation != "d"}

    def _waiting(self, conn: sa.Connection, name: str, condition, before: int | None = None) -> bool:
        """Whether a row of ``name`` matching ``condition`` has arrived and is not judged yet (written before row
        id ``before``, where given)."""
        t = self._t(name)
        query = sa.select(t.c.id).where(condition(t), self._unjudged(name))
        if before is not None:
            query = query.where(t.c.id < before)
        return conn.execute(query.limit(1)).first() is not None

    def _state_problems(self, conn: sa.Connection, spec: AuditedTable, row: Mapping) -> list[Problem] | None:
        """What the row conflicts with in what the province holds; None while a row it depends on (the case's
        acceptance, the insert an update changes) has arrived but is not judged yet: the province takes rows in the
        order they depend on each other, not in the order its passes happen to read them."""
        guid, operation, case_no = row["row_guid"], row["cd_operation"], row["project_no"]
        held = bool(self._held(conn, spec.name, lambda t: t.c.row_guid == guid))
        problems = []
        if operation == "i" and held:
            problems.append(Problem("row_guid", DUPLICATE, f"记录{guid}已存在，不能重复新增"))
        elif operation in ("u", "d") and not held:
            if self._waiting(conn, spec.name, lambda t: t.c.row_guid == guid, before=row["id"]):
                return None
            problems.append(Problem("row_guid", NO_SUCH_ROW, f"修改或删除的记录{guid}不存在"))
        if operation == "d" and any(
            self._waiting(conn, child.name, lambda t: t.c.project_no == case_no)
            for child in self.tables.values()
            if child.parent == spec.name
        ):
            return None  # the case's rows that hang on this one go first, whatever order the pass reads tables in
        # taking back a held row needs no parent; anything else needs the case's acceptance held
        needs_parent = spec.parent is not None and operation != "d"
        if needs_parent and not self._held(conn, spec.parent, lambda t: t.c.project_no == case_no):
            if self._waiting(conn, spec.parent, lambda t: t.c.project_no == case_no):
                return None
            problems.append(Problem("project_no", NOT_ACCEPTED, f"办件{case_no}未受理，不能接收"))
        return problems

    def _take(self, conn: sa.Connection, spec: AuditedTable, row: Mapping) -> int:
        state = self._state_problems(conn, spec, row)
        if state is None:
            return 0  # taken on a later pass, once what it depends on is
        problems = check_row(spec, row) + state
        now = shanghai_now()
        if problems:
            self._answer(conn, spec, row, problems, now)
        conn.execute(
            self._t(LEDGER)
            .insert()
            .values(
                table_sql_name=spec.name,
                row_id=row["id"],
                row_guid=row["row_guid"],
                cd_batch=row["cd_batch"],
                cd_operation=row["cd_operation"],
                project_no=_cut(row.get("project_no"), 50),
                outcome=REFUSED if problems else ACCEPTED,
                err_type=problems[0].err_type if problems else None,
                processed_at=now,
            )
        )
        return 1

    def _answer(
        self, conn: sa.Connection, spec: AuditedTable, row: Mapping, problems: list[Problem], now: dt.datetime
    ) -> None:
        """The refusal, as a row of dn_audit_abnormal with every column its definition requires."""
        feedback = self._t(FEEDBACK)
        next_id = (conn.execute(sa.select(sa.func.max(feedback.c.id))).scalar() or 0) + 1
        conn.execute(
            feedback.insert().values(
                id=next_id,
                cd_time=now,
                create_org_id=PROVINCE_ORG,
                create_time=now,
                create_user_id=PROVINCE_USER,
                err_type=problems[0].err_type,
                remark=_cut(reason(problems), 1000),
                row_guid=uuid.uuid4().hex,
                table_cd_batch=_cut(row["cd_batch"], 32),
                table_cd_source=_cut(row["data_source"], 10) or "",
                table_cd_time=row["cd_time"],
                table_name=_cut(spec.definition.comment or spec.name, 50),
                table_row_guid=_cut(row["row_guid"], 50),
                table_sql_name=spec.name,
                table_update_time=now,
                tenant_id=PROVINCE_TENANT,
                update_org_id=PROVINCE_ORG,
                update_time=now,
                update_user_id=PROVINCE_USER,
                version=1,
            )
        )

    def holdings(self) -> list[dict]:
        """Per case the province holds (an acceptance in effect): its acceptance batch, how many process, special
        procedure and material rows it holds, its result code, and how many repeated inserts it refused."""
        counts: dict[str, Counter] = defaultdict(Counter)
        with self.engine.connect() as conn:
            ledger = self._t(LEDGER)
            rows = conn.execute(
                sa.select(
                    ledger.c.table_sql_name,
                    ledger.c.row_guid,
                    ledger.c.row_id,
                    ledger.c.cd_batch,
                    ledger.c.cd_operation,
                    ledger.c.project_no,
                    ledger.c.outcome,
                    ledger.c.err_type,
                ).order_by(ledger.c.row_id)
            ).all()
            newest = {}
            for name, guid, row_id, batch, operation, case_no, outcome, err_type in rows:
                if outcome == ACCEPTED:
                    newest[(name, guid)] = (row_id, batch, operation, case_no)
                elif err_type == DUPLICATE:
                    counts[case_no]["repeats"] += 1
            live = {key: value for key, value in newest.items() if value[2] != "d"}
            accepted = {case_no: batch for (name, _), (_, batch, _, case_no) in live.items() if name == "up_pro_accept"}
            results = {}
            result_ids = [row_id for (name, _), (row_id, *_rest) in live.items() if name == "up_pro_result"]
            if result_ids:
                t = self._t("up_pro_result")
                results = dict(
                    conn.execute(sa.select(t.c.project_no, t.c.result_type).where(t.c.id.in_(result_ids))).all()
                )
            for (name, _), (_, _, _, case_no) in live.items():
                counts[case_no][name] += 1
        return [
            {
                "case_no": case_no,
                "batch": batch,
                "process_rows": counts[case_no]["up_pro_process"],
                "special_rows": counts[case_no]["up_pro_special_procedure"],
                "material_rows": counts[case_no]["up_pro_material"],
                "result_type": results.get(case_no),
                "repeated_inserts_refused": counts[case_no]["repeats"],
            }
            for case_no, batch in sorted(accepted.items())
        ]

    def rejections(self) -> list[dict]:
        t = self._t(FEEDBACK)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(t).order_by(t.c.id)).mappings()]
