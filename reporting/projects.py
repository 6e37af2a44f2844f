"""Investment projects: each project's stages and its "45" clock, the monthly figures and the key-project report.

The clock (docs/projects.md): from the day the project's first 立项 item was accepted to the day its 施工许可 was
granted, counting the working days (行政许可法 Art. 82: the acceptance day not counted, holidays out, make-up days
in) on which at least one item of the five stages was in a department's hands. So parallel stages count once (the
union of their days, as overlapping pauses count once in ``reporting.deadlines.paused_days``): an item of the five
that its process puts in the 并行推进 stage (national stage 5, beside the main line: 环评, often) counts on the days
nothing else of the five was open, and adds nothing on the days something was. The days between handlings when
nothing was filed (the applicant preparing, 申请人自行准备) are left out, and so are a handling's pauses: its 补正
(BLZT 6 → 7) and its 特别程序 (9 → 10: 专家评审, 听证 …), on its own days only. Counted day by day on the calendar: a
project has tens of handlings, a district hundreds of projects.

Inputs are plain frames (``handlings``: one row per item handled for a project, from the SPGL feeds and the golden
cases carrying the project) so the counting is tested apart from the warehouse.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from reporting.definitions import ProjectDefinitions
from schemas.feeds import PROJECT_ITEM_OUTCOMES
from schemas.projects import CLOCK_END, CLOCK_START, NATIONAL_STAGES, STAGES, project_stages
from schemas.workdays import WorkingCalendar
from staging.feeds import newest, with_quarantined

#: What a handling frame carries (national_stage and milestone: the process's, when its stage-item table lists the
#: item; NA otherwise, and the bureau's table places it).
HANDLING_COLUMNS = (
    "project_code", "handling_id", "item_code", "item_name", "dept_name", "accepted_at", "ended_at", "outcome",
    "correction_started_at", "correction_ended_at", "pause_started_at", "pause_ended_at", "national_stage",
    "milestone", "golden_case_id", "source",
)  # fmt: skip
#: A handling's outcome (schemas.feeds.PROJECT_ITEM_OUTCOMES): granted (11 办结（通过）, 12 容缺通过) decides its
#: stage; the others ended it without a grant (13 不通过, 4/5 不受理, 2/14 撤件/撤回, 15 撤销: the stage is done
#: again when the item is filed again) or it is still running.
OUTCOMES = PROJECT_ITEM_OUTCOMES
ENDED_WITHOUT_GRANT = ("refused", "not_accepted", "withdrawn", "revoked")
NEVER_ACCEPTED = ("not_accepted",)

STAGE_COLUMNS = [
    "project_code", "stage", "stage_order", "national_stage", "started_on", "ended_on", "status", "handlings",
    "redone", "working_days", "paused_working_days", "limit_days", "on_time", "responsible_dept",
    "national_working_days", "national_limit_days", "national_on_time",
]  # fmt: skip
PROJECT_COLUMNS = [
    "project_code", "project_name", "unit_name", "site", "industry_code", "industrial", "key_project",
    "total_investment_wan", "started_on", "permit_on", "month_permitted", "stage_reached", "status",
    "working_days", "working_days_gross", "paused_working_days", "target_days", "days_left", "within_target",
    "stages_late", "held_up_by", "responsible_dept", "handlings", "cases_linked", "process_code",
    "process_version", "national_stages_late",
]  # fmt: skip
MONTHLY_COLUMNS = [
    "month", "projects", "key_projects", "average_working_days", "max_working_days", "within_target",
    "share_within_target", "target_days", "held_up_by",
]  # fmt: skip


def _days(start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """The days after ``start`` up to and including ``end`` (Art. 82: the first day is not counted)."""
    if pd.isna(start) or pd.isna(end) or end <= start:
        return pd.DatetimeIndex([])
    return pd.date_range(start + pd.Timedelta(days=1), end, freq="D")


def counted_days(
    spans: pd.DataFrame, pauses: pd.DataFrame, cal: WorkingCalendar, within: tuple | None = None
) -> tuple[int, int, int]:
    """Working days on which some span (start, end: day-normalised timestamps) was open and not paused, optionally
    cut to ``within`` (start, end]. A pause (start, end) takes out the days of its own span when both carry a
    ``key`` (the handling: a handling in 特别程序 does not stop a parallel one being in a department's hands that
    day), of every span when they do not. Returns (counted, paused, gross): gross the working days some span was
    open, paused those of them on which every open span was paused."""
    held: dict = {}
    keyed = "key" in spans and "key" in pauses
    for key, start, end in zip(
        pauses["key"] if keyed else [None] * len(pauses), pauses["start"], pauses["end"], strict=True
    ):
        held.setdefault(key, set()).update(_days(start, end))
    open_days, in_hands = set(), set()
    keys = spans["key"] if keyed else [None] * len(spans)
    for key, start, end in zip(keys, spans["start"], spans["end"], strict=True):
        if within is not None:
            start, end = max(start, within[0]), min(end, within[1])
        days = set(_days(start, end))
        open_days.update(days)
        in_hands.update(days - held.get(key, set()))
    if not open_days:
        return 0, 0, 0
    ordered = pd.Series(sorted(open_days))
    working = ordered[cal.is_working_day(ordered).to_numpy(dtype=bool)]
    counted = int(working.isin(in_hands).sum())
    return counted, len(working) - counted, len(working)


def _spans(handlings: pd.DataFrame, today: pd.Timestamp) -> pd.DataFrame:
    """Each handling's days in a department's hands: accepted to ended (or today). A handling that was never
    accepted (2 已撤件, 4 不受理, 5 不予受理) has none: the days before acceptance are not on the clock (Art. 82)."""
    if "outcome" in handlings:
        handlings = handlings[~handlings["outcome"].isin(NEVER_ACCEPTED).fillna(False).astype(bool)]
    start = pd.to_datetime(handlings["accepted_at"]).dt.normalize()
    end = pd.to_datetime(handlings["ended_at"]).dt.normalize().fillna(today)
    return pd.DataFrame({"key": handlings.index, "start": start, "end": end}, index=handlings.index).dropna()


def _pauses(handlings: pd.DataFrame, today: pd.Timestamp) -> pd.DataFrame:
    """Every pause of the handlings, 补正 and 特别程序 alike (key: the handling's row; start, end: day-normalised;
    an open one to today)."""
    frames = []
    for start, end in (("correction_started_at", "correction_ended_at"), ("pause_started_at", "pause_ended_at")):
        if start not in handlings:
            continue
        given = handlings[handlings[start].notna()]
        frames.append(
            pd.DataFrame(
                {
                    "key": given.index,
                    "start": pd.to_datetime(given[start]).dt.normalize(),
                    "end": pd.to_datetime(given[end]).dt.normalize().fillna(today),
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["key", "start", "end"])


def with_stages(handlings: pd.DataFrame) -> pd.DataFrame:
    """``handlings`` with stage (the seed's five, from the bureau's table), national_stage and milestone (the
    process's stage-item table where it listed the item, the bureau's table for the others) and the code table's
    responsible_dept (the handling's own department wins where the source names it)."""
    table = project_stages().set_index("item_code")
    out = handlings.copy()
    out["stage"] = out["item_code"].map(table["stage"]).astype("string")
    given = out["national_stage"] if "national_stage" in out else pd.Series(np.nan, index=out.index)
    out["national_stage"] = (
        pd.to_numeric(given, errors="coerce").fillna(out["item_code"].map(table["national_stage"])).astype("Int64")
    )
    given = out["milestone"] if "milestone" in out else pd.Series(pd.NA, index=out.index)
    given = given.astype(object).map({True: True, False: False}).astype("boolean")  # NA where the system is silent
    out["milestone"] = given.fillna(out["item_code"].map(table["milestone"])).fillna(False).astype(bool)
    out["dept_name"] = out["dept_name"].astype("string").fillna(out["item_code"].map(table["responsible_dept"]))
    return out


def national_limits(projects: pd.DataFrame, stages: pd.DataFrame) -> pd.DataFrame:
    """Per project and national stage, the limit its process sets (``projects``: project_code, process_code,
    process_version; ``stages``: the current process stages, process_code, process_version, national_stage,
    limit_days). A process with two stages mapped to one national stage: their limits add up. A project with no
    process, or whose process version was not pulled, has no rows."""
    columns = ["project_code", "national_stage", "limit_days"]
    if projects.empty or stages.empty or "process_code" not in projects:
        return pd.DataFrame(columns=columns)
    keys = ["process_code", "process_version"]
    per_process = (
        stages.dropna(subset=[*keys, "national_stage", "limit_days"])
        .astype({"national_stage": int, "limit_days": int})
        .groupby([*keys, "national_stage"], as_index=False)["limit_days"]
        .sum()
    )
    joined = projects.dropna(subset=keys)[["project_code", *keys]].merge(per_process, on=keys)
    return joined[columns].reset_index(drop=True)


def national_days(
    handlings: pd.DataFrame, cal: WorkingCalendar, today: dt.date, limits: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per project and national stage it has handlings in: the working days used so far (the union of every
    handling of the stage's items, accepted to ended or today, less their pauses: counted as a seed stage is),
    the process's limit for it (``limits``: :func:`national_limits`; NA when unknown) and whether it is over."""
    now = pd.Timestamp(today)
    frame = with_stages(handlings)
    frame = frame[frame["national_stage"].notna()]
    rows = []
    for (code, national), group in frame.groupby(["project_code", "national_stage"], sort=True):
        counted, _, _ = counted_days(_spans(group, now), _pauses(group, now), cal)
        rows.append({"project_code": code, "national_stage": int(national), "working_days": counted})
    out = pd.DataFrame(rows, columns=["project_code", "national_stage", "working_days"])
    known = {}
    if limits is not None and len(limits):
        trio = zip(limits["project_code"], limits["national_stage"], limits["limit_days"], strict=True)
        known = {(c, int(n)): int(d) for c, n, d in trio}
    out["limit"] = pd.array(
        [known.get((c, n)) for c, n in zip(out["project_code"], out["national_stage"], strict=True)], dtype="Int64"
    )
    out["over"] = (out["working_days"] > out["limit"]).astype("boolean")
    return out


def project_stage_rows(
    handlings: pd.DataFrame,
    cal: WorkingCalendar,
    today: dt.date,
    settings: ProjectDefinitions,
    limits: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per project and stage it has handlings in: first acceptance, the day its milestone item was
    granted (NA while not), done/running, handlings (more than its items: redone), working days (its handlings'
    union less their pauses), against the stage's limit, and the department that last handled it. Beside them,
    the stage's national stage against the project's process (``limits``: :func:`national_limits`): its working
    days so far (:func:`national_days`), the process's limit for it and whether it is over (NA: no limit known)."""
    now = pd.Timestamp(today)
    national = national_days(handlings, cal, today, limits).set_index(["project_code", "national_stage"])
    frame = with_stages(handlings)
    frame = frame[frame["stage"].notna()]
    rows = []
    for (code, stage), group in frame.groupby(["project_code", "stage"], sort=True):
        granted = group[(group["outcome"] == "granted") & group["milestone"]]
        ended = pd.to_datetime(granted["ended_at"]).max() if len(granted) else pd.NaT
        spans = _spans(group, now if pd.isna(ended) else ended.normalize())
        counted, paused, _ = counted_days(spans, _pauses(group, now), cal)
        limit = settings.stage_limits[stage]
        done = not pd.isna(ended)
        last = group.sort_values(["accepted_at", "handling_id"]).iloc[-1]
        rows.append(
            {
                "project_code": code,
                "stage": stage,
                "stage_order": STAGES.index(stage) + 1,
                "national_stage": int(group["national_stage"].min()),
                "started_on": pd.to_datetime(group["accepted_at"]).min().date(),
                "ended_on": ended.date() if done else None,
                "status": "done" if done else "running",
                "handlings": len(group),
                "redone": bool(
                    group["outcome"].isin(ENDED_WITHOUT_GRANT).any() or group["item_code"].duplicated().any()
                ),
                "working_days": counted,
                "paused_working_days": paused,
                "limit_days": limit,
                "on_time": counted <= limit if done else (None if counted <= limit else False),
                "responsible_dept": last["dept_name"],
                **_national(national, code, int(group["national_stage"].min())),
            }
        )
    stages = pd.DataFrame(rows, columns=STAGE_COLUMNS)
    stages["on_time"] = stages["on_time"].astype("boolean")
    stages["national_on_time"] = stages["national_on_time"].astype("boolean")
    for column in ("national_working_days", "national_limit_days"):
        stages[column] = stages[column].astype("Int64")
    return stages


def _national(national: pd.DataFrame, code: str, stage: int) -> dict:
    if (code, stage) not in national.index:
        return {"national_working_days": None, "national_limit_days": None, "national_on_time": None}
    row = national.loc[(code, stage)]
    limit = None if pd.isna(row["limit"]) else int(row["limit"])
    return {
        "national_working_days": int(row["working_days"]),
        "national_limit_days": limit,
        # over the limit is late whether the stage is done or not; within it: so far
        "national_on_time": None if limit is None else bool(row["working_days"] <= limit),
    }


def project_clocks(
    projects: pd.DataFrame,
    handlings: pd.DataFrame,
    stages: pd.DataFrame,
    cal: WorkingCalendar,
    today: dt.date,
    settings: ProjectDefinitions,
    coded_cases: pd.DataFrame | None = None,
    limits: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per project (``projects``: project_code, project_name, unit_name, site, total_investment_wan,
    key_flag, optionally process_code, process_version): its 45 clock, the stage reached, days used and left, the
    stages late and the one that held it up longest, industrial and key by reporting/definitions.yaml, and the
    national stages over its process's limit (``limits``: :func:`national_limits`). ``coded_cases``
    (golden_case_id, project_code): golden cases whose source names the project; with the cases its handlings
    name, they are its linked cases."""
    national = national_days(handlings, cal, today, limits)
    over = national[national["over"].fillna(False).astype(bool)].sort_values(["project_code", "national_stage"])
    late_national = over.groupby("project_code")["national_stage"].agg(
        lambda stages: "、".join(f"{n} {NATIONAL_STAGES[n]}" for n in stages)
    )
    named = (
        coded_cases.dropna(subset=["project_code"]).groupby("project_code")["golden_case_id"].agg(set).to_dict()
        if coded_cases is not None and len(coded_cases)
        else {}
    )
    now = pd.Timestamp(today)
    frame = with_stages(handlings)
    frame = frame[frame["stage"].notna()]
    rows = []
    for project in projects.itertuples(index=False):
        code = project.project_code
        mine = frame[frame["project_code"] == code]
        own = stages[stages["project_code"] == code].sort_values("stage_order")
        first = mine[mine["stage"] == CLOCK_START]
        start = pd.to_datetime(first["accepted_at"]).min().normalize() if len(first) else pd.NaT
        permit = own[(own["stage"] == CLOCK_END) & (own["status"] == "done")]
        end = pd.Timestamp(permit["ended_on"].iloc[0]) if len(permit) else pd.NaT
        if pd.isna(start):
            counted = paused = gross = None
        else:
            until = now if pd.isna(end) else end
            spans = _spans(mine, until)
            counted, paused, _ = counted_days(spans, _pauses(mine, now), cal, within=(start, until))
            gross = int(cal.working_days_between(pd.Series([start]), pd.Series([until])).iloc[0])
        industry = code.split("-")[2] if isinstance(code, str) and code.count("-") == 4 else None
        flagged = False if pd.isna(project.key_flag) else bool(project.key_flag)  # SPGL carries no flag: NULL
        key = bool(settings.key_from_source_flag and flagged) or (
            settings.key_investment_wan is not None
            and pd.notna(project.total_investment_wan)
            and float(project.total_investment_wan) >= settings.key_investment_wan
        )
        late = own.loc[own["on_time"].fillna(True) == False, "stage"].tolist()  # noqa: E712
        reached = own.iloc[-1] if len(own) else None
        longest = own.sort_values(["working_days", "stage_order"], ascending=[False, True]).head(1)
        status = "permitted" if not pd.isna(end) else ("not_started" if pd.isna(start) else "running")
        target = settings.target_working_days
        rows.append(
            {
                "project_code": code,
                "project_name": project.project_name,
                "unit_name": project.unit_name,
                "site": project.site,
                "industry_code": industry,
                "industrial": industry in settings.industrial_industry_codes,
                "key_project": bool(key),
                "total_investment_wan": project.total_investment_wan,
                "started_on": None if pd.isna(start) else start.date(),
                "permit_on": None if pd.isna(end) else end.date(),
                "month_permitted": None if pd.isna(end) else end.strftime("%Y-%m"),
                "stage_reached": None if reached is None else reached["stage"],
                "status": status,
                "working_days": counted,
                "working_days_gross": gross,
                "paused_working_days": paused,
                "target_days": target,
                "days_left": None if counted is None else target - counted,
                "within_target": None if counted is None or pd.isna(end) else counted <= target,
                "stages_late": "、".join(late) or None,
                "held_up_by": longest["stage"].iloc[0] if len(longest) else None,
                "responsible_dept": None if reached is None else reached["responsible_dept"],
                "handlings": len(mine),
                "cases_linked": len(set(mine["golden_case_id"].dropna()) | named.get(code, set())),
                "process_code": getattr(project, "process_code", None),
                "process_version": getattr(project, "process_version", None),
                "national_stages_late": late_national.get(code),
            }
        )
    out = pd.DataFrame(rows, columns=PROJECT_COLUMNS)
    for column in ("working_days", "working_days_gross", "paused_working_days", "days_left"):
        out[column] = out[column].astype("Int64")
    out["within_target"] = out["within_target"].astype("boolean")
    return out


def projects_monthly(clocks: pd.DataFrame) -> pd.DataFrame:
    """Per month of 施工许可: the industrial projects permitted, their average and longest 立项→施工许可 working
    days, how many within the target, and which stage held each up (``code 阶段`` pairs, longest first)."""
    done = clocks[clocks["industrial"] & clocks["month_permitted"].notna() & clocks["working_days"].notna()]
    if done.empty:
        return pd.DataFrame(columns=MONTHLY_COLUMNS)
    rows = []
    for month, group in done.groupby("month_permitted", sort=True):
        days = group["working_days"].astype(int)
        ordered = group.sort_values(["working_days", "project_code"], ascending=[False, True])
        rows.append(
            {
                "month": month,
                "projects": len(group),
                "key_projects": int(group["key_project"].sum()),
                "average_working_days": round(float(days.mean()), 2),
                "max_working_days": int(days.max()),
                "within_target": int(group["within_target"].fillna(False).sum()),
                "share_within_target": round(float(group["within_target"].fillna(False).mean()), 4),
                "target_days": int(group["target_days"].iloc[0]),
                "held_up_by": "; ".join(
                    f"{c} {s}" for c, s in zip(ordered["project_code"], ordered["held_up_by"].fillna("–"), strict=True)
                ),
            }
        )
    return pd.DataFrame(rows, columns=MONTHLY_COLUMNS)


def construction_2345(clocks: pd.DataFrame, target_name: str, target_days: int) -> pd.DataFrame:
    """The 2345 "construction" target per month, on the projects' clocks (mart_2345_monthly's columns)."""
    done = clocks[clocks["industrial"] & clocks["month_permitted"].notna() & clocks["working_days"].notna()]
    columns = ["target", "month", "target_name", "target_days", "completed", "within_target",
               "share_within_target", "average_working_days"]  # fmt: skip
    if done.empty:
        return pd.DataFrame(columns=columns)
    within = done["working_days"].astype(int) <= target_days
    grouped = done.assign(within=within).groupby("month_permitted")
    table = pd.DataFrame(
        {
            "completed": grouped.size(),
            "within_target": grouped["within"].sum().astype(int),
            "average_working_days": grouped["working_days"].mean().astype(float).round(2),
        }
    ).reset_index(names="month")
    table["target"], table["target_name"], table["target_days"] = "construction", target_name, target_days
    table["share_within_target"] = (table["within_target"] / table["completed"]).round(4)
    return table[columns]


def key_project_report(clocks: pd.DataFrame, stages: pd.DataFrame, month: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The key-project monthly report as of ``month`` (YYYY-MM): the key projects started by the month's end and
    not permitted before it (the ones still tracked, and those permitted in it), and their stages."""
    first = pd.Timestamp(f"{month}-01")
    last = first + pd.offsets.MonthEnd(0)
    # compared as timestamps: a month in which no project was permitted reads permit_on as all-NaT (no dates)
    started = pd.to_datetime(clocks["started_on"]).dt.normalize()
    permitted = pd.to_datetime(clocks["permit_on"]).dt.normalize()
    open_then = permitted.isna() | (permitted >= first)
    keep = clocks["key_project"].fillna(False).astype(bool) & started.notna() & (started <= last) & open_then
    report = clocks[keep].sort_values("project_code").reset_index(drop=True)
    shown = stages[stages["project_code"].isin(report["project_code"])].sort_values(["project_code", "stage_order"])
    return report, shown.reset_index(drop=True)


__all__ = [
    "HANDLING_COLUMNS", "MONTHLY_COLUMNS", "OUTCOMES", "PROJECT_COLUMNS", "STAGE_COLUMNS", "construction_2345",
    "counted_days", "key_project_report", "national_days", "national_limits", "process_stage_states",
    "project_clocks", "project_stage_rows", "projects_monthly", "with_stages",
]  # fmt: skip


# ---------------------------------------------------------------- the state tables (projects, project_handlings)
def project_states(records: pd.DataFrame, quarantined: pd.DataFrame) -> pd.DataFrame:
    """Every project pulled, once: its newest staged record (``tracked``), or ``quarantined``."""
    usable = newest(records, "project_code").assign(status="tracked", note=None) if len(records) else None
    return with_quarantined(usable, quarantined, "project_code")


def process_stage_states(records: pd.DataFrame, quarantined: pd.DataFrame) -> pd.DataFrame:
    """Every process stage pulled, once: its newest staged record (``current``), or ``quarantined``."""
    usable = newest(records, "stage_key").assign(status="current", note=None) if len(records) else None
    return with_quarantined(usable, quarantined, "stage_key")


def handling_states(records: pd.DataFrame, quarantined: pd.DataFrame, tracked: set, golden: pd.DataFrame):
    """Every item handling pulled, once: ``linked`` to a tracked project (and to the golden case whose 办件编号 is
    its 事项实例编码), ``waiting`` for its project (not pulled yet, or its 工程 not in the project table), or
    ``quarantined``; placed in its stage, national stage and milestone (:func:`with_stages`). ``golden``:
    golden_case_id, case_no."""
    usable = None
    if len(records):
        usable = newest(records, "handling_id")
        known = usable["project_code"].isin(tracked)
        usable["status"] = np.where(known, "linked", "waiting")
        # waiting: the project not pulled yet, or no project in SPGL_XMJBXXB has the handling's 工程代码
        named = usable["project_code"].notna().to_numpy(dtype=bool)
        usable["note"] = np.where(known, None, np.where(named, "project_not_pulled", "works_code_unknown"))
        by_number = golden.dropna(subset=["case_no"]).drop_duplicates("case_no").set_index("case_no")["golden_case_id"]
        usable["golden_case_id"] = usable["handling_id"].map(by_number)
        stages = with_stages(usable)
        for column in ("stage", "national_stage", "milestone"):
            usable[column] = stages[column]
    states = with_quarantined(usable, quarantined, "handling_id")
    for column in ("golden_case_id", "stage", "national_stage", "milestone"):
        if column not in states:  # nothing usable yet (a year's first week, or only quarantined rows)
            states[column] = None
    return states


def review_candidates(projects: pd.DataFrame, handlings: pd.DataFrame, golden: pd.DataFrame) -> pd.DataFrame:
    """Golden cases of a stage item that no handling names (by 办件编号) and that carry no valid 投资项目代码, but
    whose applicant is a tracked project's unit: offered to review with what matched (applicant, site, a stage the
    project has not had yet), never linked by guess."""
    columns = ["golden_case_id", "project_code", "case_no", "item_code", "item_name", "stage", "accepted_at",
               "same_applicant", "same_site", "stage_expected", "reason"]  # fmt: skip
    if golden.empty or projects.empty:
        return pd.DataFrame(columns=columns)
    table = project_stages().set_index("item_code")
    named = handlings["golden_case_id"] if "golden_case_id" in handlings else pd.Series(dtype="string")
    # a case that carries a (valid) 投资项目代码 is linked by it, not offered
    coded = golden["project_code"].notna() if "project_code" in golden else pd.Series(False, index=golden.index)
    cases = golden[golden["item_code"].isin(table.index) & ~golden["golden_case_id"].isin(named) & ~coded]
    units = projects.dropna(subset=["unit_id"])[["project_code", "unit_id", "site"]]
    pairs = cases.drop(columns="project_code", errors="ignore").merge(units, left_on="applicant_id", right_on="unit_id")
    if pairs.empty:
        return pd.DataFrame(columns=columns)
    pairs["stage"] = pairs["item_code"].map(table["stage"])
    had = set(zip(handlings["project_code"], handlings["stage"], strict=True))
    pairs["same_applicant"] = True
    site, address = pairs["site"].fillna("").astype(str), pairs["address"].fillna("").astype(str)
    pairs["same_site"] = [bool(s) and (s in a or a in s) for s, a in zip(site, address, strict=True)]
    pairs["stage_expected"] = [(p, s) not in had for p, s in zip(pairs["project_code"], pairs["stage"], strict=True)]
    pairs["reason"] = (
        "申请人为项目单位"
        + np.where(pairs["same_site"], "，地址与建设地点一致", "")
        + np.where(pairs["stage_expected"], "，项目尚无该阶段事项", "，项目已有该阶段事项")
        + "：办件未填项目代码，请核对是否为该项目的事项。"
    )
    return pairs[columns].reset_index(drop=True)
