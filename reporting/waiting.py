"""What waits for a person (待人工处理): the three queues the pipeline fills and only a person empties.

- ``pairs``: two records the resolution could not decide are the same case or not (``review_queue``, without a
  decision in ``review_decisions``); a person answers with ``approval-bridge review decide``. Waiting since the
  pair was queued (``queued_at``).
- ``orders``: 12345 orders that could be about more than one golden case (``hotline_orders`` in status
  ``review``: a 办件编号 naming several cases, namesakes, a renewal and its first filing); never guessed. Waiting
  since the day of the order's newest record (``partition_date``), when its status was last decided.
- ``projects``: golden cases without a 投资项目代码 that look like a step of a known project
  (``project_link_review``: the project unit as applicant, the site, a stage the project has not reached); never
  linked by guess. The table is rebuilt whole and keeps no date of its own: waiting since the case was accepted.

Not counted here, because no person at the bureau acts on them: evaluations and project items waiting for their
case or project to arrive (the next load links them), correction-list entries (the departments put them right,
``approval-bridge report corrections``) and dead letters (the department fixes the case, it goes out again).

Identity numbers and phones are masked: a pair's summary is masked when it is queued; an order holds no personal
data; a project link shows the applicant as the correction lists do (``reporting.corrections.applicant_text``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from reporting.corrections import applicant_text, masked_text
from schemas.case import items
from schemas.warehouse import golden_cases, hotline_orders, project_link_review, review_decisions, review_queue

PAIRS, ORDERS, PROJECTS = "pairs", "orders", "projects"
KINDS = (PAIRS, ORDERS, PROJECTS)

TITLES = {
    PAIRS: "Record pairs the resolution was unsure of (review_queue)",
    ORDERS: "12345 orders that could be about several cases (hotline_orders in review)",
    PROJECTS: "Cases that look like a project's step but carry no project code (project_link_review)",
}
#: What the day before each item is.
SINCE = {PAIRS: "the pair was queued", ORDERS: "the order's newest record came", PROJECTS: "the case was accepted"}
WHAT_TO_DO = {
    PAIRS: "approval-bridge review decide --left SRC:ID --right SRC:ID --decision same|different --by NAME",
    ORDERS: "find the case the caller means (approval-bridge cases find NAME) and tell the 12345 centre",
    PROJECTS: "check with the project unit; the department adds the 投资项目代码 to the case",
}
#: What each kind is counted in (the words of the count line).
NOUNS = {PAIRS: "record pairs", ORDERS: "12345 orders", PROJECTS: "project links"}


@dataclass(frozen=True)
class Queue:
    """One kind of waiting item: how many, the oldest, and (up to a limit) the items, oldest first."""

    kind: str
    total: int
    oldest: dt.date | None
    items: pd.DataFrame  # since (date), head (one line naming the item), detail (what a person reads)


def _undecided() -> sa.ColumnElement[bool]:
    q, d = review_queue.c, review_decisions.c
    same_pair = (
        (d.source_system_l == q.source_system_l)
        & (d.source_record_id_l == q.source_record_id_l)
        & (d.source_system_r == q.source_system_r)
        & (d.source_record_id_r == q.source_record_id_r)
    )
    return ~sa.exists().where(same_pair)


def _since_column(kind: str) -> tuple[sa.Table, sa.ColumnElement, sa.ColumnElement[bool]]:
    """The table of a kind, the column its waiting time counts from, and which rows wait."""
    if kind == PAIRS:
        return review_queue, review_queue.c.queued_at, _undecided()
    if kind == ORDERS:
        return hotline_orders, hotline_orders.c.partition_date, hotline_orders.c.status == "review"
    if kind == PROJECTS:
        return project_link_review, project_link_review.c.accepted_at, sa.true()
    raise ValueError(f"no queue of kind {kind!r}; the kinds are {', '.join(KINDS)}")


def counts(warehouse, today: dt.date, max_age_days: float) -> pd.DataFrame:
    """Per kind: items waiting, the oldest's day, and how many have waited more than ``max_age_days`` (calendar
    days before ``today``). One aggregate query per kind."""
    day = today - dt.timedelta(days=max_age_days)
    rows = []
    for kind in KINDS:
        table, since, waits = _since_column(kind)
        # compared in the column's own type: on SQLite a day stored as text sorts before that day's midnight
        cutoff = dt.datetime.combine(day, dt.time()) if isinstance(since.type, sa.DateTime) else day
        found = warehouse.read(
            sa.select(
                sa.func.count().label("waiting"),
                sa.func.min(since).label("oldest"),
                sa.func.sum(sa.case((since < cutoff, 1), else_=0)).label("over_age"),
            )
            .select_from(table)
            .where(waits)
        )
        row = found.iloc[0]
        oldest = pd.to_datetime(row["oldest"]) if row["oldest"] is not None else pd.NaT
        rows.append(
            {
                "kind": kind,
                "waiting": int(row["waiting"] or 0),
                "oldest": None if pd.isna(oldest) else oldest.date(),
                "over_age": int(row["over_age"] or 0),
            }
        )
    return pd.DataFrame(rows, columns=["kind", "waiting", "oldest", "over_age"])


def queue(warehouse, kind: str, limit: int | None = None) -> Queue:
    """The items of one kind waiting for a person, oldest first (at most ``limit``), and how many there are."""
    table, since, waits = _since_column(kind)
    total = warehouse.read(
        sa.select(sa.func.count().label("n"), sa.func.min(since).label("oldest")).select_from(table).where(waits)
    )
    oldest = pd.to_datetime(total["oldest"].iloc[0])
    listed = {PAIRS: _pairs, ORDERS: _orders, PROJECTS: _projects}[kind](warehouse, waits, since, limit)
    return Queue(kind, int(total["n"].iloc[0] or 0), None if pd.isna(oldest) else oldest.date(), listed)


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.date


def _pairs(warehouse, waits, since, limit) -> pd.DataFrame:
    q = review_queue.c
    found = warehouse.read(
        sa.select(review_queue).where(waits).order_by(since, q.match_probability.desc()).limit(limit)
    )
    left = found["source_system_l"] + ":" + found["source_record_id_l"]
    right = found["source_system_r"] + ":" + found["source_record_id_r"]
    return pd.DataFrame(
        {
            "since": _dates(found["queued_at"]),
            "head": "p=" + found["match_probability"].map("{:.3f}".format),
            # the records as review decide takes them, then both side by side (masked when queued)
            "detail": left + "\n" + right + "\n" + found["summary"].astype("string"),
        }
    )


def _orders(warehouse, waits, since, limit) -> pd.DataFrame:
    o = hotline_orders.c
    found = warehouse.read(sa.select(hotline_orders).where(waits).order_by(since, o.order_id).limit(limit))
    names = items().drop_duplicates("item_code").set_index("item_code")["item_name"]
    item = (found["item_code"].astype("string") + " " + found["item_code"].map(names).fillna("")).str.strip()
    category = found[["category_1", "category_2", "category_3"]].astype("string").fillna("")
    topic = (category["category_1"] + "/" + category["category_2"] + "/" + category["category_3"]).str.strip("/")
    dispatched = pd.to_datetime(found["dispatched_at"]).dt.strftime("%Y-%m-%d %H:%M").fillna("?")
    head = found["order_id"] + "  dispatched " + dispatched + "  " + topic.fillna("") + "  " + item.fillna("")
    unit = found["handling_unit"].astype("string").fillna("")
    note = masked_text(found["note"].fillna("").astype("string"))
    detail = ("handled by " + unit).where(unit != "", "") + ("; " + note).where((unit != "") & (note != ""), note)
    return pd.DataFrame({"since": _dates(found["partition_date"]), "head": head.str.strip(), "detail": detail})


def _projects(warehouse, waits, since, limit) -> pd.DataFrame:
    r, g = project_link_review.c, golden_cases.c
    found = warehouse.read(
        sa.select(project_link_review, g.applicant_name, g.applicant_id)
        .select_from(project_link_review.outerjoin(golden_cases, g.golden_case_id == r.golden_case_id))
        .where(waits)
        .order_by(since, r.golden_case_id, r.project_code)
        .limit(limit)
    )
    head = (
        found["golden_case_id"]
        + " -> project "
        + found["project_code"]
        + "  stage "
        + found["stage"].fillna("?")
        + "  "
        + found["case_no"].fillna("")
        + " "
        + found["item_name"].fillna("")
    )
    applicant = applicant_text(found["applicant_name"], found["applicant_id"]).fillna("?")
    detail = "applicant " + applicant + "; " + masked_text(found["reason"].astype("string")).fillna("")
    return pd.DataFrame({"since": _dates(found["accepted_at"]), "head": head, "detail": detail})
