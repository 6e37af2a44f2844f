"""The licence repository's logic: events from each source, holders linked across sources, and the fold of a
licence's history into its current row.

History is the record: ``licence_events`` holds what every source said happened to a licence (issued,
changed, renewed, suspended, revoked, cancelled, expired), and the current row in ``licences`` is the fold of
those events in date order. A licence is one licence whichever system reports it: its key is its type and
the number printed on it. Re-running a day replaces that day's events and re-folds the licences they touch.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import duckdb
import numpy as np
import pandas as pd
import sqlalchemy as sa

from core.departments import department
from core.warehouse import frame_of, insert_frame
from schemas.case import departments, is_completed, items
from schemas.identifiers import (
    ID_KIND_RIC,
    ID_KIND_USCC,
    classify_identifiers,
    make_licence_identifier,
    normalize_code_series,
)
from schemas.licences import (
    AREA_CODE,
    EVENT_ORDER,
    EVENT_STATUS,
    HOLDER_CODE_TYPES,
    VALID,
    business_licence_number,
    holder_id,
    licence_key,
)
from schemas.warehouse import holder_codes, holders, licence_events, licences
from staging.normalise import company_name_key

ISSUER = "approval_bureau"  # after 相对集中行政许可权 the bureau issues in its own name
BUSINESS_LICENCE_TYPES = ("11100000MB0143028R001", "11100000MB0143028R002")
#: What an event may state about a licence; the fold keeps the latest stated value of each.
FIELDS = ["licence_type_code", "licence_name", "licence_no", "holder_name", "holder_code", "holder_code_type",
          "issue_date", "valid_from", "valid_to"]  # fmt: skip
EVENT_COLUMNS = ["event", "effective_date", "source", "source_ref", "golden_case_id", *FIELDS]
CURRENT = [c.name for c in licences.columns]
#: On the same day a case's word comes first, then a system's licence feed, then the expiry run.
SOURCE_RANK = {"case": 0, "expiry": 2, "supervision": 3}
#: Findings fed back by supervisors (审管互动) that change a licence's status: their events' source.
SUPERVISION_SOURCE = "supervision"
FINDING_EVENTS = {"suspension": "suspended", "revocation": "revoked"}
#: A licence a finding names may still be acted on in these statuses (a revoked one is not revoked again).
IN_FORCE = (VALID, "暂扣")
FEED_RANK = 1


def licence_types() -> pd.DataFrame:
    """Per licence type: its name, validity and the department that supervises holders (审管互动)."""
    catalogue = items()
    typed = catalogue[catalogue["licence_type_code"].fillna("") != ""]
    return typed.drop_duplicates("licence_type_code").set_index("licence_type_code")[
        ["licence_name", "validity_years", "handling_dept"]
    ]


def _serial(keys: pd.Series) -> pd.Series:
    return keys.map(lambda g: str(int(hashlib.sha1(g.encode()).hexdigest()[:10], 16) % 10**6).zfill(6))


# ---------------------------------------------------------------- events from each source
def _issuable(cases: pd.DataFrame) -> pd.Series:
    return is_completed(cases) & cases["applicant_id"].fillna("").ne("")


def awaiting_holder(cases: pd.DataFrame) -> int:
    """Completed golden cases whose licence waits for the holder's identifier."""
    return int((is_completed(cases) & ~_issuable(cases)).sum())


def case_events(cases: pd.DataFrame) -> pd.DataFrame:
    """An ``issued`` event for every completed golden case whose item issues a licence, once its holder is
    identified: a clerk's re-entry without the applicant's identifier waits for the department's record (the
    golden case is rebuilt, and its licence issued, when that record links)."""
    catalogue = items().set_index("item_code")
    done = cases[_issuable(cases)].copy()
    done["licence_type_code"] = done["item_code"].map(catalogue["licence_type_code"]).fillna("")
    done = done[done["licence_type_code"] != ""]
    if done.empty:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    issued = pd.to_datetime(done["completed_at"]).dt.normalize()
    years = pd.to_numeric(done["item_code"].map(catalogue["validity_years"]), errors="coerce")
    valid_to = pd.Series(
        [
            d + pd.DateOffset(years=int(y)) - pd.Timedelta(days=1) if pd.notna(y) else pd.NaT
            for d, y in zip(issued, years, strict=True)
        ],
        index=done.index,
    )
    return pd.DataFrame(
        {
            "event": "issued",
            "effective_date": issued.dt.date,
            "source": "case",
            "source_ref": done["golden_case_id"],
            "golden_case_id": done["golden_case_id"],
            "licence_type_code": done["licence_type_code"],
            "licence_name": done["item_code"].map(catalogue["licence_name"]),
            "licence_no": None,  # numbered once the holder is known (a business licence carries the USCC)
            "holder_name": done["applicant_name"],
            "holder_code": done["applicant_id"],
            "holder_code_type": None,
            "issue_date": issued.dt.date,
            "valid_from": issued.dt.date,
            "valid_to": pd.to_datetime(valid_to).dt.date,
        }
    ).reset_index(drop=True)


def feed_events(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """A system's licence events, its fields and operation codes mapped as its declaration says."""
    if raw.empty:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    feed = department(source).licence_feed
    if feed is None:
        raise ValueError(f"{source} declares no licence feed")
    payloads = pd.DataFrame([json.loads(p) for p in raw["payload"]])
    rows = pd.DataFrame({name: payloads.get(field) for name, field in feed.fields.items()}, index=payloads.index)

    def day(column: str) -> pd.Series:
        return pd.to_datetime(rows[column].replace("", None), errors="coerce").dt.date

    return pd.DataFrame(
        {
            "event": rows["operation"].map(feed.operations).fillna("changed"),
            "effective_date": day("effective_date"),
            "source": source,
            "source_ref": rows["source_ref"],
            "golden_case_id": None,
            **{name: rows[name] for name in ("licence_type_code", "licence_name", "licence_no", "holder_name")},
            **{name: rows[name] for name in ("holder_code", "holder_code_type")},
            "issue_date": day("issue_date"),
            "valid_from": day("valid_from"),
            "valid_to": day("valid_to"),
        }
    )


# ---------------------------------------------------------------- holders
def link_holders(conn: sa.Connection, events: pd.DataFrame, now: dt.datetime) -> pd.DataFrame:
    """Give every event's holder a ``holder_id``: by its identifier when the identifier is valid; a mistyped one
    through a known spelling, else the holder of the same name whose valid identifier is one or two characters
    away. Holders and the spellings seen are upserted."""
    if events.empty:
        return events.assign(holder_id=pd.Series(dtype="string"))
    ids = classify_identifiers(events["holder_code"].astype("string"))
    events = events.assign(
        _code=ids["id"].fillna(events["holder_code"].astype("string")),
        _kind=ids["kind"],
        _ok=ids["checksum_ok"].to_numpy(),
        _name_key=company_name_key(events["holder_name"].astype("string")),
    )
    valid = events[events["_ok"]].drop_duplicates("_code")
    mistyped = events.loc[~events["_ok"], ["_code", "_name_key"]].drop_duplicates("_code")
    known = _holders_named(conn, mistyped["_name_key"].dropna().unique().tolist())
    candidates = pd.concat(
        [known, valid[["_code", "holder_name"]].rename(columns={"_code": "holder_code"})], ignore_index=True
    ).drop_duplicates("holder_code")
    candidates["name_key"] = company_name_key(candidates["holder_name"].astype("string"))
    spelled = pd.DataFrame(
        conn.execute(
            sa.select(holder_codes.c.code, holder_codes.c.holder_id).where(
                holder_codes.c.code.in_(mistyped["_code"].dropna().tolist())
            )
        ).fetchall(),
        columns=["_code", "holder_id"],
    )
    near = _near_codes(mistyped[~mistyped["_code"].isin(spelled["_code"])], candidates)
    events["holder_id"] = holder_id(events["_code"].fillna(""))  # valid: the identifier's own holder
    resolved = pd.concat([spelled, near], ignore_index=True).set_index("_code")["holder_id"].astype(object)
    mapped = events["_code"].map(resolved)
    events["holder_id"] = events["holder_id"].where(events["_ok"] | mapped.isna(), mapped)
    own = events["holder_id"] == holder_id(events["_code"].fillna(""))
    # A code that classifies as neither (a 身份证号 with an impossible birth date) keeps the type its source
    # stated, else the type its shape suggests: never a legal person's by default.
    stated = events["holder_code_type"].map({v: k for k, v in HOLDER_CODE_TYPES.items()})
    shaped = np.where(events["_code"].fillna("").str.fullmatch(r"\d{17}[\dX]"), ID_KIND_RIC, ID_KIND_USCC)
    kind = events["_kind"].fillna(stated).fillna(pd.Series(shaped, index=events.index))
    # (assign before filtering: a Series assigned to an empty frame would bring its own index along)
    new_holders = events.assign(
        holder_code=events["_code"], holder_code_type=kind.map(HOLDER_CODE_TYPES), updated_at=now
    )
    new_holders = new_holders[own].sort_values("effective_date").drop_duplicates("holder_id", keep="last")
    new_holders = new_holders.assign(name_key=new_holders["_name_key"].fillna(""))
    columns = ["holder_id", "holder_code", "holder_code_type", "holder_name", "updated_at", "name_key"]
    _upsert(conn, holders, new_holders[columns])
    how = np.where(events["_ok"], "identifier", np.where(own, "unverified", "resolved"))
    spellings = pd.DataFrame({"code": events["_code"], "holder_id": events["holder_id"], "how": how}).dropna()
    _upsert(conn, holder_codes, spellings.drop_duplicates("code"), key="code")
    # The licence names its holder by the holder's own identifier, whatever the source typed.
    canonical = pd.DataFrame(
        conn.execute(
            sa.select(holders.c.holder_id, holders.c.holder_code, holders.c.holder_code_type).where(
                holders.c.holder_id.in_(events["holder_id"].unique().tolist())
            )
        ).fetchall(),
        columns=["holder_id", "canonical_code", "canonical_type"],
    ).set_index("holder_id")
    events["holder_code"] = events["holder_id"].map(canonical["canonical_code"])
    events["holder_code_type"] = events["holder_id"].map(canonical["canonical_type"])
    return events.drop(columns=["_code", "_kind", "_ok", "_name_key"])


def _holders_named(conn: sa.Connection, name_keys: list[str]) -> pd.DataFrame:
    """The holders (holder_code, holder_name) whose name compares equal to one of ``name_keys``, by the index on
    ``holders.name_key``, not a read of every holder. Holders written before the column existed get their key
    first (once: the next day finds none without one)."""
    h = holders.c
    if not name_keys:
        return pd.DataFrame(columns=["holder_code", "holder_name"])
    unkeyed = frame_of(conn.execute(sa.select(h.holder_id, h.holder_name).where(h.name_key.is_(None))))
    if len(unkeyed):
        unkeyed["key"] = company_name_key(unkeyed["holder_name"].astype("string")).fillna("")
        conn.execute(
            holders.update().where(h.holder_id == sa.bindparam("h")).values(name_key=sa.bindparam("k")),
            [{"h": i, "k": k} for i, k in zip(unkeyed["holder_id"], unkeyed["key"], strict=True)],
        )
    parts = [
        frame_of(conn.execute(sa.select(h.holder_code, h.holder_name).where(h.name_key.in_(name_keys[i : i + 500]))))
        for i in range(0, len(name_keys), 500)
    ]
    return pd.concat(parts, ignore_index=True).reindex(columns=["holder_code", "holder_name"])


def _near_codes(mistyped: pd.DataFrame, candidates: pd.DataFrame) -> pd.DataFrame:
    """Mistyped identifiers matched to exactly one valid identifier of a holder with the same name."""
    if mistyped.empty or candidates.empty:
        return pd.DataFrame(columns=["_code", "holder_id"])
    with duckdb.connect() as db:
        db.register("m", mistyped)
        db.register("c", candidates[["holder_code", "name_key"]])
        pairs = db.execute(
            """
            SELECT m._code, any_value(c.holder_code) AS holder_code
            FROM m JOIN c ON m._name_key = c.name_key
            WHERE levenshtein(m._code, c.holder_code) <= 2
            GROUP BY m._code HAVING COUNT(*) = 1
            """
        ).df()
    return pd.DataFrame({"_code": pairs["_code"], "holder_id": holder_id(pairs["holder_code"])})


def _upsert(conn: sa.Connection, table: sa.Table, frame: pd.DataFrame, key: str | None = None) -> None:
    key = key or table.primary_key.columns.keys()[0]
    values = frame[key].tolist()
    for start in range(0, len(values), 500):
        conn.execute(table.delete().where(table.c[key].in_(values[start : start + 500])))
    insert_frame(conn, table, frame)


def name_holders(conn: sa.Connection, holder_ids: list[str]) -> None:
    """Each holder is named as its newest licence event names it (an 更名 changes the name from its effective
    date), whichever order the days were loaded in."""
    ids = sorted(set(holder_ids))
    keys = [
        r[0]
        for start in range(0, len(ids), 500)
        for r in conn.execute(
            sa.select(licences.c.licence_key).where(licences.c.holder_id.in_(ids[start : start + 500]))
        )
    ]
    history = read_events(conn, keys)
    history = history[history["holder_id"].isin(ids) & history["holder_name"].notna()]
    if history.empty:
        return
    newest = history.sort_values(["effective_date", "event", "source", "source_ref"]).drop_duplicates(
        "holder_id", keep="last"
    )
    keys = company_name_key(newest["holder_name"].astype("string")).fillna("")
    conn.execute(
        holders.update()
        .where(holders.c.holder_id == sa.bindparam("h"))
        .values(holder_name=sa.bindparam("n"), name_key=sa.bindparam("k")),
        [{"h": h, "n": n, "k": k} for h, n, k in zip(newest["holder_id"], newest["holder_name"], keys, strict=True)],
    )


# ---------------------------------------------------------------- numbering and the fold
def number_licences(events: pd.DataFrame) -> pd.DataFrame:
    """Number what a case produced (the registry's events carry their number), then key every event."""
    missing = events["licence_no"].isna()
    if missing.any():
        cases = events[missing]
        serial = _serial(cases["golden_case_id"].astype(str))
        issued = pd.to_datetime(cases["issue_date"]).dt.strftime("%Y%m%d")
        kinds = cases["holder_code_type"].map({v: k for k, v in HOLDER_CODE_TYPES.items()}).fillna(ID_KIND_RIC)
        business = pd.Series(
            [business_licence_number(c, k) for c, k in zip(cases["holder_code"], kinds, strict=True)], index=cases.index
        )
        number = "WJ" + cases["licence_name"].map(lambda n: hashlib.sha1(n.encode()).hexdigest()[:4].upper()) + issued
        number = (number + serial).where(~cases["licence_type_code"].isin(BUSINESS_LICENCE_TYPES), business)
        # 食品经营许可证: JY + 主体业态 (2 餐饮) + region + serial; the check digit is unpublished: 0 stands in.
        number = number.where(cases["licence_name"] != "食品经营许可证", "JY2" + AREA_CODE + serial + "0")
        # 建筑工程施工许可证: region + date + 2-digit same-day serial + 专业分类 01.
        number = number.where(
            cases["licence_name"] != "建筑工程施工许可证", AREA_CODE + issued + serial.str[-2:] + "01"
        )
        events.loc[missing, "licence_no"] = number
    # Keyed by the licence's name, not its type code: a business licence is one licence whether the registry
    # files it under the enterprise or the individual-business type.
    events["licence_key"] = licence_key(events["licence_name"], events["licence_no"])
    return events


def fold(events: pd.DataFrame, previous: pd.DataFrame, today: dt.date, now: dt.datetime) -> pd.DataFrame:
    """The current row of each licence: the latest stated value of every field, the status its events leave it
    in (past its end date a valid licence has expired), its sources, and a version that grows on change."""
    if events.empty:
        return pd.DataFrame(columns=CURRENT)
    # A supervisor's decision takes effect on its day (a suspension's end reinstates the day after it): until then
    # it is history, not status. The daily expiry run refolds what came due.
    due = pd.to_datetime(events["effective_date"]) <= pd.Timestamp(today)
    events = events[(events["source"] != SUPERVISION_SOURCE) | due.fillna(True)]
    ordered = events.assign(
        _order=events["event"].map(EVENT_ORDER), _rank=events["source"].map(SOURCE_RANK).fillna(FEED_RANK)
    ).sort_values(["licence_key", "effective_date", "_order", "_rank", "source_ref"], kind="stable")
    ordered["_status"] = ordered["event"].map(EVENT_STATUS)
    grouped = ordered.groupby("licence_key", sort=True)
    current = grouped[[*FIELDS, "golden_case_id", "holder_id", "_status"]].last()  # last non-null of each
    current["issue_date"] = grouped["issue_date"].first()  # the first issuance stands; renewals move validity
    current["sources"] = grouped["source"].agg(lambda s: ",".join(sorted(set(s) - {"expiry", SUPERVISION_SOURCE})))
    # A licence known so far only by a change (a backfill loaded the week of its change before the week it was
    # issued in) is one in force: its issuance, once loaded, orders before the change.
    current["_status"] = current["_status"].fillna(VALID)
    valid_to = pd.to_datetime(current["valid_to"])
    expired = (current["_status"] == VALID) & valid_to.notna() & (valid_to < pd.Timestamp(today))
    current["status"] = current["_status"].where(~expired, "过期失效")
    types = licence_types()
    current["supervising_dept"] = current["licence_type_code"].map(types["handling_dept"])
    issuer = departments().set_index("department_code").loc[ISSUER]
    current["issuer_name"], current["issuer_code"], current["area_code"] = (
        issuer["department_name"],
        issuer["issuer_uscc"],
        AREA_CODE,
    )
    current = current.reset_index()
    current["licence_id"] = [
        make_licence_identifier(t, issuer["issuer_uscc"], k[2:])
        for t, k in zip(current["licence_type_code"], current["licence_key"], strict=True)
    ]
    for column in ("issue_date", "valid_from", "valid_to"):
        current[column] = pd.to_datetime(current[column]).dt.date
    current["valid_from"] = current["valid_from"].fillna(current["issue_date"])
    hashed = current[[c for c in CURRENT if c not in ("version", "content_hash", "updated_at")]]
    current["content_hash"] = [
        hashlib.sha256(json.dumps(r, ensure_ascii=False, sort_keys=True, default=str).encode()).hexdigest()
        for r in hashed.astype(object).where(hashed.notna(), None).to_dict("records")
    ]
    before = previous.set_index("licence_key") if len(previous) else pd.DataFrame(columns=["version", "content_hash"])
    old_hash = current["licence_key"].map(before["content_hash"])
    old_version = current["licence_key"].map(before["version"]).fillna(0).astype(int)
    changed = old_hash != current["content_hash"]
    current["version"] = old_version + changed.astype(int)
    current["updated_at"] = np.where(changed, now, current["licence_key"].map(before.get("updated_at", {})))
    current["updated_at"] = pd.to_datetime(current["updated_at"]).fillna(now)
    return current[CURRENT].assign(_changed=changed.to_numpy())


def read_events(conn: sa.Connection, keys: list[str]) -> pd.DataFrame:
    frames = []
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        result = conn.execute(sa.select(licence_events).where(licence_events.c.licence_key.in_(chunk)))
        frames.append(pd.DataFrame(result.fetchall(), columns=list(result.keys())))
    frame = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=[c.name for c in licence_events.columns])
    )
    details = pd.DataFrame(
        [json.loads(d) for d in frame["details"]], index=frame.index, columns=[*FIELDS, "holder_id", "golden_case_id"]
    )
    return pd.concat([frame.drop(columns="details"), details], axis=1)


def event_rows(events: pd.DataFrame, partition: dt.date | np.ndarray, now: dt.datetime) -> pd.DataFrame:
    """Events as stored: their key columns, the day that owns each (one date, or one per event), and what they
    state as JSON."""
    stated = events[[*FIELDS, "holder_id", "golden_case_id"]].astype(object)
    stated = stated.where(stated.notna(), None)
    return pd.DataFrame(
        {
            "licence_key": events["licence_key"],
            "event": events["event"],
            "effective_date": events["effective_date"],
            "source": events["source"],
            "source_ref": events["source_ref"],
            "partition_date": partition,
            "details": [
                json.dumps(r, ensure_ascii=False, sort_keys=True, default=str) for r in stated.to_dict("records")
            ],
            "recorded_at": now,
        }
    ).drop_duplicates(["licence_key", "event", "effective_date", "source", "source_ref"])


def refold(conn: sa.Connection, keys: list[str], today: dt.date, now: dt.datetime) -> pd.DataFrame:
    """Rebuild the current rows of ``keys`` from their whole history; returns the rows whose content changed."""
    keys = sorted(set(keys))
    if not keys:
        return pd.DataFrame(columns=CURRENT)
    history = read_events(conn, keys)
    previous = pd.concat(
        [
            pd.DataFrame(
                conn.execute(
                    sa.select(
                        licences.c.licence_key, licences.c.version, licences.c.content_hash, licences.c.updated_at
                    ).where(licences.c.licence_key.in_(keys[start : start + 500]))
                ).fetchall(),
                columns=["licence_key", "version", "content_hash", "updated_at"],
            )
            for start in range(0, len(keys), 500)
        ],
        ignore_index=True,
    )
    current = fold(history, previous, today, now)
    for start in range(0, len(keys), 500):
        conn.execute(licences.delete().where(licences.c.licence_key.in_(keys[start : start + 500])))
    insert_frame(conn, licences, current.drop(columns="_changed"))
    return current[current["_changed"]].drop(columns="_changed")


# ---------------------------------------------------------------- 审管互动: findings fed back by supervisors
def link_findings(conn: sa.Connection, found: pd.DataFrame) -> pd.DataFrame:
    """Each finding's holder and licences: the holder by its code (any spelling the repository has linked; no
    holder is created: one it does not know has ``holder_id`` NA), the licences by the number the finding gives
    (among the holder's), else the holder's licences of the type it gives, preferring those in force. Adds
    ``holder_id``, ``holder_code_type``, ``licence_keys`` (a list) and ``licence_match`` (number / type / none)."""
    found = found.copy()
    codes = sorted(set(found["holder_code"].astype("string").fillna("")))  # each once: a code asked in two chunks
    rows = [
        r
        for start in range(0, len(codes), 500)
        for r in conn.execute(
            sa.select(holder_codes.c.code, holder_codes.c.holder_id, holders.c.holder_code_type)
            .join(holders, holders.c.holder_id == holder_codes.c.holder_id)
            .where(holder_codes.c.code.in_(codes[start : start + 500]))
        )
    ]
    known = pd.DataFrame(rows, columns=["code", "holder_id", "holder_code_type"]).set_index("code")
    found["holder_id"] = found["holder_code"].map(known["holder_id"]).astype("string")
    found["holder_code_type"] = found["holder_code"].map(known["holder_code_type"]).astype("string")
    ids = sorted(set(found["holder_id"].dropna()))
    held = pd.DataFrame(
        [
            r
            for start in range(0, len(ids), 500)
            for r in conn.execute(
                sa.select(
                    licences.c.holder_id,
                    licences.c.licence_key,
                    licences.c.licence_no,
                    licences.c.licence_type_code,
                    licences.c.status,
                ).where(licences.c.holder_id.in_(ids[start : start + 500]))
            )
        ],
        columns=["holder_id", "licence_key", "licence_no", "licence_type_code", "status"],
    )
    found["licence_keys"], found["licence_match"] = match_licences(found, held)
    return found


def match_licences(found: pd.DataFrame, held: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """For each finding (``holder_id``, ``licence_no``, ``licence_type_code``) among its holder's licences
    (``held``: holder_id, licence_key, licence_no, licence_type_code, status): the keys it names, sorted, and how
    (``number``: by the number it gives; ``type``: the holder's licences of its type, those in force if any;
    ``none``). By joins, not per finding: a year of findings is rebuilt after every load."""
    held = held.assign(number=normalize_code_series(held["licence_no"].astype("string")))
    held["in_force"] = held["status"].isin(IN_FORCE)
    asked = pd.DataFrame(
        {
            "_i": np.arange(len(found)),
            "holder_id": found["holder_id"].to_numpy(),
            "number": normalize_code_series(found["licence_no"].astype("string")).to_numpy(),
            "licence_type_code": found["licence_type_code"].astype("string").to_numpy(),
        }
    )
    asked = asked[asked["holder_id"].notna()]
    # by the number the finding gives, among the holder's licences
    with_number = asked[asked["number"].notna()].drop(columns="licence_type_code")
    by_number = with_number.merge(held[["holder_id", "number", "licence_key"]], on=["holder_id", "number"])
    # else by its type, the holder's licences of that type in force if any, else all of that type
    typed = asked[~asked["_i"].isin(by_number["_i"]) & asked["licence_type_code"].fillna("").ne("")]
    by_type = typed.drop(columns="number").merge(
        held[["holder_id", "licence_type_code", "licence_key", "in_force"]], on=["holder_id", "licence_type_code"]
    )
    by_type = by_type[by_type["in_force"] | ~by_type.groupby("_i")["in_force"].transform("any")]
    keys = pd.Series([[] for _ in range(len(found))], dtype=object)
    how = np.full(len(found), "none", dtype=object)
    for matched, label in ((by_number, "number"), (by_type, "type")):
        if len(matched):
            lists = matched.sort_values(["_i", "licence_key"]).groupby("_i", sort=False)["licence_key"].agg(list)
            keys.iloc[lists.index.to_numpy()] = lists.to_numpy()
            how[lists.index.to_numpy()] = label
    return keys.to_numpy(), how


def finding_events(linked: pd.DataFrame, partition: dt.date) -> pd.DataFrame:
    """Licence events of the findings that change a status (``FINDING_EVENTS``), one per licence a finding applies
    to: ``suspended`` from its effective date (else the decision's), ``reinstated`` the day after a suspension's end
    date, ``revoked``. They state nothing else about the licence; ``source_ref`` is the finding and the day it was
    pulled (a finding sent again on a later day, closed, adds its own)."""
    acting = linked[linked["kind"].isin(list(FINDING_EVENTS)) & linked["licence_keys"].map(len).gt(0)]
    if acting.empty:
        return pd.DataFrame(columns=["licence_key", *EVENT_COLUMNS, "holder_id"])
    acting = acting.explode("licence_keys")
    effective = pd.to_datetime(acting["effective_at"].fillna(acting["decided_at"])).dt.date
    ref = acting["finding_id"].astype(str) + "/" + partition.strftime("%Y%m%d")
    base = {
        "source": SUPERVISION_SOURCE,
        "source_ref": ref,
        "golden_case_id": None,
        **dict.fromkeys(FIELDS, None),
        "holder_id": acting["holder_id"],
        "licence_key": acting["licence_keys"],
    }
    frames = [pd.DataFrame({**base, "event": acting["kind"].map(FINDING_EVENTS), "effective_date": effective})]
    ends = acting["kind"].eq("suspension") & acting["ends_at"].notna()
    if ends.any():
        back = (pd.to_datetime(acting.loc[ends, "ends_at"]) + pd.Timedelta(days=1)).dt.date
        ended = {k: v[ends] if isinstance(v, pd.Series) else v for k, v in base.items()}
        frames.append(pd.DataFrame({**ended, "event": "reinstated", "effective_date": back}))
    return pd.concat(frames, ignore_index=True)


def due_supervision_keys(conn: sa.Connection, today: dt.date, days: int = 7) -> list[str]:
    """Licences with a supervisor's event that came due in the last ``days`` (a suspension's end, a decision
    effective later than it was fed): the daily run refolds them."""
    e = licence_events.c
    since = today - dt.timedelta(days=days)
    return sorted(
        r[0]
        for r in conn.execute(
            sa.select(e.licence_key)
            .where((e.source == SUPERVISION_SOURCE) & e.effective_date.between(since, today))
            .distinct()
        )
    )
