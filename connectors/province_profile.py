"""The province's case tables as configuration: a golden case's life as rows of a profile's tables.

A profile (``connectors/profiles/<name>.yaml``; ``national`` = the national ``up_pro_*`` tables) names its tables,
which rows each holds and where each column's value comes from: a field of the case, a code list
(``schemas/codelists``, the profile's column), a text per value or a constant; and, per published version of the
tables' DDL, the platform's housekeeping columns (row id, tenant, created/updated by and at, version).
:func:`case_rows` turns golden-case versions into those rows, vectorised:

- ``acceptance``: one row per case once it is accepted;
- ``step``: one row per process step that has happened (受理, 决定, 办结; 退件 and 不予受理 as their own steps);
- ``result``: one row when the case has ended;
- ``pause``: one row per 特别程序 (补正, 听证 …) once it has ended;
- ``material``: one row per material the case lists (the payload's ``materials``).

Each row's key is derived from the 办件编号, the table and the step (a UUID 5), so the same row of a later version
is an update under the same key. A version that cannot be written as the profile demands (a code with no mapping,
a required value missing, a value too long) is held back whole, with a reason a clerk can act on: the province
never gets half a case, nor a guessed code. Plain pandas, no database: :mod:`connectors.province` writes the rows.
"""

from __future__ import annotations

import os
import uuid
from functools import cache
from pathlib import Path
from typing import Literal, TypeVar

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, model_validator

from resolution.golden import GOLDEN_FIELDS
from schemas.case import COMPLETED_STATUSES, ENDED_UNCOMPLETED, PAUSE_GROUNDS, departments, items, places
from schemas.codelists import translate, unmapped_reason

PROFILES_DIR = Path(__file__).parent / "profiles"
PROFILE_VARIABLE = "BRIDGE_PROVINCE_PROFILE"
DEFAULT_PROVINCE_PROFILE = "national"
DDL_VARIABLE = "ONE_NETWORK_DDL_VERSION"
DEFAULT_DDL_VERSION = "current"
ROW_NAMESPACE = uuid.UUID("6f1c2d2e-5b8a-4c39-9a1e-0d6b3f0e2a11")  # the bridge's namespace for row keys
RowKind = Literal["acceptance", "step", "result", "pause", "material"]
Loaded = TypeVar("Loaded", bound=BaseModel)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnMap(_Strict):
    """Where one column's value comes from, and where that choice comes from (``source`` or ``assumed``)."""

    field: str | None = None  # a column of the case facts (case_facts)
    value: str | None = None  # a constant
    codes: str | None = None  # the code list the field's value goes through
    map: dict[str, str] | None = None  # a text per value of the field (an opinion per action); unmapped: held back
    # what a required column takes where the case does not know the field (never for a value with no code): for
    # a column whose receiver has no "unknown", such as a yes/no flag (docs/delivery.md)
    default: str | None = None
    required: bool = False
    length: int | None = None
    source: str | None = None  # the standard or public definition the value or code follows
    assumed: str | None = None  # the value or code is the bridge's choice: what to confirm, with whom

    @model_validator(mode="after")
    def _one_source(self) -> ColumnMap:
        if (self.field is None) == (self.value is None):
            raise ValueError("a column takes its value from exactly one of field or value")
        if (self.codes or self.map) and self.field is None:
            raise ValueError("codes and map translate a field")
        if self.codes and self.map:
            raise ValueError("a column goes through codes or a map, not both")
        if self.default is not None and self.field is None:
            raise ValueError("default stands in for a field the case does not know")
        return self


class TableMap(_Strict):
    rows: RowKind
    columns: dict[str, ColumnMap]


class Origin(_Strict):
    """The column every row names its sender's region in (数据来源), and its value."""

    column: str
    value: str
    source: str | None = None
    assumed: str | None = None


class SyncColumns(_Strict):
    """The exchange columns every row carries: the row's key (``row_key``: national row_guid, a UUID 5 of 办件编号,
    table and step), the batch (one per case version), the operation code (insert, update, delete), the time it was
    written and where it comes from."""

    row_key: str
    batch: str
    operation: str
    time: str
    origin: Origin | None = None


class RowId(_Strict):
    """The table's own key: numbered by the bridge (``snowflake``) or by the database (AUTO_INCREMENT)."""

    column: str
    by: Literal["snowflake", "database"]


class Housekeeping(_Strict):
    """A platform column the bridge fills on every row: one of the ids the province issued to the bridge, or the
    time of writing; ``keep``: later versions of the row carry the value the first was written with."""

    value: Literal["tenant_id", "org_id", "user_id", "now"]
    keep: bool = False


class DdlVersion(_Strict):
    """One published version of the tables' DDL: what it demands beyond the profile's columns."""

    source: str
    row_id: RowId
    version: str | None = None  # the column counting a row's versions (1, 2, …), where the DDL has one
    housekeeping: dict[str, Housekeeping] = {}
    rename: dict[str, dict[str, str]] = {}  # table → {the profile's column: this version's name for it}


class Refusals(_Strict):
    """The province's feedback table: each refused row named by table, row key and batch, with a code and reason."""

    table: str
    table_name: str
    row_key: str
    batch: str
    code: str
    reason: str


class Answers(_Strict):
    refusals: Refusals


class Withdraw(_Strict):
    """How the province is told a case number is no longer in use (the department's own number replaced the
    bridge's): every row held under it sent again with the delete operation."""

    by: Literal["delete"]


class Profile(_Strict):
    name: str
    title: str
    source: str | None = None  # the standard or public definition the file follows
    assumed: str | None = None  # or: the file is the bridge's reading, and what to confirm
    codes: str  # the code lists' column for this profile
    sync: SyncColumns
    operations: dict[Literal["insert", "update", "delete"], str]
    case_key: str
    ddl_versions: dict[str, DdlVersion]
    tables: dict[str, TableMap]
    answers: Answers
    withdraw: Withdraw | None = None

    @model_validator(mode="after")
    def _complete(self) -> Profile:
        if (self.source is None) == (self.assumed is None):
            raise ValueError(
                "a profile says exactly one of source (its public definition) or assumed (what to confirm)"
            )
        if not {"insert", "update"} <= set(self.operations):
            raise ValueError("operations must name insert and update")
        unknown = [name for name, spec in self.tables.items() if self.case_key not in spec.columns]
        if unknown:
            raise ValueError(f"tables {unknown} have no case_key column {self.case_key!r}")
        if self.withdraw and "delete" not in self.operations:
            raise ValueError("withdraw by delete needs a delete operation")
        if not self.ddl_versions:
            raise ValueError("ddl_versions names at least one version of the tables' DDL")
        for version, ddl in self.ddl_versions.items():
            strange = [t for t in ddl.rename if t not in self.tables]
            if strange:
                raise ValueError(f"ddl_versions.{version}.rename names tables the profile has not: {strange}")
        return self

    def assumed_parts(self) -> dict[str, str]:
        """The assumed items as part → what to confirm, each part the item's path in the YAML file (as
        ``core.formats`` names the parts it reads from the file itself)."""
        found = {}
        if self.sync.origin and self.sync.origin.assumed:
            found["sync.origin"] = self.sync.origin.assumed
        for table, spec in self.tables.items():
            for column, how in spec.columns.items():
                if how.assumed:
                    found[f"tables.{table}.columns.{column}"] = how.assumed
        return found

    def assumptions(self, path: str | None = None) -> list[str]:
        """Every value or code this profile assumes, one line each: ``<file> <where>: <what to confirm>``."""
        where = path or f"connectors/profiles/{self.name}.yaml"
        found = [f"{where} (file): {self.assumed}"] if self.assumed else []
        origin = self.sync.origin
        if origin and origin.assumed:
            found.append(f"{where} sync.origin {origin.column}={origin.value}: {origin.assumed}")
        for table, spec in self.tables.items():
            found += [f"{where} {table}.{column}: {how.assumed}" for column, how in spec.columns.items() if how.assumed]
        return [" ".join(line.split()) for line in found]


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
    """``BRIDGE_PROVINCE_PROFILE`` (default ``national``), checked: refuses an unknown or broken profile file."""
    name = os.environ.get(PROFILE_VARIABLE, "").strip() or DEFAULT_PROVINCE_PROFILE
    profile(name)  # refuses an unknown or broken profile when the definitions load, naming the file
    return name


def ddl_version(name: str | None = None) -> str:
    """``ONE_NETWORK_DDL_VERSION`` (default ``current``), checked against the profile's ``ddl_versions``: which
    published version of the tables the province's front-end database has."""
    chosen = profile(name or province_profile())
    version = os.environ.get(DDL_VARIABLE, "").strip() or DEFAULT_DDL_VERSION
    if version not in chosen.ddl_versions:
        known = ", ".join(chosen.ddl_versions)
        raise ProfileError(f"{DDL_VARIABLE}={version!r}: profile {chosen.name} knows the DDL versions {known}")
    return version


def assumptions(name: str | None = None) -> list[str]:
    """What the province profile in force (or ``name``) assumes: each item with its file and column."""
    return profile(name or province_profile()).assumptions()


# ---------------------------------------------------------------- the case's facts
#: What the profiles may read of a case version: its canonical fields, its 办件编号, the numbers it no longer goes
#: out under, its pauses and evaluation, the clerk who handled it (``handler_name``) and its materials (``materials``:
#: a list of {name, get_type paper|upload|licence, count, attachment}); absent ones read as blank.
CASE_FIELDS = (
    *GOLDEN_FIELDS,
    "project_no",
    "withdrawn_numbers",
    "pauses",
    "evaluation",
    "handler_name",
    "materials",
)
RESULT_OF_STATUS = {"办结": "approved", "送达": "approved", "退件": "returned", "不予受理": "not_accepted"}
ENDED = (*COMPLETED_STATUSES, *ENDED_UNCOMPLETED)
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
    # 受理人员 / 办理人: a person's name, blank where the department's system does not say
    facts["handler_name"] = facts["handler_name"].astype("string").str.strip().replace("", pd.NA)
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
    if kind == "material":
        return _material_rows(facts[accepted])
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


def _listed(facts: pd.DataFrame, field: str) -> pd.DataFrame:
    """One row per item of the list-valued ``field`` (``_item``: the item, ``_n``: its place in the list)."""
    has = pd.Series([isinstance(v, list) and len(v) > 0 for v in facts[field]], index=facts.index, dtype=bool)
    listed = facts.loc[has, field]
    rows = facts.loc[listed.index].assign(_item=listed).explode("_item").reset_index(drop=True)
    rows["_n"] = rows.groupby(["golden_case_id", "version"]).cumcount()
    return rows


def _pause_rows(facts: pd.DataFrame) -> pd.DataFrame:
    """One row per 特别程序 that has ended (``pause_kind``, ``pause_start``, ``pause_end``, ``pause_reason``): a
    pause still running has no end to report yet and goes out with the version that closes it."""
    columns = [*facts.columns, "step", "pause_kind", "pause_start", "pause_end", "pause_reason"]
    rows = _listed(facts, "pauses")
    if rows.empty:
        return pd.DataFrame(columns=columns)
    items_ = pd.json_normalize(rows["_item"].tolist()).reindex(columns=["kind", "start", "end"])
    rows = rows.drop(columns=["_item", "_n"]).assign(
        pause_kind=items_["kind"].astype("string"),
        pause_start=pd.to_datetime(items_["start"]),
        pause_end=pd.to_datetime(items_["end"]),
        pause_reason=items_["kind"].map(PAUSE_GROUNDS).astype("string"),
    )
    rows["step"] = "pause|" + rows["pause_kind"].fillna("") + "|" + rows["pause_start"].dt.strftime("%Y%m%d%H%M%S")
    return rows[rows["pause_end"].notna() & rows["pause_start"].notna()]


def _material_rows(facts: pd.DataFrame) -> pd.DataFrame:
    """One row per material the case lists (``material_name``, ``material_get_type``, ``material_count``,
    ``material_attachment``); a case with no materials has none. A material's row is named by its name (and its
    place among materials of the same name), so a later version of the case updates it."""
    columns = [*facts.columns, "step", "material_name", "material_get_type", "material_count", "material_attachment"]
    rows = _listed(facts, "materials")
    if rows.empty:
        return pd.DataFrame(columns=columns)
    listed = pd.json_normalize([m if isinstance(m, dict) else {} for m in rows["_item"]])
    listed = listed.reindex(columns=["name", "get_type", "count", "attachment"])
    count = pd.to_numeric(listed["count"], errors="coerce").astype("Int64")
    rows = rows.drop(columns=["_item", "_n"]).assign(
        material_name=listed["name"].astype("string").str.strip(),
        material_get_type=listed["get_type"].astype("string"),
        material_count=count.astype("string"),
        material_attachment=listed["attachment"].astype("string"),
    )
    same_name = rows.groupby(["golden_case_id", "version", "material_name"], dropna=False).cumcount()
    rows["step"] = "material|" + rows["material_name"].fillna("") + "|" + same_name.astype(str)
    return rows


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
        source = life_rows(facts, spec.rows).reset_index(drop=True)
        rows = pd.DataFrame(
            {"golden_case_id": source["golden_case_id"], "version": source["version"]}, index=source.index
        )
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
    elif how.map is not None:
        texts = values.astype("string").map(how.map).astype("string")
        unmapped = texts.isna() & ~unknown
        for value in values[unmapped].astype(str).unique():
            bad = unmapped & (values.astype(str) == value)
            problems.append(_held(source[bad], f"{label} 没有 {how.field}={value} 对应的文字：请在接收方配置中补充"))
        values = texts
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
