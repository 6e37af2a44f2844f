"""企业开办 as one chain: an enterprise's 设立登记 and the later steps filed under the USCC it issued (公章刻制,
首次申领发票, 单位参保登记 …: ``reporting/definitions.yaml``, ``mart_startup_chains``), measured as one start-up
against the 2345 target (2 working days).

- A chain opens with each registration case (the ``registration`` step's items) whose applicant is named by a
  统一社会信用代码 (the shape of one; a failing check character is kept, as everywhere). A registration naming no
  USCC cannot be linked: its chain is ``no_uscc``, never on time.
- A later step joins the chain of the same USCC whose clock started on or before the step was filed (the latest
  such registration), if it was filed no later than ``window_days`` after the licence was issued (the registration's
  completion). A sister company at the same address has another USCC: it never joins. Of several cases of one step
  (a second batch of invoices) the first finished stands for the step; the others are listed, not counted.
- The clock runs from the registration's acceptance (or submission: ``clock_start``) to the completion of the last
  step, in working days (``schemas.workdays``: the start day not counted), net of the 特别程序 pauses of any case of
  the chain (``reporting.deadlines.paused_days``, overlaps once).
- Verdicts: ``on_time`` / ``late`` when every step is done; otherwise ``running`` while within the target,
  ``overdue`` past it, and ``stalled`` once the window has closed without the missing step. Only a complete chain
  within the target is on time.

Columnar throughout (pandas merges and group-bys, no per-row Python).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core.frames import isin
from core.warehouse import frame_of, in_lists, insert_frame
from reporting.deadlines import paused_days, targets_2345
from reporting.definitions import STARTUP_REGISTRATION, StartupDefinitions
from reporting.refresh import CaseChanges, mart_key, starts_over
from schemas.case import CODES_DIR, is_completed
from schemas.identifiers import ID_KIND_USCC, classify_identifiers
from schemas.warehouse import golden_cases, mart_startup_chains, mart_startup_steps, refresh_marks
from schemas.workdays import WorkingCalendar

TARGET = "startup"
CHAIN_COLUMNS = ["chain_id", "uscc", "enterprise_name", "registration_case_no", "clock_start", "licence_issued_on",
                 "last_step_completed_on", "steps_required", "steps_done", "steps_missing", "cases",
                 "working_days_gross", "paused_working_days", "working_days_net", "target_days", "target_deadline",
                 "result", "within_target", "month"]  # fmt: skip
STEP_COLUMNS = ["chain_id", "golden_case_id", "step", "counted", "case_no", "item_code", "handling_dept",
                "submitted_on", "completed_on", "working_days_from_start"]  # fmt: skip


def _day(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.normalize()


def _uscc(values: pd.Series) -> pd.Series:
    """The identifier where it is a USCC (normalised; a failing check character is kept), else NA: a 身份证号码,
    which can have a USCC's shape, is told apart by its birth date (``schemas.identifiers.classify_identifiers``)."""
    found = classify_identifiers(values)
    return found["id"].astype("string").where(found["kind"] == ID_KIND_USCC)


#: The golden cases' columns the chains are built from (what a refresh reads of the start-up items' cases).
CASE_COLUMNS = ("golden_case_id", "case_no", "item_code", "applicant_id", "applicant_name", "handling_dept",
                "status", "submitted_at", "accepted_at", "completed_at")  # fmt: skip


def startup_chains(
    golden: pd.DataFrame,
    cal: WorkingCalendar,
    today: dt.date,
    definition: StartupDefinitions,
    pauses: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(chains, steps)``: one row per start-up (``mart_startup_chains``) and one per case in a chain
    (``mart_startup_steps``). ``golden``: golden cases (golden_case_id, case_no, item_code, applicant_id,
    applicant_name, handling_dept, status, submitted_at, accepted_at, completed_at); ``pauses``: golden_case_id,
    started_at, ended_at (the counted ones)."""
    step_of = {code: step for step, codes in definition.steps.items() for code in codes}
    required = list(definition.steps)
    cases = golden.assign(
        step=golden["item_code"].map(step_of),
        uscc=_uscc(golden["applicant_id"]),
        start=_day(golden[definition.clock_start]),
        submitted=_day(golden["submitted_at"]),
        done=_day(golden["completed_at"]).where(is_completed(golden)),
    )
    cases = cases[cases["step"].notna()]
    regs = cases[(cases["step"] == STARTUP_REGISTRATION) & cases["start"].notna()].copy()
    if regs.empty:
        return pd.DataFrame(columns=CHAIN_COLUMNS), pd.DataFrame(columns=STEP_COLUMNS)
    regs["chain_id"] = regs["golden_case_id"]
    regs["anchor"] = regs["done"].fillna(regs["start"])  # the window runs from the licence (or the start)

    # later steps: to the latest registration of their USCC whose clock started by the day they were filed
    later = cases[(cases["step"] != STARTUP_REGISTRATION) & cases["uscc"].notna() & cases["submitted"].notna()]
    keyed = regs[regs["uscc"].notna()][["uscc", "start", "anchor", "chain_id"]].rename(columns={"start": "opened"})
    later = later.sort_values("submitted")
    joined = pd.merge_asof(
        later, keyed.sort_values("opened"), left_on="submitted", right_on="opened", by="uscc", direction="backward"
    )
    in_window = joined["chain_id"].notna() & (
        joined["submitted"] <= joined["anchor"] + pd.to_timedelta(definition.window_days, unit="D")
    )
    members = pd.concat([regs, joined[in_window]], ignore_index=True)
    members = members.merge(regs[["chain_id", "start"]].rename(columns={"start": "chain_start"}), on="chain_id")

    # the case that stands for each step: the first finished (else the first filed)
    members = members.sort_values(["chain_id", "step", "done", "submitted", "golden_case_id"], na_position="last")
    members["counted"] = ~members.duplicated(["chain_id", "step"])
    counted = members[members["counted"]]
    finished = counted[counted["done"].notna()]
    per_chain = finished.groupby("chain_id").agg(steps_done=("step", "size"), last_done=("done", "max"))
    has_step = pd.crosstab(finished["chain_id"], finished["step"]).reindex(columns=required, fill_value=0) > 0

    chains = regs.set_index("chain_id")
    steps_done = per_chain["steps_done"].reindex(chains.index).fillna(0).astype(int)
    complete = steps_done == len(required)
    has_step = has_step.reindex(chains.index, fill_value=False)
    missing = pd.Series("", index=chains.index)
    for step in required:  # a loop over the few step names, not over chains
        missing = missing.where(has_step[step], missing + np.where(missing == "", "", ", ") + step)
    end = per_chain["last_done"].reindex(chains.index).where(complete)
    until = end.fillna(pd.Timestamp(today)).clip(lower=chains["start"])
    start = chains["start"]
    chain_pauses = None
    if pauses is not None and not pauses.empty:
        chain_pauses = pauses.merge(members[["golden_case_id", "chain_id"]], on="golden_case_id")
        chain_pauses = chain_pauses.drop(columns="golden_case_id").rename(columns={"chain_id": "golden_case_id"})
    ids = pd.Series(chains.index, index=chains.index)
    paused = paused_days(start, until, ids, chain_pauses, cal)
    gross = cal.working_days_between(start, until)
    net = (gross - paused["working"]).clip(lower=0)
    target_days = int(targets_2345().loc[TARGET, "working_days"])
    deadline = pd.to_datetime(cal.add_working_days(start, target_days + paused["working"])["deadline"])
    window_closed = chains["anchor"] + pd.to_timedelta(definition.window_days, unit="D") < pd.Timestamp(today)
    has_uscc = chains["uscc"].notna()
    result = np.select(
        [~has_uscc, complete & (net <= target_days), complete, window_closed, pd.Timestamp(today) > deadline],
        ["no_uscc", "on_time", "late", "stalled", "overdue"],
        default="running",
    )
    within = pd.Series(result == "on_time", index=chains.index).astype("boolean").mask(result == "running")
    # a running chain counted so far: gross/net up to today; the figures of a complete one end at its last step
    table = pd.DataFrame(
        {
            "chain_id": chains.index,
            "uscc": chains["uscc"],
            "enterprise_name": chains["applicant_name"],
            "registration_case_no": chains["case_no"],
            "clock_start": start.dt.date,
            "licence_issued_on": chains["done"].dt.date,
            "last_step_completed_on": end.dt.date,
            "steps_required": len(required),
            "steps_done": steps_done,
            "steps_missing": missing.replace("", None),
            "cases": members.groupby("chain_id").size().reindex(chains.index).astype(int),
            "working_days_gross": gross.astype("Int64"),
            "paused_working_days": paused["working"].astype("Int64"),
            "working_days_net": net.astype("Int64"),
            "target_days": target_days,
            "target_deadline": deadline.dt.date,
            "result": result,
            "within_target": within,
            "month": chains["done"].dt.strftime("%Y-%m"),
        }
    ).reset_index(drop=True)
    steps = pd.DataFrame(
        {
            "chain_id": members["chain_id"],
            "golden_case_id": members["golden_case_id"],
            "step": members["step"],
            "counted": members["counted"].astype(bool),
            "case_no": members["case_no"],
            "item_code": members["item_code"],
            "handling_dept": members["handling_dept"],
            "submitted_on": members["submitted"].dt.date,
            "completed_on": members["done"].dt.date,
            "working_days_from_start": cal.working_days_between(
                members["chain_start"], members["done"].where(members["done"] >= members["chain_start"])
            ).astype("Int64"),
        }
    ).reset_index(drop=True)
    return table[CHAIN_COLUMNS], steps[STEP_COLUMNS]


def chains_for_2345(chains: pd.DataFrame) -> pd.DataFrame:
    """The chains as ``reporting.deadlines.monthly_2345`` counts them: one row per start-up whose verdict is in
    (every chain with a licence month but those still ``running``), in the month its licence was issued."""
    counted = chains[chains["month"].notna() & (chains["result"] != "running")]
    return pd.DataFrame(
        {
            "target_2345": TARGET,
            "month_completed": counted["month"],
            "within_target": (counted["result"] == "on_time").astype("boolean"),
            "working_days_net": counted["working_days_net"].where(counted["last_step_completed_on"].notna()),
        }
    )


#: A chain's verdict that no longer moves with the day: its last step is done (only a change of its cases moves it).
FINAL = ("on_time", "late")


def startup_key(definition: StartupDefinitions, cal: WorkingCalendar) -> str:
    """The refresh marks' name for the chains under today's rules: it changes (and the chains are built whole)
    when this module, the deadlines' rules it counts by, the start-up definition or the published calendar do."""
    import reporting.deadlines as deadlines

    sources = [Path(__file__), Path(deadlines.__file__), CODES_DIR / "targets_2345.csv"]
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in sources)).hexdigest()
    return mart_key(mart_startup_chains, digest, definition.model_dump_json(), cal.published.to_csv(index=False))


def refresh_startup(
    conn: sa.Connection,
    cal: WorkingCalendar,
    today: dt.date,
    definition: StartupDefinitions,
    pauses: pd.DataFrame,
    changes: CaseChanges,
    *,
    full: bool = False,
) -> int:
    """Bring ``mart_startup_chains`` and ``mart_startup_steps`` up to date inside ``conn``'s transaction, building
    again only the enterprises a load can have changed: a chain is made of one enterprise's cases (one USCC; a
    registration naming none is a chain alone), so the enterprises of the cases the deadlines' refresh computed
    again (``changes``: new, changed, gone, their pauses changed), as they are now and as the chains held them,
    and those whose chain is not complete (its working days run on with the day). Whole when ``changes`` is,
    the rules changed, or ``full``. Any order of refreshes ends in the rows of a whole build on the same day.
    Returns the chains built."""
    g, c, st = golden_cases.c, mart_startup_chains.c, mart_startup_steps.c
    key = startup_key(definition, cal)
    items = sorted({code for codes in definition.steps.values() for code in codes})
    columns = [g[name] for name in CASE_COLUMNS]
    if starts_over(conn, key, changes.full or full):
        cases = frame_of(conn.execute(sa.select(*columns).where(g.item_code.in_(items))))
        chains, steps = startup_chains(cases, cal, today, definition, pauses)
        for table, frame in ((mart_startup_chains, chains), (mart_startup_steps, steps)):
            conn.execute(table.delete())
            insert_frame(conn, table, frame)
        conn.execute(refresh_marks.insert().values(mart=key, golden_case_id="*", content_hash="rules", record_count=0))
        return len(chains)

    touched = [*changes.changed, *changes.gone]
    usccs: set[str] = set()
    alone: set[str] = set(touched)  # a registration's own chain (its id), whatever it names now
    for part in in_lists(touched):
        held = sa.select(st.chain_id).where(st.golden_case_id.in_(part))
        _enterprises(conn.execute(sa.select(c.uscc, c.chain_id).where(c.chain_id.in_(held))).all(), usccs, alone)
        now = frame_of(
            conn.execute(sa.select(g.applicant_id).where(g.golden_case_id.in_(part) & g.item_code.in_(items)))
        )
        if len(now):
            usccs |= set(_uscc(now["applicant_id"]).dropna())
    _enterprises(conn.execute(sa.select(c.uscc, c.chain_id).where(c.result.not_in(FINAL))).all(), usccs, alone)
    parts = [
        frame_of(conn.execute(sa.select(*columns).where(g.item_code.in_(items) & g.applicant_id.in_(part))))
        for part in in_lists(sorted(usccs))
    ]
    parts += [
        frame_of(conn.execute(sa.select(*columns).where(g.item_code.in_(items) & g.golden_case_id.in_(part))))
        for part in in_lists(sorted(alone))
    ]
    found = [frame for frame in parts if len(frame)]
    cases = (
        pd.concat(found, ignore_index=True).drop_duplicates("golden_case_id")
        if found
        else pd.DataFrame(columns=list(CASE_COLUMNS))
    )
    # the chains of those enterprises (and lone registrations) only: a case read for its id may name another USCC
    uscc_of = _uscc(cases["applicant_id"]) if len(cases) else pd.Series(dtype="string")
    cases = cases[isin(uscc_of, usccs).fillna(False) | (uscc_of.isna() & isin(cases["golden_case_id"], alone))]
    mine = pauses[isin(pauses["golden_case_id"], cases["golden_case_id"])] if len(pauses) else pauses
    chains, steps = startup_chains(cases, cal, today, definition, mine)
    stale: set[str] = set()
    for part in in_lists(sorted(usccs)):
        stale |= set(conn.execute(sa.select(c.chain_id).where(c.uscc.in_(part))).scalars())
    for part in in_lists(sorted(alone)):
        stale |= set(conn.execute(sa.select(c.chain_id).where(c.chain_id.in_(part))).scalars())
    for part in in_lists(sorted(stale)):
        conn.execute(mart_startup_steps.delete().where(st.chain_id.in_(part)))
        conn.execute(mart_startup_chains.delete().where(c.chain_id.in_(part)))
    insert_frame(conn, mart_startup_chains, chains)
    insert_frame(conn, mart_startup_steps, steps)
    return len(chains)


def _enterprises(chains: list, usccs: set[str], alone: set[str]) -> None:
    """Add each (uscc, chain_id) to the enterprises built again: by its USCC, or alone when it names none."""
    for uscc, chain in chains:
        if uscc:
            usccs.add(uscc)
        else:
            alone.add(chain)
