"""Corrections back to the departments (纠错清单): each quarantined record and each receiver's refusal becomes one
entry on the correction list of the department that must put it right: the record, the field, the reason in words
a clerk acts on. An entry stays open until the record arrives again and stages cleanly, or a later version of the
case is acknowledged by the receiver that refused it. docs/corrections.md has the rules.

The entries are a function of the warehouse's facts (quarantined records, staged records, dead letters, the
outbox), dated by partition days, never by the wall clock: the same facts give the same entries, whether the days
were loaded one by one or a week at once, and whenever they are rebuilt. The state table remembers what the facts
no longer show (a day loaded again without the record): such an entry is kept, closed.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import unicodedata
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core.departments import departments as declared_systems
from core.feeds import feeds
from core.warehouse import in_lists
from resolution.evaluations import number_index
from schemas.case import CASE_COLUMNS, CODES_DIR, field_labels
from schemas.case import departments as department_codes
from schemas.feeds import FEED_KINDS
from schemas.identifiers import ID_KIND_USCC, classify_identifiers, mask_numbers_in_text
from schemas.warehouse import (
    case_links,
    corrections,
    dead_letters,
    golden_cases,
    licences,
    outbox,
    quarantined_feed_records,
    quarantined_records,
    raw_feed_records,
    raw_records,
    staged_cases,
    staged_evaluations,
    staged_findings,
    staged_hotline_orders,
    staged_process_stages,
    staged_project_items,
    staged_projects,
)
from schemas.workdays import WorkingCalendar

QUARANTINE, REFUSAL = "quarantine", "refusal"
OPEN, FIXED = "open", "fixed"
#: How an entry was closed: its record staged cleanly on a later day; a later version of its case acknowledged by
#: the receiver; the unreadable file read when its day was loaded again; the record no longer sent at all.
RECORD_STAGED, VERSION_ACKNOWLEDGED, FILE_READ, WITHDRAWN = (
    "record_staged",
    "version_acknowledged",
    "file_read",
    "withdrawn",
)
HELD = "HELD"  # a version the bridge itself held back (connectors: province, municipal)
BUREAU = "approval_bureau"  # the district's 行政审批局: the list of last resort
ROUTING_PATH = CODES_DIR / "correction_departments.csv"
ROUTES = ("fixed", "by_case", "none")
COLUMNS = [c.name for c in corrections.columns]

RECEIVER_NAMES = {"one_network": "江苏政务服务网", "municipal": "常州市一体化平台", "supervision": "审管互动平台"}
#: The canonical fields in a clerk's words (schemas/codes/field_labels.csv).
FIELD_LABELS = field_labels()
#: Reason codes that do not say their field in their name (the rest: missing_/unknown_/invalid_/malformed_<field>).
REASON_FIELDS = {
    "missing_source_id": "source_record_id",
    "unknown_item": "item_code",
    "unreadable_file": None,
    "ended_before_accepted": "ended_at",
    "evaluated_after_pulled": "evaluated_at",
    "invalid_total_investment": "total_investment_wan",
}
#: A receiver's case fact → the staged record's column it comes from (to find the record that supplied it).
FACT_COLUMNS = {
    "project_no": "case_no",
    "contact_mobile": "contact_phone",
    "handling_dept_name": "handling_dept",
    "task_code": "item_code",
    "case_type": "item_code",
    "result": "status",
}
#: Each kind of feed's staged table and id column: a quarantined item arriving again.
STAGED_FEEDS = {
    "evaluations": (staged_evaluations, "evaluation_id"),
    "hotline": (staged_hotline_orders, "order_id"),
    "projects": (staged_projects, "project_code"),
    "project_items": (staged_project_items, "handling_id"),
    "process_stages": (staged_process_stages, "stage_key"),
    "findings": (staged_findings, "finding_id"),
}


class RoutingError(ValueError):
    """``correction_departments.csv`` cannot be used: the message names the file and the row."""


# ---------------------------------------------------------------- whose list an entry is on
@cache
def routing() -> pd.DataFrame:
    """``schemas/codes/correction_departments.csv``: per system or feed, how its entries find their department
    (``fixed``: ``department_code``; ``by_case``: the handling department of the case the record names, else
    ``department_code``; ``none``: not on a department's list), checked against departments.csv."""
    table = pd.read_csv(ROUTING_PATH, dtype=str, keep_default_na=False)
    known = set(department_codes()["department_code"])
    for line, row in enumerate(table.itertuples(), start=2):
        if row.how not in ROUTES:
            raise RoutingError(f"{ROUTING_PATH}, row {line}: how {row.how!r} is not one of {', '.join(ROUTES)}")
        if row.how != "none" and row.department_code not in known:
            raise RoutingError(
                f"{ROUTING_PATH}, row {line}: department_code {row.department_code!r} is not in departments.csv"
            )
    return table.set_index("source")


def route_of(source: str) -> tuple[str, str | None]:
    """(how, department) for a system or feed. Not listed: a department system goes to the department of its
    name when there is one, else to the bureau; a feed is on no list."""
    table = routing()
    if source in table.index:
        row = table.loc[source]
        return row["how"], row["department_code"] or None
    if source in declared_systems():
        return "fixed", source if source in set(department_codes()["department_code"]) else BUREAU
    return "none", None


def listed_feeds() -> dict[str, str]:
    """The declared feeds whose quarantined records are on a department's list: name → kind."""
    return {name: f.kind for name, f in feeds().items() if route_of(name)[0] != "none"}


def departments_of(systems: pd.Series) -> pd.Series:
    """The department each system's entries go to (the ``fixed`` department, or the fallback of ``by_case``)."""
    found = {s: route_of(s)[1] for s in systems.dropna().unique()}
    return systems.map(found).fillna(BUREAU).astype("string")


# ---------------------------------------------------------------- what a record says, masked
def masked_identifiers(ids: pd.Series) -> pd.Series:
    """Identifiers as a clerk's list may show them: an enterprise's USCC is public and stays readable; anything
    else (a 身份证号, or a number too malformed to tell) keeps its first and last characters only."""
    text = ids.astype("string").str.strip()
    kind = classify_identifiers(text)["kind"]
    long = text.str.len() >= 14
    head = text.str.slice(0, 6).where(long, text.str.slice(0, 2))
    tail = text.str.slice(-4).where(long, text.str.slice(-2))
    stars = (text.str.len() - head.str.len() - tail.str.len()).clip(lower=1)
    masked = head + stars.map(lambda n: "*" * n, na_action="ignore").astype("string") + tail
    return text.where(kind == ID_KIND_USCC, masked)


def applicant_text(names: pd.Series, ids: pd.Series) -> pd.Series:
    """The applicant as a list shows it: its name and identifier (masked), or either alone; never a phone."""
    name = names.astype("string").str.strip().replace("", pd.NA)
    ident = masked_identifiers(ids.astype("string").replace("", pd.NA))
    both = name + "（" + ident + "）"
    return both.fillna(name).fillna(ident)


def masked_text(values: pd.Series) -> pd.Series:
    """Free text (a reason, a receiver's words) with every run of digits long enough to be a number masked
    (``schemas.identifiers.mask_numbers_in_text``); a text with none keeps its own full-width punctuation."""

    def masked(text: str) -> str:
        found = mask_numbers_in_text(text)
        return text if found == unicodedata.normalize("NFKC", text) else found

    return values.astype("string").map(masked, na_action="ignore").astype("string")


def _payloads(texts: pd.Series) -> pd.DataFrame:
    parsed = [json.loads(t) if isinstance(t, str) and t else {} for t in texts]
    return pd.DataFrame(parsed, index=texts.index)


def _source_fields(source: str) -> dict[str, str]:
    """canonical field → the system's own field, from its declaration (a department system's or a feed's)."""
    if source in declared_systems():
        return dict(declared_systems()[source].mapping.fields)
    if source in feeds():
        return dict(feeds()[source].fields)
    return {}


def _known_fields(source: str) -> set[str]:
    if source in feeds():
        kind = FEED_KINDS[feeds()[source].kind]
        return {*kind.required, *kind.optional}
    return set(CASE_COLUMNS)


def field_labels(fields: pd.Series, sources: pd.Series) -> pd.Series:
    """A field in the clerk's words, with the system's own name for it (for a receiver's case fact, the name of the
    record's field it comes from): 申请人名称（SQRMC）."""
    fields_of = functools.cache(_source_fields)  # a system's declaration read once, not once a row
    own = pd.Series(
        [
            fields_of(s).get(FACT_COLUMNS.get(f, f)) if isinstance(f, str) and isinstance(s, str) else None
            for f, s in zip(fields, sources, strict=True)
        ],
        index=fields.index,
        dtype="string",
    )
    label = fields.map(FIELD_LABELS).astype("string").fillna(fields.astype("string"))
    return (label + "（" + own + "）").where(own.notna() & (own != label), label)


def quarantine_fields(reason_codes: pd.Series, sources: pd.Series) -> pd.Series:
    """The field a staging reason code names: missing_/unknown_/invalid_/malformed_<field>, or REASON_FIELDS."""
    stem = reason_codes.str.replace(r"^(missing|unknown|invalid|malformed)_", "", regex=True)
    named = reason_codes.map(REASON_FIELDS)
    known_of = functools.cache(_known_fields)  # once a system, not once a row
    known = [stem_ if stem_ in known_of(s) else None for stem_, s in zip(stem, sources, strict=True)]
    out = pd.Series(known, index=reason_codes.index, dtype="string")
    explicit = reason_codes.isin(list(REASON_FIELDS))
    return out.where(~explicit, named.astype("string"))


# ---------------------------------------------------------------- the facts
@dataclass
class Facts:
    """What the entries are made of, as read from the warehouse (:func:`read_facts`)."""

    quarantined: pd.DataFrame  # source_system, partition_date, record_key, record_id, reason_code, reason, payload
    staged: pd.DataFrame  # source_system, record_id, partition_date: clean records of the systems and feeds listed
    letters: pd.DataFrame  # dead letters with their version's partition_date and payload
    versions: pd.DataFrame  # target, golden_case_id, version, status, partition_date of every case refused,
    # for the receivers that refused it
    members: pd.DataFrame  # golden_case_id and its staged records (staged_cases columns)
    licences: pd.DataFrame  # licence_key, golden_case_id, licence_no, sources (refusals of the supervision feed)
    case_departments: pd.DataFrame  # case_no, handling_dept: the one golden case a number names
    previous: pd.DataFrame  # the corrections table as it stands


def _read(conn: sa.Connection, query: sa.Select) -> pd.DataFrame:
    result = conn.execute(query)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def _in_chunks(conn: sa.Connection, make, values: list, columns: list[str]) -> pd.DataFrame:
    found = [_read(conn, make(chunk)) for chunk in in_lists(sorted(set(values)))]
    return pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=columns)


def read_facts(conn: sa.Connection) -> Facts:
    """Every fact the entries need, read in the caller's transaction."""
    q, r = quarantined_records.c, raw_records.c
    department_rows = _read(
        conn,
        sa.select(
            q.source_system,
            q.partition_date,
            q.record_key,
            q.source_record_id.label("record_id"),
            q.reason_code,
            q.reason,
            r.payload,
        ).outerjoin(
            raw_records,
            (r.source_system == q.source_system)
            & (r.partition_date == q.partition_date)
            & (r.record_key == q.record_key),
        ),
    )
    f, rf = quarantined_feed_records.c, raw_feed_records.c
    feed_rows = _read(
        conn,
        sa.select(
            f.source_system,
            f.partition_date,
            f.record_key,
            f.item_id.label("record_id"),
            f.reason_code,
            f.reason,
            rf.payload,
        )
        .outerjoin(
            raw_feed_records,
            (rf.source_system == f.source_system)
            & (rf.partition_date == f.partition_date)
            & (rf.record_key == f.record_key),
        )
        .where(f.source_system.in_(list(listed_feeds()))),
    )
    quarantined = pd.concat([department_rows, feed_rows], ignore_index=True)
    previous = _read(conn, sa.select(corrections))
    wanted = pd.concat(
        [
            quarantined[["source_system", "record_id"]],
            previous.loc[previous["kind"] == QUARANTINE, ["source_system", "record_id"]],
        ]
    ).dropna()
    staged = _staged(conn, wanted)

    d, o = dead_letters.c, outbox.c
    letters = _read(
        conn,
        sa.select(
            d.target,
            d.idempotency_key,
            d.golden_case_id,
            d.version,
            d.reason_code,
            d.target_reason,
            d.clerk_message,
            d.created_at,
            o.partition_date,
            o.payload,
        ).outerjoin(outbox, (o.target == d.target) & (o.idempotency_key == d.idempotency_key)),
    )
    refused = sorted(set(letters["golden_case_id"]))
    targets = sorted(set(letters["target"]))  # the entries are per receiver: its own versions only, by index
    versions = _in_chunks(
        conn,
        lambda ids: sa.select(o.target, o.golden_case_id, o.version, o.status, o.partition_date).where(
            o.target.in_(targets) & o.golden_case_id.in_(ids)
        ),
        refused,
        ["target", "golden_case_id", "version", "status", "partition_date"],
    )
    lc = licences.c
    licence_rows = _in_chunks(
        conn,
        lambda keys: sa.select(lc.licence_key, lc.golden_case_id, lc.licence_no, lc.sources).where(
            lc.licence_key.in_(keys)
        ),
        refused,
        ["licence_key", "golden_case_id", "licence_no", "sources"],
    )
    cases = sorted(set(refused) | set(licence_rows["golden_case_id"].dropna()))
    s, links = staged_cases.c, case_links.c
    members = _in_chunks(
        conn,
        lambda ids: (
            sa.select(links.golden_case_id, staged_cases)
            .join(
                case_links,
                (links.source_system == s.source_system)
                & (links.partition_date == s.partition_date)
                & (links.record_key == s.record_key),
            )
            .where(links.golden_case_id.in_(ids))
        ),
        cases,
        ["golden_case_id", *(c.name for c in staged_cases.columns)],
    )
    return Facts(
        quarantined=quarantined,
        staged=staged,
        letters=letters,
        versions=versions,
        members=members,
        licences=licence_rows,
        case_departments=_case_departments(conn, quarantined),
        previous=previous,
    )


def _staged(conn: sa.Connection, wanted: pd.DataFrame) -> pd.DataFrame:
    """The clean records of the wanted (source_system, record_id): staged_cases for the systems, each feed kind's
    staged table for the feeds."""
    frames = []
    kinds = {name: f.kind for name, f in feeds().items()}
    for source, ids in wanted.groupby("source_system")["record_id"]:
        if source in kinds:
            table, column = STAGED_FEEDS[kinds[source]]
        else:
            table, column = staged_cases, "source_record_id"
        t = table.c
        frames.append(
            _in_chunks(
                conn,
                lambda chunk, t=t, column=column, source=source: sa.select(
                    t.source_system, t[column].label("record_id"), t.partition_date
                ).where((t.source_system == source) & t[column].in_(chunk)),
                ids.tolist(),
                ["source_system", "record_id", "partition_date"],
            )
        )
    return (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["source_system", "record_id", "partition_date"])
    )


def _case_departments(conn: sa.Connection, quarantined: pd.DataFrame) -> pd.DataFrame:
    """For the records routed by their case: the handling department of the one golden case each 办件编号 names."""
    by_case = [s for s in quarantined["source_system"].unique() if route_of(s)[0] == "by_case"]
    rows = quarantined[quarantined["source_system"].isin(by_case)]
    numbers = details(rows)["case_no"].dropna().tolist() if len(rows) else []
    if not numbers:
        return pd.DataFrame(columns=["case_no", "handling_dept"])
    index = number_index(conn, case_nos=numbers)
    once = index[index.groupby("case_no")["golden_case_id"].transform("nunique") == 1].drop_duplicates("case_no")
    g = golden_cases.c
    depts = _in_chunks(
        conn,
        lambda ids: sa.select(g.golden_case_id, g.handling_dept).where(g.golden_case_id.in_(ids)),
        once["golden_case_id"].tolist(),
        ["golden_case_id", "handling_dept"],
    )
    return once.merge(depts, on="golden_case_id")[["case_no", "handling_dept"]]


def details(rows: pd.DataFrame) -> pd.DataFrame:
    """What a quarantined record says of itself, read from its raw payload through its system's declaration:
    case_no (办件编号), applicant_name, applicant_id, file (the export it came in)."""
    payloads = _payloads(rows["payload"])
    out = pd.DataFrame(index=rows.index, columns=["case_no", "applicant_name", "applicant_id"], dtype="string")
    wanted = {
        "case_no": ("case_no", "handling_id"),
        "applicant_name": ("applicant_name", "unit_name"),
        "applicant_id": ("applicant_id", "unit_id"),
    }
    for source, group in rows.groupby("source_system"):
        own = _source_fields(source)
        for column, candidates in wanted.items():
            field = next((own[c] for c in candidates if c in own and own[c] in payloads), None)
            if field is not None:
                out.loc[group.index, column] = payloads.loc[group.index, field].astype("string")
    out["file"] = payloads["_file"].astype("string") if "_file" in payloads else pd.NA
    return out


# ---------------------------------------------------------------- entries
def quarantine_keys(quarantined: pd.DataFrame) -> pd.Series:
    """The entry a quarantined record belongs to: its system and id (``record_id``: a department record's
    source_record_id, a feed record's item id), else its day and record key (a record without a readable id, or an
    unreadable file, is an entry of its own)."""
    day = pd.to_datetime(quarantined["partition_date"]).dt.strftime("%Y-%m-%d")
    key = quarantined["record_id"].astype("string").fillna(day + "/" + quarantined["record_key"].astype("string"))
    return QUARANTINE + "|" + quarantined["source_system"].astype("string") + "|" + key


def refusal_keys(letters: pd.DataFrame) -> pd.Series:
    """The entry a dead letter belongs to: its receiver and golden case (every version of the case refused)."""
    return REFUSAL + "|" + letters["target"].astype("string") + "|" + letters["golden_case_id"].astype("string")


def correction_entries(facts: Facts) -> pd.DataFrame:
    """Every entry (``corrections``' columns): the quarantine and refusal entries the facts make, and those the
    state remembers that the facts no longer show, closed."""
    made = [frame for frame in (quarantine_entries(facts), refusal_entries(facts)) if len(frame)]
    made = pd.concat(made, ignore_index=True).reindex(columns=COLUMNS) if made else pd.DataFrame(columns=COLUMNS)
    return remembered(made, facts.previous, facts.staged)


def quarantine_entries(facts: Facts) -> pd.DataFrame:
    """One entry per quarantined record (its id, else its day and record key), from its newest quarantine."""
    q = facts.quarantined
    if q.empty:
        return pd.DataFrame(columns=COLUMNS)
    q = q.assign(partition_date=pd.to_datetime(q["partition_date"]).dt.date, entry_key=quarantine_keys(q))
    q = q.sort_values(["entry_key", "partition_date", "record_key"], kind="stable")
    grouped = q.groupby("entry_key", sort=False)
    latest = q.drop_duplicates("entry_key", keep="last").set_index("entry_key")
    latest["first_seen"] = grouped["partition_date"].min()
    latest["last_seen"] = grouped["partition_date"].max()
    latest["occurrences"] = grouped.size()
    said = details(latest)
    entries = pd.DataFrame(index=latest.index)
    entries["kind"] = QUARANTINE
    entries["source_system"] = latest["source_system"]
    entries["record_id"] = latest["record_id"].astype("string").fillna(said["file"]).fillna(latest["record_key"])
    entries["case_no"] = said["case_no"].str.strip().replace("", pd.NA)
    entries["applicant"] = applicant_text(said["applicant_name"], said["applicant_id"])
    entries["field"] = quarantine_fields(latest["reason_code"], latest["source_system"])
    entries["field_label"] = field_labels(entries["field"], entries["source_system"])
    entries["reason_code"] = latest["reason_code"]
    entries["reason"] = masked_text(latest["reason"])
    for column in ("occurrences", "first_seen", "last_seen"):
        entries[column] = latest[column]
    entries["department"] = departments_of(entries["source_system"])
    by_case = entries["source_system"].map(lambda s: route_of(s)[0] == "by_case").astype(bool)
    if by_case.any():
        handling = entries["case_no"].map(facts.case_departments.set_index("case_no")["handling_dept"])
        entries["department"] = handling.where(by_case & handling.notna(), entries["department"]).astype("string")
    fixed = _first_staged_after(entries.assign(record_id=latest["record_id"]), facts.staged, strictly=True)
    entries["fixed_on"] = fixed
    entries["status"] = np.where(fixed.notna(), FIXED, OPEN)
    entries["fixed_how"] = pd.Series(RECORD_STAGED, index=entries.index).where(fixed.notna())
    return entries.reset_index()


def _first_staged_after(entries: pd.DataFrame, staged: pd.DataFrame, *, strictly: bool) -> pd.Series:
    """Per entry (index kept), the first partition day its record staged cleanly after (or on) its last quarantine."""
    if staged.empty or entries.empty:
        return pd.Series(pd.NaT, index=entries.index, dtype=object)
    clean = staged.assign(staged_on=pd.to_datetime(staged["partition_date"]).dt.date)[
        ["source_system", "record_id", "staged_on"]
    ]
    keyed = entries[["source_system", "record_id", "last_seen"]].reset_index(names="_entry")
    both = keyed.merge(clean, on=["source_system", "record_id"])
    after = both["staged_on"] > both["last_seen"] if strictly else both["staged_on"] >= both["last_seen"]
    first = both[after].groupby("_entry")["staged_on"].min()
    return first.reindex(entries.index).astype(object).where(first.reindex(entries.index).notna(), None)


def refusal_entries(facts: Facts) -> pd.DataFrame:
    """One entry per receiver and golden case refused (or held back), from its newest refused version."""
    letters = facts.letters
    if letters.empty:
        return pd.DataFrame(columns=COLUMNS)
    letters = letters.assign(
        version=letters["version"].astype(int),
        partition_date=pd.to_datetime(letters["partition_date"].fillna(letters["created_at"])).dt.date,
    )
    letters["entry_key"] = refusal_keys(letters)
    letters = letters.sort_values(["entry_key", "version"], kind="stable")
    grouped = letters.groupby("entry_key", sort=False)
    latest = letters.drop_duplicates("entry_key", keep="last").set_index("entry_key")
    entries = pd.DataFrame(index=latest.index)
    entries["kind"] = REFUSAL
    for column in ("target", "golden_case_id", "version", "reason_code"):
        entries[column] = latest[column]
    entries["first_seen"] = grouped["partition_date"].min()
    entries["last_seen"] = grouped["partition_date"].max()
    entries["occurrences"] = grouped["version"].nunique()
    payload = _payloads(latest["payload"])
    number = _column(payload, "project_no").fillna(_column(payload, "case_no"))
    entries["case_no"] = number
    entries["applicant"] = applicant_text(
        _column(payload, "applicant_name").fillna(_column(payload, "holder_name")),
        _column(payload, "applicant_id").fillna(_column(payload, "holder_code")),
    )
    entries["field"] = refusal_fields(latest)
    entries["reason"] = masked_text(refusal_reasons(latest))
    supplier = suppliers(entries, payload, facts)
    entries["source_system"] = supplier["source_system"]
    entries["record_id"] = supplier["record_id"]
    entries["department"] = departments_of(entries["source_system"])
    entries["field_label"] = field_labels(entries["field"], entries["source_system"])
    fixed_on = _acknowledged_after(entries, facts.versions)
    entries["fixed_on"] = fixed_on
    entries["status"] = np.where(fixed_on.notna(), FIXED, OPEN)
    entries["fixed_how"] = pd.Series(VERSION_ACKNOWLEDGED, index=entries.index).where(fixed_on.notna())
    return entries.reset_index()


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name].astype("string") if name in frame else pd.Series(pd.NA, index=frame.index, dtype="string")


def _acknowledged_after(entries: pd.DataFrame, versions: pd.DataFrame) -> pd.Series:
    """Per entry, the partition day of the first version after the newest refused one that the receiver
    acknowledged."""
    if versions.empty:
        return pd.Series(None, index=entries.index, dtype=object)
    acked = versions[versions["status"] == "acknowledged"].assign(
        acked_version=lambda f: f["version"].astype(int), on=lambda f: pd.to_datetime(f["partition_date"]).dt.date
    )[["target", "golden_case_id", "acked_version", "on"]]
    keyed = entries[["target", "golden_case_id", "version"]].reset_index(names="_entry")
    both = keyed.merge(acked, on=["target", "golden_case_id"])
    later = both[both["acked_version"] > both["version"]].sort_values(["_entry", "acked_version"])
    first = later.drop_duplicates("_entry").set_index("_entry")["on"]
    found = first.reindex(entries.index)
    return found.astype(object).where(found.notna(), None)


@cache
def receiver_errors() -> pd.DataFrame:
    """``schemas/codes/receiver_errors.csv`` by (target, code): clerk_message and the field the code names."""
    table = pd.read_csv(CODES_DIR / "receiver_errors.csv", dtype=str, keep_default_na=False)
    if "field" not in table:
        table["field"] = ""
    return table.drop_duplicates(["target", "code"], keep="last").set_index(["target", "code"])


@cache
def receiver_columns() -> dict[str, dict[str, str]]:
    """Per receiver, its own column or key names → the case fact each carries (the province profile and the
    municipal map in force): a receiver's words that name a column name a field."""
    from connectors.municipal import document_map, municipal_map
    from connectors.province import profile, province_profile

    found: dict[str, dict[str, str]] = {"one_network": {}, "municipal": {}}
    for spec in profile(province_profile()).tables.values():
        for column, how in spec.columns.items():
            if how.field:
                found["one_network"].setdefault(column, how.field)
    for key, how in document_map(municipal_map()).fields.items():
        if how.field:
            found["municipal"][key] = how.field
    return found


def _first_named(text: str, names: dict[str, str]) -> str | None:
    """The field behind the first of ``names`` (name → field) that ``text`` mentions as a whole name."""
    best: tuple[int, str] | None = None
    for name, field in names.items():
        hit = re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", text)
        if hit and (best is None or hit.start() < best[0]):
            best = (hit.start(), field)
    return best[1] if best else None


def refusal_fields(latest: pd.DataFrame) -> pd.Series:
    """The field a refusal names: the code's ``field`` in receiver_errors.csv, else the first canonical field the
    reason names (a version held back names it: ``办件的 applicant_id 为空``), else the first of the receiver's own
    column names it names, through the receiver's map (the province's ``必填项applyer_name为空``)."""
    table = receiver_errors()
    canonical = {name: name for name in (*CASE_COLUMNS, "project_no", "task_code", "contact_mobile")}
    out = []
    for target, code, reason in zip(latest["target"], latest["reason_code"], latest["target_reason"], strict=True):
        listed = table["field"].get((target, code or ""), "") if len(table) else ""
        text = reason if isinstance(reason, str) else ""
        field = listed or _first_named(text, canonical) or _first_named(text, receiver_columns().get(target, {}))
        out.append(field)
    return pd.Series(out, index=latest.index, dtype="string")


def refusal_reasons(latest: pd.DataFrame) -> pd.Series:
    """What to put right: for a version the bridge held back, its reason; for a refusal, what the clerk fixes
    (receiver_errors.csv) and the receiver's own words beside it."""
    receiver = latest["target"].map(RECEIVER_NAMES).fillna(latest["target"]).astype("string")
    words = latest["target_reason"].astype("string").fillna("")
    code = latest["reason_code"].astype("string").fillna("")
    held = "未推送至" + receiver + "（本系统按接收方的规则暂缓）：" + words
    fix = latest["clerk_message"].astype("string").fillna("接收方拒收：请核对后在源系统中修正。")
    refused = fix + "（" + receiver + "原文：" + code + " " + words + "）"
    return held.where(code == HELD, refused)


def suppliers(entries: pd.DataFrame, payload: pd.DataFrame, facts: Facts) -> pd.DataFrame:
    """Per refusal entry, the staged record whose department must put it right: among the golden case's records,
    those that carry the refused value of the field (when one is named), the department's own record before the
    bureau platform's re-entry, the newest first. A licence refused by the supervision intake goes by the case
    that issued it, else by the system that reported it (its record: the licence number)."""
    out = pd.DataFrame({"source_system": pd.NA, "record_id": pd.NA}, index=entries.index, dtype="string")
    case = entries["golden_case_id"].astype("string")
    by_licence = facts.licences.drop_duplicates("licence_key").set_index("licence_key")
    if len(by_licence):
        issued_by = case.map(by_licence["golden_case_id"]).astype("string")
        case = issued_by.where(case.isin(by_licence.index), case)
    members = facts.members
    if len(members):
        priority = {name: d.priority for name, d in declared_systems().items()}
        keyed = pd.DataFrame(
            {"golden_case_id": case, "field": entries["field"], "_refused": _refused_values(entries, payload)},
            index=entries.index,
        ).reset_index(names="_entry")
        both = keyed.merge(members, on="golden_case_id")
        both["_priority"] = both["source_system"].map(priority).fillna(1)
        both["_day"] = pd.to_datetime(both["partition_date"]).dt.date
        both["_carries"] = False
        for field, rows in both.dropna(subset=["field"]).groupby("field"):
            column = FACT_COLUMNS.get(field, field)
            if column in both:
                same = rows[column].astype("string") == rows["_refused"].astype("string")
                both.loc[rows.index, "_carries"] = same.fillna(False).to_numpy(dtype=bool)
        ordered = both.sort_values(
            ["_entry", "_carries", "_priority", "_day", "record_key"], ascending=[True, False, True, False, False]
        )
        chosen = ordered.drop_duplicates("_entry").set_index("_entry")
        out.loc[chosen.index, "source_system"] = chosen["source_system"].astype("string")
        out.loc[chosen.index, "record_id"] = chosen["source_record_id"].astype("string")
    if len(by_licence):  # a licence no case issued: the system that reported it, by the licence's number
        missing = out["source_system"].isna() & entries["golden_case_id"].isin(by_licence.index)
        keys = entries.loc[missing, "golden_case_id"]
        reported = keys.map(by_licence["sources"]).astype("string").str.split(",")
        out.loc[missing, "source_system"] = reported.map(
            lambda names: next((n for n in names if n != "case"), pd.NA), na_action="ignore"
        ).astype("string")
        out.loc[missing, "record_id"] = keys.map(by_licence["licence_no"]).astype("string")
    return out


def _refused_values(entries: pd.DataFrame, payload: pd.DataFrame) -> pd.Series:
    """Per entry, the refused version's value of its field, as text (NA where either is unknown)."""
    values = pd.Series(pd.NA, index=entries.index, dtype="string")
    for field, rows in entries.dropna(subset=["field"]).groupby("field"):
        key = FACT_COLUMNS.get(field, field)
        if key in payload:
            values.loc[rows.index] = payload.loc[rows.index, key].astype("string")
    return values


def remembered(made: pd.DataFrame, previous: pd.DataFrame, staged: pd.DataFrame) -> pd.DataFrame:
    """The entries the facts make, each first seen no later than the state remembers it, and the entries the state
    holds that the facts no longer make (their day was loaded again without them): kept, closed, as the record
    staged since (or on) that day, the unreadable file read, or else withdrawn on the day last seen."""
    if previous.empty:
        return made.reset_index(drop=True)
    previous = previous.reindex(columns=COLUMNS).copy()
    for column in ("first_seen", "last_seen", "fixed_on"):
        previous[column] = pd.to_datetime(previous[column]).dt.date
        previous[column] = previous[column].astype(object).where(previous[column].notna(), None)
    earlier = previous.set_index("entry_key")["first_seen"]
    known = made["entry_key"].isin(earlier.index)
    if known.any():
        before = made.loc[known, "entry_key"].map(earlier)
        made.loc[known, "first_seen"] = [min(a, b) for a, b in zip(made.loc[known, "first_seen"], before, strict=True)]
    gone = previous[~previous["entry_key"].isin(made["entry_key"])].copy()
    still_open = gone["status"] == OPEN
    if still_open.any():
        closing = gone[still_open]
        staged_on = _first_staged_after(closing, staged, strictly=False).where(closing["kind"] == QUARANTINE, None)
        unreadable = closing["reason_code"] == "unreadable_file"
        how = np.where(staged_on.notna(), RECORD_STAGED, np.where(unreadable, FILE_READ, WITHDRAWN))
        gone.loc[closing.index, "fixed_on"] = staged_on.where(staged_on.notna(), closing["last_seen"])
        gone.loc[closing.index, "fixed_how"] = how
        gone.loc[closing.index, "status"] = FIXED
    return pd.concat([made, gone], ignore_index=True) if len(gone) else made.reset_index(drop=True)


def build(conn: sa.Connection) -> pd.DataFrame:
    """The corrections table as the warehouse's facts make it now (the caller writes it)."""
    return correction_entries(read_facts(conn))


# ---------------------------------------------------------------- per day and department (mart_corrections_daily)
AGE_BANDS = (("open_0_2", 0, 2), ("open_3_5", 3, 5), ("open_6_10", 6, 10), ("open_over_10", 11, None))
MART_COLUMNS = [
    "day", "department", "open", "opened", "fixed", "open_quarantined", "open_refused",
    *(name for name, _, _ in AGE_BANDS), "oldest_open_working_days",
]  # fmt: skip


def daily_counts(entries: pd.DataFrame, calendar: WorkingCalendar, last: dt.date) -> pd.DataFrame:
    """Per day (from each department's first entry to ``last``) and department: entries open at the end of the
    day, opened and fixed that day, the open ones by kind and by age in working days (the day first seen is day
    0: acceptance-day rule, 行政许可法 Art. 82), and the oldest open one's age."""
    if entries.empty:
        return pd.DataFrame(columns=MART_COLUMNS)
    e = entries.assign(
        first_seen=pd.to_datetime(entries["first_seen"]),
        fixed_on=pd.to_datetime(entries["fixed_on"]),
    )
    e = e[e["first_seen"] <= pd.Timestamp(last)]
    if e.empty:
        return pd.DataFrame(columns=MART_COLUMNS)
    # each entry open from its first day up to the day before it was fixed (or through ``last``)
    until = (e["fixed_on"] - pd.Timedelta(days=1)).fillna(pd.Timestamp(last)).clip(upper=pd.Timestamp(last))
    spans = ((until - e["first_seen"]).dt.days + 1).clip(lower=0).to_numpy()
    rows = np.repeat(np.arange(len(e)), spans)
    offsets = np.arange(spans.sum()) - np.repeat(np.cumsum(spans) - spans, spans)
    open_days = pd.DataFrame(
        {
            "day": e["first_seen"].to_numpy()[rows] + pd.to_timedelta(offsets, unit="D"),
            "department": e["department"].to_numpy()[rows],
            "kind": e["kind"].to_numpy()[rows],
            "since": e["first_seen"].to_numpy()[rows],
        }
    )
    open_days["age"] = calendar.working_days_between(open_days["since"], open_days["day"]).astype("Int64")
    keys = ["day", "department"]
    counts = pd.DataFrame(
        {
            "open": open_days.groupby(keys).size(),
            "open_quarantined": open_days[open_days["kind"] == QUARANTINE].groupby(keys).size(),
            "open_refused": open_days[open_days["kind"] == REFUSAL].groupby(keys).size(),
            **{
                name: open_days[(open_days["age"] >= low) & ((open_days["age"] <= high) if high else True)]
                .groupby(keys)
                .size()
                for name, low, high in AGE_BANDS
            },
            "oldest_open_working_days": open_days.groupby(keys)["age"].max(),
        }
    )
    opened = e.groupby([e["first_seen"].rename("day"), "department"]).size().rename("opened")
    done = e[e["fixed_on"].notna() & (e["fixed_on"] <= pd.Timestamp(last))]
    fixed = done.groupby([done["fixed_on"].rename("day"), "department"]).size().rename("fixed")
    found = pd.concat([counts, opened, fixed], axis=1)
    starts = e.groupby("department")["first_seen"].min()
    grid = pd.MultiIndex.from_tuples(
        [(day, dept) for dept, start in starts.items() for day in pd.date_range(start, last)], names=keys
    )
    mart = found.reindex(grid)
    counted = [c for c in MART_COLUMNS if c not in ("day", "department", "oldest_open_working_days")]
    mart[counted] = mart[counted].fillna(0).astype(int)
    mart["oldest_open_working_days"] = mart["oldest_open_working_days"].astype("Int64")
    mart = mart.reset_index()
    mart["day"] = mart["day"].dt.date
    return mart[MART_COLUMNS].sort_values(keys, ignore_index=True)
