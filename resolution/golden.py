"""Golden cases: stable ids for clusters of records, and survivorship (which record wins which field).

The engine (``engine.py``) decides which records are the same case; this module names and builds them.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd

from core.departments import source_priority
from schemas.case import CASE_COLUMNS, CODED_COLUMNS, items, name_key

GOLDEN_FIELDS = [c for c in CASE_COLUMNS if c not in ("source_system", "source_record_id")] + ["applicant_id_kind"]
#: Fields a case version's payload carries only when known (issue 15): a case none of whose sources says them keeps
#: the content, and so the versions, it had before they existed. 经办人 (handler_name, issue 22) likewise.
WHEN_KNOWN = (*CODED_COLUMNS, "handler_name")


def golden_id_for(source_system: pd.Series, source_record_id: pd.Series) -> pd.Series:
    """A stable id from the record that founded the golden case: reruns and backfills give the same id."""
    keys = (source_system + "|" + source_record_id).astype(str)
    return pd.Series(
        ["GC" + hashlib.sha1(k.encode()).hexdigest()[:14].upper() for k in keys.tolist()], index=keys.index
    )


def superseded(records: pd.DataFrame) -> pd.Series:
    """True for a record's earlier states: the same source record pulled again on a later day (受理, then 办结)
    is the department's newer word on the case, so the older state loses every field."""
    if "partition_date" not in records:
        return pd.Series(False, index=records.index)
    day = pd.to_datetime(records["partition_date"])  # as datetimes: the maximum per record is computed in C
    newest = day.groupby([records["source_system"], records["source_record_id"]]).transform("max")
    return day < newest


def survivorship_order(records: pd.DataFrame) -> pd.DataFrame:
    """Records sorted best first: current state before earlier states of the same source record, then
    authoritative source, valid identifier, most complete, earliest."""
    ranked = records.assign(
        _superseded=superseded(records).astype(int),
        # Department systems are authoritative for their own cases; the platform's re-typed copy ranks below.
        _source_rank=records["source_system"].map(source_priority()).fillna(9),
        _id_rank=(~records["applicant_id_checksum_ok"].eq(True).fillna(False).astype(bool)).astype(int),
        # over the fields resolution has always compared: a channel or place known adds nothing to the ranking
        _completeness=-records.reindex(columns=[f for f in GOLDEN_FIELDS if f not in WHEN_KNOWN]).notna().sum(axis=1),
    )
    ranked = ranked.sort_values(
        [
            "_superseded",
            "_source_rank",
            "_id_rank",
            "_completeness",
            "submitted_at",
            "source_system",
            "source_record_id",
        ],
        kind="stable",
    )
    return ranked.drop(columns=["_superseded", "_source_rank", "_id_rank", "_completeness"])


def assign_golden_ids(pool: pd.DataFrame, component: np.ndarray) -> pd.Series:
    """Keep the golden id a cluster already has; a new cluster takes the id of its best record.

    When a constraint splits a golden case, its id is in two clusters: it stays with the one holding the record
    that founded it (else the one with most of its records), and the other part becomes a new golden case named
    after its own best record. A cluster holding several existing ids keeps the smallest it owns.
    """
    frame = pool.assign(component=component)
    founded = golden_id_for(frame["source_system"].astype(str), frame["source_record_id"].astype(str)).to_numpy()
    frame["_key"] = (frame["source_system"].astype(str) + "|" + frame["source_record_id"].astype(str)).to_numpy()
    first_key = frame.groupby("component")["_key"].min()
    carriers = frame.dropna(subset=["golden_case_id"])
    claims = carriers.groupby(["golden_case_id", "component"]).size().rename("records").reset_index()
    founders = pd.DataFrame({"golden_case_id": founded, "component": frame["component"].to_numpy(), "founder": True})
    claims = claims.merge(founders.drop_duplicates(), on=["golden_case_id", "component"], how="left")
    claims["founder"] = claims["founder"].fillna(False).astype(bool)
    claims["first_key"] = claims["component"].map(first_key)
    owners = claims.sort_values(
        ["golden_case_id", "founder", "records", "first_key"], ascending=[True, False, False, True]
    ).drop_duplicates("golden_case_id")
    existing = owners.groupby("component")["golden_case_id"].min()
    best = survivorship_order(frame.drop(columns="_key")).drop_duplicates("component")
    fresh = pd.Series(
        golden_id_for(best["source_system"], best["source_record_id"]).to_numpy(), index=best["component"].to_numpy()
    )
    chosen = fresh.copy()
    chosen.loc[existing.index] = existing
    return frame["component"].map(chosen)


def build_golden_cases(linked: pd.DataFrame) -> pd.DataFrame:
    """One row per golden case: each field from the best record that has it (survivorship)."""
    if linked.empty:
        return pd.DataFrame(
            columns=[
                "golden_case_id",
                *GOLDEN_FIELDS,
                "source_system",
                "source_record_id",
                "record_count",
                "content_hash",
            ]
        )
    ordered = survivorship_order(linked)
    ordered = ordered.reindex(columns=list(dict.fromkeys([*ordered.columns, *GOLDEN_FIELDS])))
    golden = ordered.groupby("golden_case_id", sort=True)[GOLDEN_FIELDS].first()
    winners = ordered.drop_duplicates("golden_case_id").set_index("golden_case_id")
    golden["source_system"] = winners["source_system"]
    golden["source_record_id"] = winners["source_record_id"]
    golden["approval_mode"] = with_default_mode(golden["approval_mode"], golden["item_code"])
    golden["record_count"] = ordered.groupby("golden_case_id").size()
    golden["content_hash"] = content_hashes(golden)
    return golden.reset_index()


def with_default_mode(modes: pd.Series, item_codes: pd.Series) -> pd.Series:
    """审批方式: what the sources said (survivorship picked it), else the item's default from the catalogue notes
    (items.csv ``approval_mode``); NA for an item the catalogue does not give one."""
    default = items().set_index("item_code")["approval_mode"].replace("", pd.NA)
    return modes.astype("string").fillna(item_codes.map(default).astype("string"))


def content_hashes(golden: pd.DataFrame) -> pd.Series:
    payloads = payload_json(golden)
    return pd.Series([hashlib.sha256(p.encode()).hexdigest() for p in payloads], index=golden.index)


def payload_json(golden: pd.DataFrame) -> list[str]:
    """The canonical golden case as receivers get it (timestamps ISO, blanks null), stable key order; with its
    办件编号 (``project_no``) once numbered, and the numbers it is to be withdrawn under (``withdrawn_numbers``)
    once the department's own replaced the bridge's (resolution.numbering)."""
    frame = golden.reindex(columns=[*GOLDEN_FIELDS, *(["project_no"] if "project_no" in golden else [])])
    for column in ("submitted_at", "accepted_at", "decided_at", "completed_at"):
        frame[column] = pd.to_datetime(frame[column]).dt.strftime("%Y-%m-%dT%H:%M:%S")
    frame = frame.astype(object).where(frame.notna(), None)
    rows = frame.to_dict("records")
    for row in rows:
        for column in WHEN_KNOWN:
            if row.get(column) is None:
                row.pop(column, None)
    if "withdrawn_numbers" in golden:  # only where there are any: every other case's content stays as it was
        for row, withdrawn in zip(rows, golden["withdrawn_numbers"], strict=True):
            if isinstance(withdrawn, str) and withdrawn:
                row["withdrawn_numbers"] = withdrawn
    if "pauses" in golden:  # likewise: a case without 特别程序 keeps its content
        for row, listed in zip(rows, golden["pauses"], strict=True):
            if isinstance(listed, str) and listed:
                row["pauses"] = json.loads(listed)
    if "materials" in golden:  # likewise: a case whose sources list no materials keeps its content
        for row, listed in zip(rows, golden["materials"], strict=True):
            if isinstance(listed, str) and listed:
                row["materials"] = json.loads(listed)
    if "evaluation" in golden:  # likewise: the 好差评 evaluation that stands for the case, once it has one
        for row, given in zip(rows, golden["evaluation"], strict=True):
            if isinstance(given, str) and given:
                row["evaluation"] = json.loads(given)
    return [json.dumps(row, ensure_ascii=False, sort_keys=True, default=int) for row in rows]


def pauses_of(golden_ids: pd.Series, pauses: pd.DataFrame) -> pd.Series:
    """Per golden case (aligned with ``golden_ids``), its 特别程序 as JSON (``[{"kind", "start", "end"}]`` by
    start; NA for none), from the counted pauses of its records (``pauses``: golden_case_id, kind, started_at,
    ended_at). A record pulled again lists its pauses again: one pause is one kind and start, with the latest end
    its records know (a pause seen running one day and closed the next ends)."""
    if pauses.empty:
        return pd.Series(pd.NA, index=golden_ids.index, dtype="string")
    p = pauses.assign(
        start=pd.to_datetime(pauses["started_at"]).dt.strftime("%Y-%m-%dT%H:%M:%S"),
        end=pd.to_datetime(pauses["ended_at"]).dt.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    p = p.sort_values(["golden_case_id", "start", "kind", "end"], na_position="first")
    p = p.drop_duplicates(["golden_case_id", "kind", "start"], keep="last")
    p["end"] = p["end"].astype(object).where(p["end"].notna(), None)
    documents = {
        case_id: json.dumps(group[["kind", "start", "end"]].to_dict("records"), ensure_ascii=False)
        for case_id, group in p.groupby("golden_case_id", sort=False)
    }
    return golden_ids.map(documents).astype("string")


def materials_of(golden_ids: pd.Series, materials: pd.DataFrame, linked: pd.DataFrame) -> pd.Series:
    """Per golden case (aligned with ``golden_ids``), its materials (材料) as JSON (``[{"name", "get_type", "count",
    "attachment"}]``; NA for none), from the readable materials of its records (``materials``: source_system,
    partition_date, record_key, seq, name, get_type, count, attachment). Survivorship as for the case's fields: the
    records in :func:`survivorship_order` of ``linked`` (the golden cases' records), each material by name once
    (NFKC, spaces and bracket forms aside), from the best record listing it; a record pulled again lists its
    materials again, and its current state wins. In the order of the best record's list, then the others'."""
    if materials.empty or linked.empty:
        return pd.Series(pd.NA, index=golden_ids.index, dtype="string")
    keys = ["source_system", "partition_date", "record_key"]
    ranked = survivorship_order(linked)[[*keys, "golden_case_id"]].assign(_rank=range(len(linked)))
    ranked["partition_date"] = pd.to_datetime(ranked["partition_date"]).dt.date
    m = materials.drop(columns="golden_case_id", errors="ignore")  # the links say which case: ``linked``'s
    m = m.assign(partition_date=pd.to_datetime(m["partition_date"]).dt.date).merge(ranked, on=keys)
    m = m[m["golden_case_id"].isin(set(golden_ids))]
    if m.empty:
        return pd.Series(pd.NA, index=golden_ids.index, dtype="string")
    m["_name"] = m["name"].astype(str).map(name_key)
    m = m.sort_values(["golden_case_id", "_rank", "seq"]).drop_duplicates(["golden_case_id", "_name"])
    m["count"] = m["count"].astype("Int64").astype(object).where(m["count"].notna(), None)
    m["attachment"] = m["attachment"].astype(object).where(m["attachment"].notna(), None)
    # each material's JSON object, then one list per case (what json.dumps of the list of objects writes)
    fields = ["name", "get_type", "count", "attachment"]
    m["_json"] = [
        json.dumps(dict(zip(fields, values, strict=True)), ensure_ascii=False, default=int)
        for values in zip(*(m[f].tolist() for f in fields), strict=True)
    ]
    documents = "[" + m.groupby("golden_case_id", sort=False)["_json"].agg(", ".join) + "]"
    return golden_ids.map(documents).astype("string")


def roles(linked: pd.DataFrame) -> pd.Series:
    """``golden`` for the survivorship winner of each golden case, ``duplicate`` for the others."""
    ordered = survivorship_order(linked)
    winner = ~ordered.duplicated("golden_case_id")
    return pd.Series(np.where(winner, "golden", "duplicate"), index=ordered.index).reindex(linked.index)
