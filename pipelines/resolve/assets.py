"""``case_resolution``: link each day's staged records to golden cases, rebuild what changed, fill the outbox.

A day is linked against the golden cases of the days around it (incremental linking, no re-clustering of
history), so golden ids stay stable across reruns and backfills in any order. The links, the golden
cases and the outbox rows for new golden-case versions are written in one transaction.
"""

import collections
import datetime as dt
import hashlib
import json

import numpy as np
import pandas as pd
import sqlalchemy as sa
from dagster import (
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
    asset,
)

from core import clock
from core.frames import isin
from core.vocabulary import CASE_RECEIVERS
from core.warehouse import Warehouse, frame_of, in_lists, insert_frame
from delivery.outbox import queue
from pipelines.metadata import report_days, table_metadata
from pipelines.partitions import DAILY, WEEKLY_CHUNKS, partition_days, per_day
from resolution.clusters import CONSTRAINTS
from resolution.engine import make_engine
from resolution.evaluations import evaluation_documents, link, newest_states, number_index
from resolution.golden import (
    assign_golden_ids,
    build_golden_cases,
    content_hashes,
    materials_of,
    pauses_of,
    payload_json,
    roles,
)
from resolution.model import CASE_WINDOW_DAYS, MODEL_PATH, evidence, load_model, model_summary
from resolution.numbering import Allocator, assign_case_numbers, withdrawn_numbers
from schemas.identifiers import mask_identifier_series, mask_phone_series
from schemas.warehouse import (
    case_links,
    evaluation_links,
    golden_cases,
    link_evidence,
    outbox,
    resolution_splits,
    review_decisions,
    review_queue,
    staged_cases,
    staged_evaluations,
    staged_materials,
    staged_pauses,
)

#: How far around the day linking looks: the case window plus the lag of a clerk's re-entry.
LOOKBACK_DAYS = CASE_WINDOW_DAYS + 2
FIGURES = (
    "review_queue",
    "staged",
    "golden_in_partition",
    "duplicates_in_partition",
    "linked_to_earlier_days",
    "new_golden_cases",
    "golden_versions_queued",
    "orphaned_golden_cases",
    "links_split",
)
PAIR_KEYS = ["source_system_l", "source_record_id_l", "source_system_r", "source_record_id_r"]
TARGETS = CASE_RECEIVERS
CHUNK = 500
#: How a record's link stands, read with it (:func:`_linked_records`).
LINK_STATE = ["link_role", "link_rule", "link_probability"]


def _linked_records(conn: sa.Connection, condition) -> pd.DataFrame:
    """The staged records ``condition`` picks with their golden case and how their link stands now
    (``link_role``, ``link_rule``, ``link_probability``: an update that would not change it is not sent)."""
    c = case_links.c
    join = staged_cases.join(
        case_links,
        (staged_cases.c.source_system == c.source_system)
        & (staged_cases.c.partition_date == c.partition_date)
        & (staged_cases.c.record_key == c.record_key),
    )
    query = (
        sa.select(
            staged_cases,
            c.golden_case_id,
            c.role.label("link_role"),
            c.match_rule.label("link_rule"),
            c.match_probability.label("link_probability"),
        )
        .select_from(join)
        .where(condition)
    )
    return frame_of(conn.execute(query))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    for column in ("submitted_at", "accepted_at", "decided_at", "completed_at"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def _decisions(conn: sa.Connection) -> pd.DataFrame:
    return pd.DataFrame(
        conn.execute(sa.select(*(review_decisions.c[k] for k in PAIR_KEYS), review_decisions.c.decision)).fetchall(),
        columns=[*PAIR_KEYS, "decision"],
    )


def _same_source_records(pool: pd.DataFrame) -> pd.DataFrame:
    """One source record seen on two days (it changed) is one record: linked without asking the model."""
    keyed = pool[["source_system", "source_record_id"]].reset_index()
    pairs = keyed.merge(keyed, on=["source_system", "source_record_id"], suffixes=("_l", "_r"))
    pairs = pairs[pairs["index_l"] < pairs["index_r"]]
    return pd.DataFrame(
        {
            "source_system_l": pairs["source_system"],
            "source_record_id_l": pairs["source_record_id"],
            "source_system_r": pairs["source_system"],
            "source_record_id_r": pairs["source_record_id"],
            "decision": "same",
        }
    )


def _how_linked(result, n: int, decisions: pd.DataFrame, pool: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per record: how its strongest link was made (model / reviewer / same_source_record, or new) and its
    probability."""
    rule = np.full(n, "new", dtype=object)
    probability = np.full(n, np.nan)
    if result is None:
        return rule, probability
    if not result.links.empty:
        ends = pd.concat(
            [
                result.links[["uid_l", "match_probability"]].rename(columns={"uid_l": "uid"}),
                result.links[["uid_r", "match_probability"]].rename(columns={"uid_r": "uid"}),
            ]
        )
        best = ends.groupby("uid")["match_probability"].max()
        probability[best.index.to_numpy()] = best.to_numpy()
        rule[best.index.to_numpy()] = "model"
    key = pool["source_system"] + "|" + pool["source_record_id"]
    repeated = key.duplicated(keep=False).to_numpy()
    rule[repeated] = "same_source_record"
    same = decisions[decisions["decision"] == "same"]
    decided = set(same["source_system_l"] + "|" + same["source_record_id_l"]) | set(
        same["source_system_r"] + "|" + same["source_record_id_r"]
    )
    rule[isin(key, decided).to_numpy() & (rule != "same_source_record")] = "reviewer"
    return rule, probability


def _pair_frame(pool: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    left = pool.iloc[pairs["uid_l"].to_numpy()].reset_index(drop=True)
    right = pool.iloc[pairs["uid_r"].to_numpy()].reset_index(drop=True)
    return pd.DataFrame(
        {
            "source_system_l": left["source_system"],
            "source_record_id_l": left["source_record_id"],
            "source_system_r": right["source_system"],
            "source_record_id_r": right["source_record_id"],
        }
    )


def _oriented(pool: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Pairs with the smaller (source, id) on the left, as decisions are stored: a pair found again from another
    day's side is then the same row."""
    key = (pool["source_system"].astype(str) + "\x1f" + pool["source_record_id"].astype(str)).to_numpy()
    swap = key[pairs["uid_l"].to_numpy()] > key[pairs["uid_r"].to_numpy()]
    left, right = pairs["uid_l"].to_numpy(), pairs["uid_r"].to_numpy()
    return pairs.assign(uid_l=np.where(swap, right, left), uid_r=np.where(swap, left, right))


def _side(records: pd.DataFrame) -> pd.Series:
    """One record for a reviewer's eyes: identifiers and phones masked."""
    ident = mask_identifier_series(records["applicant_id"].fillna(""), records["applicant_id_kind"].fillna("ric"))
    phone = mask_phone_series(records["contact_phone"].fillna(""))
    day = pd.to_datetime(records["submitted_at"]).dt.strftime("%Y-%m-%d")
    return (
        records["source_system"]
        + " "
        + records["source_record_id"]
        + "｜"
        + records["applicant_name"].fillna("")
        + "｜"
        + ident
        + "｜"
        + phone
        + "｜"
        + records["item_name"].fillna("")
        + "｜"
        + day.fillna("")
    )


def _with_constraint(pairs: pd.DataFrame, evidence_json: list[str]) -> list[str]:
    """The evidence of a pair a constraint kept apart names the constraint (``not_merged``) beside the fields."""
    if "constraint" not in pairs:
        return evidence_json
    out = []
    for text, constraint in zip(evidence_json, pairs["constraint"], strict=True):
        if isinstance(constraint, str):
            detail = json.loads(text)
            detail["not_merged"] = {"constraint": constraint, "reason": CONSTRAINTS[constraint]}
            text = json.dumps(detail, ensure_ascii=False)
        out.append(text)
    return out


def _record_evidence(conn, pool, result, is_new, partition, now) -> None:
    """Why each new link was made, the links a constraint split, and the uncertain pairs a person must decide,
    for pairs touching the day."""
    model = load_model()
    tables = ((link_evidence, result.links), (review_queue, result.review), (resolution_splits, result.splits))
    for table, pairs in tables:
        conn.execute(table.delete().where(table.c.partition_date == partition))
        if pairs.empty:
            continue
        touching = pairs[is_new[pairs["uid_l"].to_numpy()] | is_new[pairs["uid_r"].to_numpy()]].reset_index(drop=True)
        if touching.empty:
            continue
        touching = _oriented(pool, touching)
        frame = _pair_frame(pool, touching).assign(
            partition_date=partition,
            match_probability=touching["match_probability"].to_numpy(),
            evidence=_with_constraint(touching, evidence(touching, model)),
        )
        if table is link_evidence:
            frame["match_weight"] = touching["match_weight"].to_numpy() if "match_weight" in touching else None
        elif table is resolution_splits:
            frame["constraint_name"] = touching["constraint"].to_numpy()
            frame["split_at"] = now
        else:
            left = _side(pool.iloc[touching["uid_l"].to_numpy()].reset_index(drop=True))
            right = _side(pool.iloc[touching["uid_r"].to_numpy()].reset_index(drop=True))
            frame["summary"] = (left + "\n" + right).to_numpy()
            if "constraint" in touching:
                why = touching["constraint"].map(CONSTRAINTS)
                note = ("\n不合并（" + why + "）：each is kept with a stronger match; decide which is right").fillna("")
                frame["summary"] = frame["summary"] + note.to_numpy()
            frame["queued_at"] = now
            decided = _decisions(conn)
            frame = frame.merge(decided[PAIR_KEYS], on=PAIR_KEYS, how="left", indicator=True)
            frame = frame[frame["_merge"] == "left_only"].drop(columns="_merge")
        frame = frame.drop_duplicates(PAIR_KEYS)
        existing = _stored_pairs(conn, table, frame)
        frame = frame.merge(existing, on=PAIR_KEYS, how="left", indicator=True)
        insert_frame(conn, table, frame[frame["_merge"] == "left_only"].drop(columns="_merge"))


def _stored_pairs(conn: sa.Connection, table: sa.Table, pairs: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``table`` (link evidence, review queue, splits) already stored for these pairs, found by their
    left record through the key's index: a day reads its own pairs, not every pair of history."""
    t = table.c
    found = [
        pd.DataFrame(
            conn.execute(
                sa.select(*(t[k] for k in PAIR_KEYS)).where(
                    t.source_system_l.in_(sorted(set(chunk["source_system_l"])))
                    & t.source_record_id_l.in_(sorted(set(chunk["source_record_id_l"])))
                )
            ).fetchall(),
            columns=PAIR_KEYS,
        )
        for chunk in (pairs.iloc[start : start + CHUNK] for start in range(0, len(pairs), CHUNK))
    ]
    return pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=PAIR_KEYS)


RULE_RANK = {"new": 0, "model": 1, "same_source_record": 2, "reviewer": 3}


def _strengthen_neighbours(conn: sa.Connection, neighbours: pd.DataFrame, rule: np.ndarray, probability) -> None:
    """A record of another day that this day's records link to keeps the strongest way it was ever linked, so
    the order in which days are resolved (a backfill runs them in any order) does not change how links read."""
    frame = neighbours[["source_system", "partition_date", "record_key", "link_rule", "link_probability"]].assign(
        rule=rule, p=probability
    )
    # only the links this day makes stronger (the update below keeps the stronger of the two either way)
    current = frame["link_rule"].map(RULE_RANK).fillna(0)
    held = pd.to_numeric(frame["link_probability"], errors="coerce")
    stronger = frame["rule"].map(RULE_RANK).fillna(0) > current
    likelier = frame["p"].notna() & (held.isna() | (held < frame["p"]))
    frame = frame[(frame["rule"] != "new") & (stronger | likelier)]
    if frame.empty:
        return
    c = case_links.c
    rank = sa.case(*((c.match_rule == name, value) for name, value in RULE_RANK.items()), else_=0)
    keyed = (c.source_system == sa.bindparam("s")) & (c.partition_date == sa.bindparam("d"))
    keyed &= c.record_key == sa.bindparam("k")
    conn.execute(
        case_links.update()
        .where(keyed)
        .values(
            match_rule=sa.case((rank < sa.bindparam("rank"), sa.bindparam("rule")), else_=c.match_rule),
            match_probability=sa.case(
                (c.match_probability.is_(None) | (c.match_probability < sa.bindparam("p")), sa.bindparam("p")),
                else_=c.match_probability,
            ),
        ),
        [
            {
                "s": r.source_system,
                "d": r.partition_date,
                "k": r.record_key,
                "rule": r.rule,
                "rank": RULE_RANK[r.rule],
                "p": None if pd.isna(r.p) else float(r.p),
            }
            for r in frame.itertuples()
        ],
    )


def resolve_partition(conn: sa.Connection, partition: dt.date, allocator: Allocator | None = None) -> dict:
    """Link the partition's records, rebuild touched golden cases and queue new versions. Returns figures.
    ``allocator``: where new 办件编号 come from (default: the bridge's own serials)."""
    now = clock.now()
    new = _typed(frame_of(conn.execute(sa.select(staged_cases).where(staged_cases.c.partition_date == partition))))
    lo, hi = partition - dt.timedelta(days=LOOKBACK_DAYS), partition + dt.timedelta(days=LOOKBACK_DAYS)
    around = staged_cases.c.partition_date.between(lo, hi) & (staged_cases.c.partition_date != partition)
    neighbours = _linked_records(conn, around)
    # Every record of the golden cases around the day, also those further away: a constraint between one of them
    # and a new record (two items, or more than the window apart) must see the whole golden case.
    members = sorted(set(neighbours["golden_case_id"].dropna()))
    further = [
        _linked_records(
            conn, case_links.c.golden_case_id.in_(chunk) & ~around & (case_links.c.partition_date != partition)
        )
        for chunk in in_lists(members)
    ]
    neighbours = _typed(pd.concat([neighbours, *further], ignore_index=True) if further else neighbours)
    before = {
        row.golden_case_id
        for row in conn.execute(sa.select(case_links.c.golden_case_id).where(case_links.c.partition_date == partition))
    }
    conn.execute(case_links.delete().where(case_links.c.partition_date == partition))
    conn.execute(evaluation_links.delete().where(evaluation_links.c.partition_date == partition))
    evaluated = _evaluated_on(conn, partition)
    if new.empty and not before and not evaluated:
        return dict.fromkeys(FIGURES, 0) | {"rules": {}, "case_numbers": {}}

    pool = pd.concat([neighbours, new.assign(golden_case_id=pd.NA)], ignore_index=True)
    is_new = (pool.index >= len(neighbours)).astype(bool)
    decisions = pd.concat([_decisions(conn), _same_source_records(pool)], ignore_index=True)
    engine = make_engine()
    try:
        engine.load(pool)
        result = engine.resolve(decisions=decisions) if len(pool) else None
    finally:
        engine.close()
    component = result.cluster if result is not None else []
    pool["golden_case_id"] = assign_golden_ids(pool, component)
    rule, probability = _how_linked(result, len(pool), decisions, pool)
    links = pool.loc[is_new, ["source_system", "partition_date", "record_key", "golden_case_id"]].assign(
        match_rule=rule[is_new], match_probability=probability[is_new], role="duplicate", linked_at=now
    )
    insert_frame(conn, case_links, links)
    _strengthen_neighbours(conn, pool.loc[~is_new], rule[~is_new], probability[~is_new])
    if result is not None:
        _record_evidence(conn, pool, result, is_new, partition, now)

    touched = sorted(before | set(links["golden_case_id"]) | evaluated)
    linked = pd.concat(
        [_typed(_linked_records(conn, case_links.c.golden_case_id.in_(chunk))) for chunk in in_lists(touched)]
        or [pd.DataFrame(columns=[*[c.name for c in staged_cases.columns], "golden_case_id", *LINK_STATE])],
        ignore_index=True,
    )
    linked["role"] = roles(linked) if len(linked) else pd.Series(dtype="string")
    # A source record seen on several days is one record, however the days were resolved: each of its states
    # reads as such, from the golden case's whole membership rather than from the day's neighbourhood.
    linked["repeated"] = linked.duplicated(["golden_case_id", "source_system", "source_record_id"], keep=False)
    # only the links whose role or same-record reading this changes
    moved = (linked["role"].astype("string") != linked["link_role"].astype("string")).fillna(True)
    unread = (linked["link_rule"].astype("string") != "same_source_record").fillna(True)
    unread |= pd.to_numeric(linked["link_probability"], errors="coerce").ne(1.0)
    relinked = linked[moved | (linked["repeated"] & unread)]
    if len(relinked):
        c = case_links.c
        conn.execute(
            case_links.update()
            .where(
                (c.source_system == sa.bindparam("s"))
                & (c.partition_date == sa.bindparam("p"))
                & (c.record_key == sa.bindparam("k"))
            )
            .values(
                role=sa.bindparam("r"),
                match_rule=sa.case((sa.bindparam("same"), "same_source_record"), else_=c.match_rule),
                match_probability=sa.case((sa.bindparam("same"), 1.0), else_=c.match_probability),
            ),
            [
                {"s": r.source_system, "p": r.partition_date, "k": r.record_key, "r": r.role, "same": r.repeated}
                for r in relinked[["source_system", "partition_date", "record_key", "role", "repeated"]].itertuples()
            ],
        )

    rebuilt = build_golden_cases(linked)
    # The 办件编号 each case goes out under; part of the content, so a number newly carried is a new version.
    rebuilt["project_no"], numbering = assign_case_numbers(conn, rebuilt, linked, partition, now, allocator)
    rebuilt["withdrawn_numbers"] = withdrawn_numbers(conn, rebuilt, linked)
    rebuilt["pauses"] = pauses_of(rebuilt["golden_case_id"], _linked_pauses(conn, linked))
    rebuilt["materials"] = materials_of(rebuilt["golden_case_id"], _linked_materials(conn, linked), linked)
    rebuilt["evaluation"] = evaluation_documents(
        rebuilt["golden_case_id"], _linked_evaluations(conn, rebuilt["golden_case_id"].tolist(), partition)
    )
    rebuilt["content_hash"] = content_hashes(rebuilt)
    previous = pd.concat(
        [
            pd.DataFrame(
                conn.execute(
                    sa.select(
                        golden_cases.c.golden_case_id,
                        golden_cases.c.version,
                        golden_cases.c.content_hash,
                        golden_cases.c.first_partition,
                        golden_cases.c.updated_partition,
                        golden_cases.c.updated_at,
                    ).where(golden_cases.c.golden_case_id.in_(chunk))
                )
                .mappings()
                .all()
            )
            for chunk in in_lists(touched)
        ]
        or [pd.DataFrame()],
        ignore_index=True,
    )
    if previous.empty:
        previous = pd.DataFrame(
            columns=["golden_case_id", "version", "content_hash", "first_partition", "updated_partition", "updated_at"]
        )
    merged = rebuilt.merge(previous, on="golden_case_id", how="left", suffixes=("", "_before"))
    unchanged = merged["content_hash"] == merged["content_hash_before"]
    merged["version"] = merged["version"].fillna(0).astype(int) + (~unchanged).astype(int)
    merged["first_partition"] = merged["first_partition"].fillna(partition)
    merged["updated_partition"] = merged["updated_partition"].where(unchanged, partition)
    merged["updated_at"] = merged["updated_at"].where(unchanged, now)

    orphans = sorted(set(previous["golden_case_id"]) - set(rebuilt["golden_case_id"]))
    for chunk in in_lists(touched):
        conn.execute(golden_cases.delete().where(golden_cases.c.golden_case_id.in_(chunk)))
    for chunk in in_lists(orphans):  # a rerun moved every record away: drop what was never sent
        conn.execute(outbox.delete().where(outbox.c.golden_case_id.in_(chunk) & (outbox.c.status == "queued")))
    insert_frame(conn, golden_cases, merged)

    changed = merged[~unchanged].reset_index(drop=True)
    queued = queue_versions(conn, changed, partition, now)
    role_counts = (
        linked.loc[pd.to_datetime(linked["partition_date"]).dt.date == partition, "role"].value_counts()
        if len(linked)
        else pd.Series(dtype=int)
    )
    return {
        "review_queue": len(result.review) if result is not None else 0,
        "staged": len(new),
        "golden_in_partition": int(role_counts.get("golden", 0)),
        "duplicates_in_partition": int(role_counts.get("duplicate", 0)),
        "linked_to_earlier_days": int(isin(links["golden_case_id"], neighbours["golden_case_id"]).sum()),
        "new_golden_cases": int(merged["content_hash_before"].isna().sum()),
        "golden_versions_queued": queued,
        "rules": links["match_rule"].value_counts().to_dict(),
        "orphaned_golden_cases": len(orphans),
        "links_split": len(result.splits) if result is not None else 0,
        "case_numbers": numbering,
    }


def _linked_listed(conn: sa.Connection, table: sa.Table, columns: list[str], linked: pd.DataFrame) -> pd.DataFrame:
    """The readable rows (no ``problem``) a linked record lists in ``table`` (its pauses, its materials): the
    record's key, ``columns`` and its golden case."""
    keys = ["source_system", "partition_date", "record_key"]
    t = table.c
    found = [
        pd.DataFrame(
            conn.execute(
                sa.select(*(t[c] for c in [*keys, *columns])).where(t.record_key.in_(chunk) & t.problem.is_(None))
            ).all(),
            columns=[*keys, *columns],
        )
        for chunk in in_lists(sorted(set(linked["record_key"])))
    ]
    rows = pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=[*keys, *columns])
    if rows.empty:
        return pd.DataFrame(columns=[*keys, *columns, "golden_case_id"])
    rows["partition_date"] = pd.to_datetime(rows["partition_date"]).dt.date
    members = linked[[*keys, "golden_case_id"]].assign(partition_date=pd.to_datetime(linked["partition_date"]).dt.date)
    return rows.merge(members, on=keys)


def _linked_pauses(conn: sa.Connection, linked: pd.DataFrame) -> pd.DataFrame:
    """The counted pauses (特别程序) of the linked records, with their golden case."""
    return _linked_listed(conn, staged_pauses, ["kind", "started_at", "ended_at"], linked)


def _linked_materials(conn: sa.Connection, linked: pd.DataFrame) -> pd.DataFrame:
    """The readable materials (材料) of the linked records, with their golden case."""
    return _linked_listed(conn, staged_materials, ["seq", "name", "get_type", "count", "attachment"], linked)


def _evaluated_on(conn: sa.Connection, partition: dt.date) -> set[str]:
    """The golden cases an evaluation staged on the day names: they go out again, with it."""
    numbers = sorted(
        {
            row.case_no
            for row in conn.execute(
                sa.select(staged_evaluations.c.case_no).where(staged_evaluations.c.partition_date == partition)
            )
        }
    )
    index = number_index(conn, case_nos=numbers)
    if index.empty:
        return set()
    named_once = index.groupby("case_no")["golden_case_id"].transform("nunique") == 1
    return set(index.loc[named_once, "golden_case_id"])


def _linked_evaluations(conn: sa.Connection, golden_ids: list[str], partition: dt.date) -> pd.DataFrame:
    """The evaluations of these golden cases, linked: those staged up to the day under one of their numbers, and
    those an earlier run linked to them whenever they were staged (so a day re-run later keeps them, and a run of
    many days links an evaluation on the same day as one run per day would)."""
    e = staged_evaluations.c
    numbers = number_index(conn, golden_ids=golden_ids)
    if numbers.empty:
        return pd.DataFrame()
    frames, named = [], []
    for chunk in in_lists(sorted(set(numbers["case_no"]))):
        frames.append(frame_of(conn.execute(sa.select(staged_evaluations).where(e.case_no.in_(chunk)))))
        named.append(number_index(conn, case_nos=chunk))  # every case each number names, these and others
    records = pd.concat(frames, ignore_index=True)
    if records.empty:
        return records
    records["partition_date"] = pd.to_datetime(records["partition_date"]).dt.date
    links = evaluation_links.c
    earlier = {
        (row.source_system, row.evaluation_id)
        for chunk in in_lists(golden_ids)
        for row in conn.execute(
            sa.select(links.source_system, links.evaluation_id).where(
                links.golden_case_id.in_(chunk) & (links.partition_date != partition)
            )
        )
    }
    key = pd.Series(list(zip(records["source_system"], records["evaluation_id"], strict=True)), index=records.index)
    records = records[(records["partition_date"] <= partition) | isin(key, earlier)]
    if records.empty:
        return records
    linked = link(newest_states(records), pd.concat(named, ignore_index=True))
    linked = linked[isin(linked["golden_case_id"], golden_ids)]
    first_today = linked[
        ~pd.Series(list(zip(linked["source_system"], linked["evaluation_id"], strict=True)), index=linked.index).isin(
            earlier
        )
    ]
    insert_frame(
        conn,
        evaluation_links,
        first_today[["source_system", "evaluation_id", "golden_case_id"]].assign(partition_date=partition),
    )
    return linked


def model_version() -> str:
    """The trained model's identity: a hash of its file, the asset's code version."""
    return hashlib.sha256(MODEL_PATH.read_bytes()).hexdigest()[:16]


def queue_versions(conn: sa.Connection, changed: pd.DataFrame, partition: dt.date, now: dt.datetime) -> int:
    """One outbox row per receiver for every new golden-case version."""
    if changed.empty:
        return 0
    return queue(conn, TARGETS, changed["golden_case_id"], changed["version"], payload_json(changed), partition, now)


@asset(
    deps=["staged_cases", "staged_evaluations"],
    partitions_def=DAILY,
    group_name="resolve",
    kinds={"pandas", "sqlalchemy"},
    owners=["team:data-platform"],
    pool="case_resolution",  # days link against each other: one resolution at a time
    backfill_policy=WEEKLY_CHUNKS,
    code_version=model_version(),  # a retrained model shows as a code change: its days may be re-resolved
    metadata=table_metadata(golden_cases, case_links, outbox),
    description="Finds records that describe the same case (a clerk's re-entry, a case typed twice), keeps the "
    "link table record → golden case, builds golden cases by survivorship (department systems win over re-typed "
    "copies), gives each its 办件编号 (the department's own when valid, else one allocated once from the configured "
    "source) and queues every new golden-case version for the receivers.",
)
def case_resolution(
    context: AssetExecutionContext, warehouse: ResourceParam[Warehouse], case_numbering: ResourceParam[Allocator]
) -> MaterializeResult:
    days, rules, numbers = [], collections.Counter(), collections.Counter()
    for day in partition_days(context):  # oldest first: a day links against the days before it
        # one transaction a day, done again whole if the warehouse was locked or out of reach for a moment
        figures = warehouse.transaction(
            lambda conn, date=day.date: resolve_partition(conn, date, case_numbering), "case_resolution"
        )
        rules.update(figures.pop("rules"))
        numbers.update(figures.pop("case_numbers"))
        days.append({"partition_date": day.date, **figures})
    # staged = golden + duplicates is checked on its own, per day (resolve/checks.py)
    report_days(context, days, "staged")  # each partition its own figures, over the run's totals below
    total = pd.DataFrame(days).drop(columns="partition_date").sum()
    rules = pd.Series(rules, name="records").rename_axis("match_rule").reset_index()
    return MaterializeResult(
        metadata={
            "dagster/row_count": int(total["staged"]),
            "golden_in_partition": int(total["golden_in_partition"]),
            "duplicates_found": int(total["duplicates_in_partition"]),
            "linked_to_earlier_days": int(total["linked_to_earlier_days"]),
            "new_golden_cases": int(total["new_golden_cases"]),
            "golden_versions_queued": int(total["golden_versions_queued"]),
            "orphaned_golden_cases": int(total["orphaned_golden_cases"]),
            "pairs_to_review": int(total["review_queue"]),
            "links_split_by_constraints": int(total["links_split"]),
            "by_day": MetadataValue.md(per_day(days)),
            "resolution_model": MetadataValue.md(model_summary(load_model()).round(4).to_markdown(index=False)),
            "match_rules": MetadataValue.md(rules.to_markdown(index=False) if len(rules) else "none"),
            # 办件编号: kept from a department's record, reused, newly allocated (from the source named), replaced by a
            # department's, none to be had; new numbers under a derived 实施编码 (assumed: confirm with the catalogue)
            "case_numbers": MetadataValue.json(dict(numbers)),
            "case_number_source": case_numbering.source,
        },
    )
