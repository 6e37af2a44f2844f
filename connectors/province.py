"""The province's case tables as configuration: a golden case's life as rows in the tables of a profile.

A profile (``connectors/profiles/<name>.yaml``; ``national`` = the national ``up_pro_*`` tables) names its tables,
which rows each holds and where each column's value comes from: a field of the case, a code list
(``schemas/codelists``, the profile's column) or a constant. :func:`case_rows` turns golden-case versions into
those rows, vectorised:

- ``acceptance``: one row per case once it is accepted;
- ``step``: one row per process step that has happened (受理, 决定, 办结; 退件 and 不予受理 as their own steps);
- ``result``: one row when the case has ended;
- ``pause``: one row per 特别程序 (补正, 听证 …) once it has ended.

Each row's key is derived from the 办件编号, the table and the step (a UUID 5), so the same row of a later version
is an update under the same key. A version that cannot be written as the profile demands (a code with no mapping,
a required value missing, a value too long) is held back whole, with a reason a clerk can act on: the province
never gets half a case, nor a guessed code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import uuid
from functools import cache
from pathlib import Path
from typing import Literal, TypeVar

import pandas as pd
import sqlalchemy as sa
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from connectors.targets import NOTHING, Delivery, DeliveryTarget, OutboxMessage
from core import settings
from core.warehouse import insert_frame
from resolution.golden import GOLDEN_FIELDS
from schemas.case import COMPLETED_STATUSES, PAUSE_GROUNDS, departments, items, places
from schemas.codelists import translate, unmapped_reason

PROFILES_DIR = Path(__file__).parent / "profiles"
PROFILE_VARIABLE = "BRIDGE_PROVINCE_PROFILE"
DEFAULT_PROVINCE_PROFILE = "national"
INTERIM = "interim"  # the bridge's earlier one-table layout (connectors.exchange.EX_CASE_INFO)
ROW_NAMESPACE = uuid.UUID("6f1c2d2e-5b8a-4c39-9a1e-0d6b3f0e2a11")  # the bridge's namespace for row keys
RowKind = Literal["acceptance", "step", "result", "pause"]
Loaded = TypeVar("Loaded", bound=BaseModel)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnMap(_Strict):
    field: str | None = None  # a column of the case facts (case_facts)
    value: str | None = None  # a constant
    codes: str | None = None  # the code list the field's value goes through
    # what a required column takes where the case does not know the field (never for a value with no code): for
    # a column whose receiver has no "unknown", such as a yes/no flag (docs/delivery.md)
    default: str | None = None
    required: bool = False
    length: int | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ColumnMap:
        if (self.field is None) == (self.value is None):
            raise ValueError("a column takes its value from exactly one of field or value")
        if self.codes and self.field is None:
            raise ValueError("codes translate a field")
        if self.default is not None and self.field is None:
            raise ValueError("default stands in for a field the case does not know")
        return self


class TableMap(_Strict):
    rows: RowKind
    key: list[str] | None = None  # the columns naming a row among its versions, where sync has no row_key
    columns: dict[str, ColumnMap]

    @model_validator(mode="after")
    def _key_is_a_column(self) -> TableMap:
        missing = [k for k in self.key or () if k not in self.columns]
        if missing:
            raise ValueError(f"key columns {missing} are not columns of the table")
        return self


class SyncColumns(_Strict):
    """The exchange columns every row carries. A family keys a row's versions in one of two ways: a generated key
    column (``row_key``: national row_guid, a UUID 5 of 办件编号, table and step) with an operation code per write;
    or the table's own key columns (``TableMap.key``) with a version counter (``version``: PRE DATAVERSION, 1 on
    the first write and one more per change) and a status column the sender sets to ``pending``."""

    row_key: str | None = None
    version: str | None = None
    batch: str
    operation: str | None = None
    time: str
    source: str | None = None
    source_value: str | None = None
    status: str | None = None
    pending: str | None = None

    @model_validator(mode="after")
    def _one_way(self) -> SyncColumns:
        if (self.row_key is None) == (self.version is None):
            raise ValueError("sync names exactly one of row_key (a generated key) or version (a version counter)")
        if self.row_key and not self.operation:
            raise ValueError("a family keyed by row_key writes an operation code: name sync.operation")
        if (self.status is None) != (self.pending is None):
            raise ValueError("sync.status and sync.pending go together")
        return self


class Mirror(_Strict):
    replace: str  # up_pro_accept → dn_pro_accept
    with_: str = Field(alias="with")

    def of(self, table: str) -> str:
        return self.with_ + table.removeprefix(self.replace)


class ErrorTable(_Strict):
    table: str
    table_name: str
    row_key: str
    batch: str
    code: str
    reason: str


class StatusAnswer(_Strict):
    """The province answers on the row itself: ``column`` turns ``accepted`` or ``refused``, the reason in
    ``reason``."""

    column: str
    accepted: str
    refused: str
    reason: str


class Answers(_Strict):
    mirror: Mirror | None = None
    errors: ErrorTable | None = None
    status: StatusAnswer | None = None

    @model_validator(mode="after")
    def _one_way(self) -> Answers:
        if self.status is None and (self.mirror is None or self.errors is None):
            raise ValueError("answers: either status, or mirror and errors")
        if self.status is not None and (self.mirror or self.errors):
            raise ValueError("answers: either status, or mirror and errors, not both")
        return self


class Withdraw(_Strict):
    """How the province is told a case number is no longer in use (the department's own number replaced the
    bridge's): ``delete``, every row held under it sent again with the delete operation; or ``void``, the next
    version of ``table``'s row with ``column`` set to ``value`` (PRE_APASINFO.DATASTATE 0 作废)."""

    by: Literal["delete", "void"]
    table: str | None = None
    column: str | None = None
    value: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> Withdraw:
        if self.by == "void" and not (self.table and self.column and self.value is not None):
            raise ValueError("withdraw by void names table, column and value")
        return self


class Profile(_Strict):
    name: str
    title: str
    codes: str  # the code lists' column for this profile
    sync: SyncColumns
    operations: dict[Literal["insert", "update", "delete"], str] = Field(default_factory=dict)
    case_key: str
    tables: dict[str, TableMap]
    answers: Answers
    withdraw: Withdraw | None = None

    @model_validator(mode="after")
    def _keys(self) -> Profile:
        if self.sync.row_key is None:
            unkeyed = [name for name, spec in self.tables.items() if not spec.key]
            if unkeyed:
                raise ValueError(f"tables {unkeyed} need key columns: sync has no row_key")
        elif not {"insert", "update"} <= set(self.operations):
            raise ValueError("operations must name insert and update")
        unknown = [name for name, spec in self.tables.items() if self.case_key not in spec.columns]
        if unknown:
            raise ValueError(f"tables {unknown} have no case_key column {self.case_key!r}")
        by = self.withdraw.by if self.withdraw else None
        if by == "delete" and ("delete" not in self.operations or not self.sync.row_key):
            raise ValueError("withdraw by delete needs a row_key family with a delete operation")
        if by == "void" and (self.withdraw.table not in self.tables or not self.sync.version):
            raise ValueError("withdraw by void names one of the tables, in a family with a version counter")
        return self

    def version_order(self) -> list[str]:
        """The columns that order a row's versions: the version counter, else the sync time and batch."""
        return [self.sync.version] if self.sync.version else [self.sync.time, self.sync.batch]

    def keys(self, table: str) -> list[str]:
        """The columns that name a row of ``table`` among its versions."""
        return [self.sync.row_key] if self.sync.row_key else list(self.tables[table].key or ())


class ProfileError(ValueError):
    """A profile file that cannot be used; the message names the file and the problem."""


def load_file(model: type[Loaded], directory: Path, name: str, what: str, error: type[ValueError]) -> Loaded:
    """``<directory>/<name>.yaml`` read as ``model``; a missing file raises ``error`` naming what there is (``what``:
    e.g. ``province profile``), a broken one names the file and the problem, in one line."""
    path = directory / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in directory.glob("*.yaml"))) or "none"
        raise error(f"no {what} {name!r} in {directory} ({what.split()[-1]}s: {known})")
    try:
        return model.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValueError) as problem:
        raise error(f"{path}: {' '.join(str(problem).splitlines()[:3])}") from None


@cache
def profile(name: str, directory: Path = PROFILES_DIR) -> Profile:
    return load_file(Profile, directory, name, "province profile", ProfileError)


def province_profile() -> str:
    """``BRIDGE_PROVINCE_PROFILE`` (default ``national``), checked: a profile file, or ``interim``."""
    name = os.environ.get(PROFILE_VARIABLE, "").strip() or DEFAULT_PROVINCE_PROFILE
    if name == INTERIM and settings.is_production():
        raise ProfileError(
            f"{PROFILE_VARIABLE}=interim: the earlier one-table layout keys cases by the bridge's internal id, "
            "not the 办件编号; production speaks the province's tables (national or pre)"
        )
    if name != INTERIM:
        profile(name)  # refuses an unknown or broken profile when the definitions load, naming the file
    return name


# ---------------------------------------------------------------- the case's facts
#: What the profiles may read of a case version: its canonical fields, its 办件编号 and the numbers it no longer
#: goes out under (absent ones read as blank).
CASE_FIELDS = (*GOLDEN_FIELDS, "project_no", "withdrawn_numbers", "pauses", "evaluation")
RESULT_OF_STATUS = {"办结": "approved", "送达": "approved", "退件": "returned", "不予受理": "not_accepted"}
ENDED = (*COMPLETED_STATUSES, "退件", "不予受理")
STEPS = (  # step, its name, its action, the time it ended at, the time it started from
    ("accept", "受理", "accept", "accepted_at", "submitted_at"),
    ("decide", "审查决定", "decide", "decided_at", "accepted_at"),
    ("complete", "办结", "complete", "completed_at", "decided_at"),
)


def case_facts(cases: pd.DataFrame) -> pd.DataFrame:
    """The golden-case versions (canonical payload columns plus golden_case_id, version) with what the profiles
    read besides: the item's 实施编码, version and case type from the catalogue, the department's name, the result."""
    facts = cases.reindex(columns=list(dict.fromkeys([*cases.columns, *CASE_FIELDS])))
    for column in ("submitted_at", "accepted_at", "decided_at", "completed_at"):
        facts[column] = pd.to_datetime(facts[column])
    catalogue = items().reset_index().drop_duplicates("item_code").set_index("item_code")
    for column in ("task_code", "task_version", "case_type", "promised_unit"):
        facts[column] = facts["item_code"].map(catalogue[column]) if column in catalogue else pd.NA
    region = places().set_index("place_code")["region_code"]
    facts["accepting_place_region"] = facts["accepting_place"].map(region).astype("string")
    names = departments().set_index("department_code")["department_name"]
    facts["handling_dept_name"] = facts["handling_dept"].map(names)
    # 手机 (11 digits from 1): a landline (0519-…) is a phone, not a mobile, and is left out, not cut
    digits = facts["contact_phone"].astype("string").str.replace(r"[\s\-+]", "", regex=True).str.removeprefix("86")
    facts["contact_mobile"] = digits.where(digits.str.fullmatch(r"1[3-9]\d{9}").fillna(False).astype(bool))
    # enterprise or not, from the applicant's USCC (GB 32100: 登记管理部门 9 + 机构类别 1 = 企业); a legal person
    # without a USCC has no class, and the profiles that need one hold the case with the reason
    uscc = facts["applicant_id"].astype("string").where(facts["applicant_id_kind"].eq("uscc").fillna(False))
    legal = facts["applicant_type"].eq("legal_person").fillna(False)
    facts["applicant_class"] = (
        pd.Series(pd.NA, index=facts.index, dtype="string")
        .mask(facts["applicant_type"].eq("natural_person").fillna(False), "natural_person")
        .mask(legal & uscc.notna(), "non_enterprise")
        .mask(legal & uscc.str.startswith("91").fillna(False), "enterprise")
    )
    ended = facts["status"].isin(ENDED)
    facts["result"] = facts["status"].map(RESULT_OF_STATUS).where(ended)
    # 满意度: the level of the 好差评 evaluation that stands for the case, once it has one (schemas.feeds)
    facts["satisfaction"] = pd.Series(
        [e.get("level") if isinstance(e, dict) else None for e in facts["evaluation"]],
        index=facts.index,
        dtype="string",
    )
    # a case that ended without a completion time (退件, 不予受理) ends when it was decided
    facts["completed_at"] = facts["completed_at"].where(~ended, facts["completed_at"].fillna(facts["decided_at"]))
    return facts


def life_rows(facts: pd.DataFrame, kind: RowKind) -> pd.DataFrame:
    """The rows of one kind: each with ``step`` (the row's part of the case) and the facts it reads."""
    accepted = facts["accepted_at"].notna() & facts["project_no"].notna()
    if kind == "acceptance":
        return facts[accepted].assign(step="accept")
    if kind == "pause":
        return _pause_rows(facts[accepted])
    if kind == "result":
        return facts[accepted & facts["result"].notna() & facts["completed_at"].notna()].assign(step="result")
    parts = []
    for step, name, action, end, start in STEPS:
        happened = facts[accepted & facts[end].notna()]
        begun = happened[start].fillna(happened["accepted_at"]).fillna(happened[end])
        parts.append(
            happened.assign(step=step, step_name=name, step_action=action, step_start=begun, step_end=happened[end])
        )
    steps = pd.concat(parts, ignore_index=True)
    # a case returned or refused after acceptance: its last step is the return, not a decision to grant
    refused = steps["step"].eq("decide") & steps["result"].isin(["returned", "not_accepted"])
    actions = {"returned": "return", "not_accepted": "not_accept"}
    steps.loc[refused, "step_action"] = steps.loc[refused, "result"].map(actions)
    return steps


def _pause_rows(facts: pd.DataFrame) -> pd.DataFrame:
    """One row per 特别程序 that has ended (``pause_kind``, ``pause_start``, ``pause_end``, ``pause_reason``): a
    pause still running has no end to report yet and goes out with the version that closes it."""
    columns = [*facts.columns, "step", "pause_kind", "pause_start", "pause_end", "pause_reason"]
    has = pd.Series([isinstance(v, list) and len(v) > 0 for v in facts["pauses"]], index=facts.index, dtype=bool)
    listed = facts.loc[has, "pauses"]
    if listed.empty:
        return pd.DataFrame(columns=columns)
    rows = facts.loc[listed.index].assign(_pause=listed).explode("_pause").reset_index(drop=True)
    items = pd.json_normalize(rows["_pause"].tolist()).reindex(columns=["kind", "start", "end"])
    rows = rows.drop(columns="_pause").assign(
        pause_kind=items["kind"].astype("string"),
        pause_start=pd.to_datetime(items["start"]),
        pause_end=pd.to_datetime(items["end"]),
        pause_reason=items["kind"].map(PAUSE_GROUNDS).astype("string"),
    )
    rows["step"] = "pause|" + rows["pause_kind"].fillna("") + "|" + rows["pause_start"].dt.strftime("%Y%m%d%H%M%S")
    return rows[rows["pause_end"].notna() & rows["pause_start"].notna()]


def row_keys(case_keys: pd.Series, table: str, steps: pd.Series) -> pd.Series:
    """A row's key, the same for every version of the case: UUID 5 of 办件编号, table and step (36 characters)."""
    names = case_keys.astype(str) + "|" + table + "|" + steps.astype(str)
    return pd.Series([str(uuid.uuid5(ROW_NAMESPACE, n)) for n in names], index=case_keys.index, dtype="string")


# ---------------------------------------------------------------- rows
def case_rows(cases: pd.DataFrame, chosen: Profile) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """(rows per table, held): each table's rows with ``golden_case_id``, ``version``, the row key column and the
    profile's columns; ``held``: golden_case_id, version, reason for versions kept back."""
    facts = case_facts(cases)
    tables: dict[str, pd.DataFrame] = {}
    problems: list[pd.DataFrame] = []
    for name, spec in chosen.tables.items():
        source = life_rows(facts, spec.rows)
        rows = pd.DataFrame(
            {"golden_case_id": source["golden_case_id"], "version": source["version"]}, index=source.index
        )
        if chosen.sync.row_key:
            rows[chosen.sync.row_key] = row_keys(source["project_no"], name, source["step"])
        for column, how in spec.columns.items():
            rows[column], found = column_values(source, how, chosen.codes, f"{name}.{column}")
            problems += found
        tables[name] = rows
    held = (
        pd.concat(problems, ignore_index=True).drop_duplicates(["golden_case_id", "version"])
        if problems
        else pd.DataFrame(columns=["golden_case_id", "version", "reason"])
    )
    unnumbered = facts[facts["project_no"].isna() & facts["accepted_at"].notna()]
    if len(unnumbered):
        reason = "办件没有办件编号：事项缺少实施编码（事项目录），请补充后重新推送"
        held = pd.concat([held, _held(unnumbered, reason)], ignore_index=True)
        held = held.drop_duplicates(["golden_case_id", "version"])
    held_keys = pd.MultiIndex.from_frame(held[["golden_case_id", "version"]].astype({"version": "int64"}))
    for name, rows in tables.items():
        keys = pd.MultiIndex.from_frame(rows[["golden_case_id", "version"]].astype({"version": "int64"}))
        tables[name] = rows[~keys.isin(held_keys)].reset_index(drop=True)
    return tables, held.reset_index(drop=True)


def column_values(
    source: pd.DataFrame, how: ColumnMap, codes_of: str, label: str
) -> tuple[pd.Series | str, list[pd.DataFrame]]:
    """One column of a receiver's rows from the case facts, and the versions it holds back (golden_case_id,
    version, reason): a code with no mapping in the receiver's list, a required value missing, a value too long.
    ``codes_of`` is the code lists' column for the receiver; ``label`` names the column in the reasons."""
    if how.value is not None:
        return how.value, []
    problems = []
    values = source[how.field]
    unknown = values.isna()
    if how.codes:
        codes, unmapped = translate(how.codes, codes_of, values.astype("string"))
        for value in values[unmapped].astype(str).unique():
            bad = unmapped & (values.astype(str) == value)
            problems.append(_held(source[bad], unmapped_reason(how.codes, codes_of, value)))
        values = codes.mask(codes == "")
    if how.default is not None:
        values = values.astype("string").mask(unknown.to_numpy(), how.default)
    text = values.astype("string")
    if how.required:
        missing = values.isna() | text.str.strip().eq("").fillna(False)
        if missing.any():
            reason = f"{label} 为必填项，但办件的 {how.field} 为空：请在源系统中补全"
            problems.append(_held(source[missing], reason))
    if how.length:
        long = text.str.len().gt(how.length).fillna(False)
        if long.any():
            problems.append(_held(source[long], f"{label} 超过 {how.length} 个字符（{how.field}）：请在源系统中核对"))
    return values, problems


def _held(source: pd.DataFrame, reason: str) -> pd.DataFrame:
    return pd.DataFrame({"golden_case_id": source["golden_case_id"], "version": source["version"], "reason": reason})


# ---------------------------------------------------------------- the target
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


def _identity(frame: pd.DataFrame, keys: list[str], table: sa.Table) -> pd.Series:
    """A row's name among its versions, from its key columns, the same whether it came from a case or back from
    the province's table."""
    text = _comparable(frame[keys], table).fillna("")
    name = text[keys[0]]
    for key in keys[1:]:
        name = name + "\x1f" + text[key]
    return name


def _newest(frame: pd.DataFrame, chosen: Profile) -> pd.DataFrame:
    """Each row's newest version (``frame`` carries ``_key``): by the version counter, else by time and batch."""
    return frame.sort_values(chosen.version_order()).drop_duplicates("_key", keep="last")


class ProvinceTableTarget(DeliveryTarget):
    """江苏政务服务网 through the province's case tables on the front-end database, as a profile declares them
    (``connectors/profiles/<profile>.yaml``). The province owns the database and its tables: the bridge reads
    their definitions and writes and reads rows, nothing else."""

    url: str = Field(description="SQLAlchemy URL of the front-end database; credentials via environment")
    profile_name: str = Field(default="national", description="connectors/profiles/<name>.yaml")
    batch_size: int = Field(default=1000, description="versions per transaction (benchmarks/province.py)")

    _engine_cache: sa.Engine | None = PrivateAttr(default=None)
    _tables: dict[str, sa.Table] = PrivateAttr(default_factory=dict)

    @property
    def profile(self) -> Profile:
        return profile(self.profile_name)

    def _engine(self) -> sa.Engine:
        if self._engine_cache is None:
            self._engine_cache = sa.create_engine(self.url, pool_pre_ping=True)
        return self._engine_cache

    def format_name(self) -> str:
        return f"profile {self.profile_name}: {self.profile.title}"

    def _table(self, conn: sa.Connection, name: str) -> sa.Table:
        if name not in self._tables:
            self._tables[name] = sa.Table(name, sa.MetaData(), autoload_with=conn)
        return self._tables[name]

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
        now = dt.datetime.now().replace(microsecond=0)
        written: set[tuple[str, int]] = set()
        reasons = {(r.golden_case_id, int(r.version)): r.reason for r in held.itertuples()}
        with self._engine().begin() as conn:
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

    def _write(
        self, conn: sa.Connection, name: str, rows: pd.DataFrame, batches: pd.Series, now: dt.datetime
    ) -> set[tuple[str, int]]:
        """A case's versions in order: a row the province does not have is inserted; one whose content changed is
        written again under the same key (an update: the operation code, or the next version number); an
        unchanged one, or one already written in this batch, is left alone."""
        chosen = self.profile
        sync, keys = chosen.sync, chosen.keys(name)
        t = self._table(conn, name)
        columns = [c for c in rows.columns if c not in ("golden_case_id", "version", sync.row_key)]
        rows = rows.assign(
            _batch=[batches[(g, int(v))] for g, v in zip(rows["golden_case_id"], rows["version"], strict=True)]
        )
        rows["_key"] = _identity(rows, keys, t)
        rows = rows.sort_values(["golden_case_id", "version"])
        rank = rows.groupby("_key").cumcount()
        written: set[tuple[str, int]] = set()
        for step in range(int(rank.max()) + 1 if len(rank) else 0):
            wave = rows[rank == step].set_index("_key")
            read = list(dict.fromkeys([*keys, sync.batch, *chosen.version_order(), *columns]))
            latest = pd.DataFrame(
                conn.execute(
                    sa.select(*(t.c[c] for c in read)).where(t.c[chosen.case_key].in_(wave[chosen.case_key].unique()))
                )
                .mappings()
                .all(),
                columns=read,
            )
            latest["_key"] = _identity(latest, keys, t)
            present = set(zip(latest["_key"], latest[sync.batch], strict=True))
            latest = _newest(latest, chosen).set_index("_key")
            before = _comparable(latest[columns], t)
            now_rows = _comparable(wave[columns], t)
            known = now_rows.index.isin(before.index)
            same = pd.Series(False, index=now_rows.index)
            if known.any():
                a, b = now_rows[known], before.loc[now_rows.index[known]]
                same[known] = (a.fillna("\x00") == b.fillna("\x00")).all(axis=1).to_numpy()
            # a re-send: its rows are there under its batch, so it did write them
            again = pd.Series(
                [(k, bt) in present for k, bt in zip(wave.index, wave["_batch"], strict=True)], index=wave.index
            )
            done = wave[again]
            written |= set(zip(done["golden_case_id"], done["version"].astype(int), strict=True))
            out = wave[~(same | again)]
            if out.empty:
                continue
            update = out.index.isin(latest.index)
            out = out.drop(columns=["version"]).assign(_case_version=out["version"])
            if sync.version:
                previous = latest[sync.version].reindex(out.index).fillna(0).astype(int)
                out[sync.version] = (previous + 1).to_numpy()
            else:
                out[sync.operation] = [chosen.operations["update" if u else "insert"] for u in update]
            if sync.status:
                out[sync.status] = sync.pending
            out[sync.batch] = out["_batch"]
            out[sync.time] = now
            if sync.source:
                out[sync.source] = sync.source_value
            insert_frame(conn, t, out)  # the table's columns only: never _key, golden_case_id or the case version
            written |= set(zip(out["golden_case_id"], out["_case_version"].astype(int), strict=True))
        return written

    def _withdraw(self, conn: sa.Connection, numbers: list[str], batch: str, now: dt.datetime) -> bool:
        """Tell the province the case no longer goes out under ``numbers``, in ``batch``; True when that batch
        holds such rows (written now, or by an earlier send of the same version)."""
        chosen = self.profile
        withdraw, sync = chosen.withdraw, chosen.sync
        assert withdraw is not None
        names = [withdraw.table] if withdraw.by == "void" else list(reversed(chosen.tables))  # children first
        touched = False
        for name in names:
            t, keys = self._table(conn, name), chosen.keys(name)
            held = pd.DataFrame(conn.execute(sa.select(t).where(t.c[chosen.case_key].in_(numbers))).mappings().all())
            if held.empty:
                continue
            if (held[sync.batch] == batch).any():
                touched = True  # a re-send: this version's withdrawal is written already
                continue
            held["_key"] = _identity(held, keys, t)
            latest = _newest(held, chosen)
            if withdraw.by == "delete":
                out = latest[latest[sync.operation] != chosen.operations["delete"]].copy()
                out[sync.operation] = chosen.operations["delete"]
            else:
                out = latest[latest[withdraw.column].astype("string") != withdraw.value].copy()
                out[withdraw.column] = withdraw.value
                out[sync.version] = out[sync.version].astype(int) + 1
                out[sync.status] = sync.pending
            if out.empty:
                continue
            out[sync.batch], out[sync.time] = batch, now
            # the profile's columns and the exchange columns only: never the platform's own (id, version …)
            ours = [*keys, *chosen.tables[name].columns, sync.batch, sync.time]
            ours += [c for c in (sync.operation, sync.version, sync.status, sync.source) if c]
            insert_frame(conn, t, out[list(dict.fromkeys(ours))])
            touched = True
        return touched

    def follow_up(self, messages: list[OutboxMessage]) -> list[Delivery]:
        """Per version: rejected when the province refused any of its rows (its error table or status column, its
        words); acknowledged when the province has taken every row it wrote; else no answer yet."""
        results = [
            Delivery(m.idempotency_key, "acknowledged", m.receipt_id)
            for m in messages
            if (m.receipt_id or "").startswith(NOTHING)
        ]
        by_batch = {batch_of(m.idempotency_key): m for m in messages if not (m.receipt_id or "").startswith(NOTHING)}
        if not by_batch:
            return results
        with self._engine().connect() as conn:
            answer = self._status_answers if self.profile.answers.status else self._mirror_answers
            refused, waiting = answer(conn, list(by_batch))
        for batch, message in by_batch.items():
            if batch in refused:
                code, reason = refused[batch]
                results.append(Delivery(message.idempotency_key, "rejected", batch, code, reason))
            elif waiting.get(batch, 0) == 0:
                results.append(Delivery(message.idempotency_key, "acknowledged", batch))
        return results

    def _mirror_answers(
        self, conn: sa.Connection, batches: list[str]
    ) -> tuple[dict[str, tuple[str, str]], dict[str, int]]:
        """National: refusals in the error table; a row is taken once the mirror holds it with its time or later."""
        chosen, answers = self.profile, self.profile.answers
        assert answers.errors is not None and answers.mirror is not None
        errors = self._table(conn, answers.errors.table)
        refused = {
            row[0]: (row[1], row[2])
            for row in conn.execute(
                sa.select(
                    errors.c[answers.errors.batch], errors.c[answers.errors.code], errors.c[answers.errors.reason]
                ).where(errors.c[answers.errors.batch].in_(batches))
            )
        }
        waiting: dict[str, int] = {}
        sync = chosen.sync
        for name in chosen.tables:
            t, mirror = self._table(conn, name), self._table(conn, answers.mirror.of(name))
            ours = (
                sa.select(t.c[sync.row_key], t.c[sync.batch], t.c[sync.time], t.c[sync.operation]).where(
                    t.c[sync.batch].in_(batches)
                )
            ).subquery()
            # a row is waiting while the mirror lacks it or holds an older state, unless we have since taken it
            # back (a withdrawn number: the mirror will never hold it again); a delete, while the mirror holds it
            delete = chosen.operations.get("delete", "\x00")
            deleted = ours.c[sync.operation] == delete
            later = t.alias("later")
            taken_back = sa.exists().where(
                (later.c[sync.row_key] == ours.c[sync.row_key])
                & (later.c[sync.operation] == delete)
                & (later.c[sync.batch] != ours.c[sync.batch])
                & (later.c[sync.time] >= ours.c[sync.time])
            )
            taken = (
                sa.select(ours.c[sync.batch], sa.func.count())
                .join_from(ours, mirror, mirror.c[sync.row_key] == ours.c[sync.row_key], isouter=True)
                .where(
                    sa.or_(
                        ~deleted
                        & sa.or_(mirror.c[sync.row_key].is_(None), mirror.c[sync.time] < ours.c[sync.time])
                        & ~(mirror.c[sync.row_key].is_(None) & taken_back),
                        deleted & mirror.c[sync.row_key].is_not(None),
                    )
                )
                .group_by(ours.c[sync.batch])
            )
            for batch, count in conn.execute(taken):
                waiting[batch] = waiting.get(batch, 0) + count
        return refused, waiting

    def _status_answers(
        self, conn: sa.Connection, batches: list[str]
    ) -> tuple[dict[str, tuple[str, str]], dict[str, int]]:
        """PRE: each row's status column turns accepted or refused (the reason beside it); still pending waits."""
        chosen, status = self.profile, self.profile.answers.status
        assert status is not None
        refused: dict[str, tuple[str, str]] = {}
        waiting: dict[str, int] = {}
        batch_column = chosen.sync.batch
        for name in chosen.tables:
            t = self._table(conn, name)
            answered = sa.select(t.c[batch_column], t.c[status.column], t.c[status.reason]).where(
                t.c[batch_column].in_(batches), t.c[status.column] != status.accepted
            )
            for batch, state, reason in conn.execute(answered):
                if state == status.refused:
                    refused.setdefault(batch, (state, f"{name}: {reason or '（前置库未给出原因）'}"))
                else:
                    waiting[batch] = waiting.get(batch, 0) + 1
        return refused, waiting

    def holdings(self) -> pd.DataFrame | None:
        """What the province holds, row by row: each case number and the batch of each of its rows now in effect
        (``case_no``, ``receipt``): the mirror's rows (national), or each row's newest accepted version (PRE).
        Which case version a batch was is the outbox's to say (it keeps each version's receipt), so this listing is
        resolved to golden cases by ``delivery.reconcile.resolve_receipts``."""
        chosen, status = self.profile, self.profile.answers.status
        frames = []
        with self._engine().connect() as conn:
            for name in chosen.tables:
                if status is None:
                    assert chosen.answers.mirror is not None
                    mirror = self._table(conn, chosen.answers.mirror.of(name))
                    rows = conn.execute(sa.select(mirror.c[chosen.case_key], mirror.c[chosen.sync.batch])).all()
                    frames.append(pd.DataFrame(rows, columns=["case_no", "receipt"]))
                    continue
                t, keys = self._table(conn, name), chosen.keys(name)
                read = list(dict.fromkeys([chosen.case_key, *keys, chosen.sync.batch, chosen.sync.version]))
                rows = pd.DataFrame(
                    conn.execute(sa.select(*(t.c[c] for c in read)).where(t.c[status.column] == status.accepted))
                    .mappings()
                    .all(),
                    columns=read,
                )
                rows["_key"] = _identity(rows, keys, t)
                rows = _newest(rows, chosen)
                frames.append(rows.rename(columns={chosen.case_key: "case_no", chosen.sync.batch: "receipt"}))
            void = self._voided(conn) if chosen.withdraw and chosen.withdraw.by == "void" else set()
        listing = pd.concat(frames, ignore_index=True)[["case_no", "receipt"]]
        return listing[~listing["case_no"].isin(void)].drop_duplicates().reset_index(drop=True)

    def _voided(self, conn: sa.Connection) -> set[str]:
        """The case numbers whose newest accepted row of the withdraw table says void (PRE DATASTATE 0)."""
        chosen, status = self.profile, self.profile.answers.status
        withdraw, sync = chosen.withdraw, chosen.sync
        assert withdraw is not None and status is not None and withdraw.table and withdraw.column
        t = self._table(conn, withdraw.table)
        rows = pd.DataFrame(
            conn.execute(
                sa.select(t.c[chosen.case_key], t.c[sync.version], t.c[withdraw.column]).where(
                    t.c[status.column] == status.accepted
                )
            ).all(),
            columns=["case_no", "version", "state"],
        )
        newest = rows.sort_values("version").drop_duplicates("case_no", keep="last")
        return set(newest.loc[newest["state"].astype("string") == withdraw.value, "case_no"])

    def counts(self) -> dict[str, int] | None:
        """None: the listing is by receipt, and only the outbox can say which case each receipt was
        (``delivery.reconcile.receiver_counts``)."""
        return None
