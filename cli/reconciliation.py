"""The reconciliation table: pulled, staged, quarantined, golden, duplicates, and per receiver what was sent
and what the receiver itself holds, with the identities that must hold between them.

``approval-bridge reconcile`` prints it for the configured warehouse; the demo prints it after its run.
"""

from __future__ import annotations

from core.feeds import feeds_of
from core.vocabulary import RECEIVERS
from delivery.outbox import status_counts, unaccounted_versions
from delivery.reconcile import receiver_counts
from reporting.accounting import accounted, balanced
from reporting.figures import (
    channel_figures,
    evaluation_figures,
    hotline_figures,
    project_figures,
    target_figures,
)
from schemas.warehouse import evaluations, findings, hotline_orders, process_stages, project_handlings, projects

TARGETS = RECEIVERS


def summary(warehouse, receivers: dict | None = None, month: str | None = None) -> dict:
    """The reconciliation figures: pulled, staged, quarantined, golden, duplicates, and per receiver what we
    sent and, where ``receivers`` (name → target) are given, what the receiver itself says it holds; with
    ``month`` (YYYY-MM), the bureau's figures of that month from the marts (reporting.figures)."""

    def count(sql: str) -> int:
        return int(warehouse.scalar(sql) or 0)

    targets = {}
    by_target = status_counts(warehouse).set_index("target")
    for name in TARGETS:
        row = by_target.loc[name] if name in by_target.index else None
        targets[name] = {
            key: int(row[key]) if row is not None else 0
            for key in ("case_versions", "acknowledged", "pending", "dead_lettered")
        }
        targets[name]["unaccounted"] = unaccounted_versions(warehouse, name)
        targets[name]["acknowledged_cases"] = count(
            f"SELECT COUNT(DISTINCT golden_case_id) FROM outbox WHERE target = '{name}' AND status = 'acknowledged'"
        )
        if receivers:  # counted on the receiver's side, by its own query, a month at a time
            targets[name].update(receiver_counts(warehouse, name, receivers[name]))
        if receivers and (spoken := receivers[name].format_name()):
            targets[name]["format"] = spoken
    return {
        "pulled": count("SELECT COUNT(*) FROM raw_records"),
        "staged": count("SELECT COUNT(*) FROM staged_cases"),
        "quarantined": count("SELECT COUNT(*) FROM quarantined_records"),
        "golden": count("SELECT COUNT(*) FROM golden_cases"),
        "duplicates": count("SELECT COUNT(*) FROM case_links WHERE role = 'duplicate'"),
        "status_updates": count(  # earlier states of a record seen again later: duplicates of it, not re-entries
            "SELECT COUNT(*) FROM case_links WHERE match_rule = 'same_source_record' AND role = 'duplicate'"
        ),
        "golden_versions": count("SELECT COALESCE(SUM(version), 0) FROM golden_cases"),
        "licences": count("SELECT COUNT(*) FROM licences"),
        "licences_valid": count("SELECT COUNT(*) FROM licences WHERE status = '有效'"),
        "licences_from_both_sources": count("SELECT COUNT(*) FROM licences WHERE sources LIKE 'case,%'"),
        "holders": count("SELECT COUNT(*) FROM holders"),
        "licence_events": count("SELECT COUNT(*) FROM licence_events"),
        "targets": targets,
        "case_numbers": _case_numbers(count),
        "evaluations": _feed(warehouse, "evaluations"),
        "hotline": _feed(warehouse, "hotline"),
        "projects": _feed(warehouse, "projects"),
        "project_items": _feed(warehouse, "project_items"),
        "process_stages": _feed(warehouse, "process_stages"),
        "findings": _feed(warehouse, "findings"),
        "findings_open": count("SELECT COUNT(*) FROM findings WHERE in_force"),
        "corrections": correction_figures(warehouse),
        **({"bureau": bureau_figures(warehouse, month)} if month else {}),
    }


NUMBER_ORIGINS = ("kept", "allocated_by_bridge", "allocated_by_service")


def _case_numbers(count) -> dict[str, int]:
    """The 办件编号 the golden cases go out under, by where each came from (case_numbers): kept from a department,
    allocated by the bridge's serial or the province's numbering service, under a derived 实施编码 (assumed, to be
    confirmed against the province's catalogue), superseded by a department's; and what the cases carry besides."""
    live = "FROM case_numbers WHERE superseded_by IS NULL"
    return {
        "kept": count(f"SELECT COUNT(*) {live} AND origin = 'department'"),
        "allocated_by_bridge": count(f"SELECT COUNT(*) {live} AND origin = 'allocated' AND "
                                     "COALESCE(allocated_by, 'bridge') = 'bridge'"),
        "allocated_by_service": count(f"SELECT COUNT(*) {live} AND allocated_by = 'province_service'"),
        "derived_task_codes": count(f"SELECT COUNT(*) {live} AND task_code_origin = 'derived'"),
        "superseded": count("SELECT COUNT(*) FROM case_numbers WHERE superseded_by IS NOT NULL"),
        "with_materials": count(
            "SELECT COUNT(DISTINCT l.golden_case_id) FROM staged_materials m JOIN case_links l ON "
            "l.source_system = m.source_system AND l.partition_date = m.partition_date AND l.record_key = m.record_key "
            "WHERE m.problem IS NULL"
        ),
        "with_handler": count("SELECT COUNT(*) FROM golden_cases WHERE handler_name IS NOT NULL"),
    }  # fmt: skip


FEED_STATES = {  # kind: (id field, state table, its statuses)
    "evaluations": ("evaluation_id", evaluations, ("linked", "waiting", "quarantined")),
    "hotline": ("order_id", hotline_orders, ("linked", "review", "unlinked", "quarantined")),
    "projects": ("project_code", projects, ("tracked", "quarantined")),
    "project_items": ("handling_id", project_handlings, ("linked", "waiting", "quarantined")),
    "process_stages": ("stage_key", process_stages, ("current", "quarantined")),
    "findings": ("finding_id", findings, ("linked", "unknown_holder", "quarantined")),
}


def _feed(warehouse, kind: str) -> dict:
    """What a kind of feed sent (read from the raw records) and where each item ended."""
    field, table, statuses = FEED_STATES[kind]
    found = accounted(warehouse, feeds_of(kind), field, table, statuses)
    return {
        **{key: found[key] for key in ("pulled", *statuses)},
        "balanced": balanced(found, statuses),
    }


def correction_figures(warehouse) -> dict:
    """The correction lists against their facts: every quarantined record (of the systems and feeds on the
    departments' lists) and every dead letter in exactly one entry; the entries a re-loaded day left without facts
    (kept, closed) apart; open and fixed, how, and per department."""
    import pandas as pd
    import sqlalchemy as sa

    from pipelines.corrections.checks import fact_keys
    from reporting.corrections import OPEN, QUARANTINE, REFUSAL
    from schemas.case import departments
    from schemas.warehouse import corrections

    facts = fact_keys(warehouse)
    t = corrections.c
    entries = warehouse.read(sa.select(t.entry_key, t.department, t.status, t.fixed_how))
    backed = entries["entry_key"].isin(facts["entry_key"])
    wanted = facts.drop_duplicates("entry_key")
    names = departments().set_index("department_code")["short_name"]
    per_department = (
        entries.groupby(["department", "status"]).size().unstack(fill_value=0)
        if len(entries)
        else pd.DataFrame(columns=["open", "fixed"])
    ).reindex(columns=["open", "fixed"], fill_value=0)
    found = {
        "entries": len(entries),
        "open": int((entries["status"] == OPEN).sum()),
        "fixed": int((entries["status"] != OPEN).sum()),
        "quarantined_records": int((facts["kind"] == QUARANTINE).sum()),
        "quarantine_entries": int((wanted["kind"] == QUARANTINE).sum()),
        "dead_letters": int((facts["kind"] == REFUSAL).sum()),
        "refusal_entries": int((wanted["kind"] == REFUSAL).sum()),
        "from_facts": int(backed.sum()),
        "without_facts": int((~backed).sum()),
        "missing": int((~wanted["entry_key"].isin(entries["entry_key"])).sum()),
        "open_without_facts": int((~backed & (entries["status"] == OPEN)).sum()),
        "fixed_how": {str(k): int(v) for k, v in entries["fixed_how"].value_counts().items()},
        "by_department": {
            str(names.get(dept, dept)): {"open": int(row["open"]), "fixed": int(row["fixed"])}
            for dept, row in per_department.iterrows()
        },
    }
    found["balanced"] = (
        found["missing"] == 0
        and found["open_without_facts"] == 0
        and found["from_facts"] == found["quarantine_entries"] + found["refusal_entries"]
    )
    return found


def bureau_figures(warehouse, month: str) -> dict:
    """The figures the bureau is judged by, each from one query on its mart."""
    with warehouse.begin() as conn:
        return {
            "evaluations": evaluation_figures(conn, month),
            "hotline": hotline_figures(conn, month),
            "channel": channel_figures(conn, month),
            "targets": target_figures(conn, month),
            "projects": project_figures(conn, month),
        }


def _percent(rate: float | None) -> str:
    return "–" if rate is None else f"{rate:.1%}"


def identities(figures: dict) -> list[tuple[str, bool]]:
    checks = [
        ("pulled = staged + quarantined", figures["pulled"] == figures["staged"] + figures["quarantined"]),
        ("staged = golden + duplicates", figures["staged"] == figures["golden"] + figures["duplicates"]),
    ]
    if e := figures.get("evaluations"):
        checks.append(("evaluations pulled = linked + waiting + quarantined", e["balanced"]))
    if h := figures.get("hotline"):
        checks.append(("12345 orders pulled = linked + review + unlinked + quarantined", h["balanced"]))
    if p := figures.get("projects"):
        checks.append(("projects pulled = tracked + quarantined", p["balanced"]))
    if i := figures.get("project_items"):
        checks.append(("project items pulled = linked + waiting + quarantined", i["balanced"]))
    if s := figures.get("process_stages"):
        checks.append(("process stages pulled = current + quarantined", s["balanced"]))
    if f := figures.get("findings"):
        checks.append(("findings pulled = linked + unknown holder + quarantined", f["balanced"]))
    if c := figures.get("corrections"):
        checks.append(("corrections = quarantined records + receivers' refusals, each in one entry", c["balanced"]))
    for name, t in figures["targets"].items():
        checks.append(
            (
                f"{name}: every version acknowledged, pending or dead-lettered",
                t["unaccounted"] == 0 and t["case_versions"] == t["acknowledged"] + t["pending"] + t["dead_lettered"],
            )
        )
        if "received_cases" in t and t.get("duplicate_effects") is None:
            checks.append(
                (
                    f"{name}: receiver confirms the cases it acknowledged (by receipt; taking effect twice: cannot "
                    "verify)",
                    t["received_cases"] == t["acknowledged_cases"],
                )
            )
        elif "received_cases" in t:
            checks.append(
                (
                    f"{name}: receiver holds the cases it acknowledged, none twice",
                    t["received_cases"] == t["acknowledged_cases"] and t["duplicate_effects"] == 0,
                )
            )
    return checks


def _correction_lines(c: dict | None) -> list[str]:
    if not c:
        return []
    how = c["fixed_how"]
    lines = [
        f"  corrections  {c['entries']:>7}  ({c['quarantine_entries']} for {c['quarantined_records']} quarantined "
        f"records, {c['refusal_entries']} for {c['dead_letters']} refused or held-back versions; {c['open']} open, "
        f"{c['fixed']} fixed: {how.get('record_staged', 0)} records arrived clean, "
        f"{how.get('version_acknowledged', 0)} later versions acknowledged"
        + (f", {c['without_facts']} kept from re-loaded days" if c["without_facts"] else "")
        + ")"
    ]
    if c["by_department"]:
        shown = " · ".join(f"{d} {n['open']} open/{n['fixed']} fixed" for d, n in c["by_department"].items())
        lines.append(f"               by department: {shown}")
    return lines


def _shown(value) -> str:
    """A receiver's own figure, or ``?`` where its query cannot say it."""
    return "?" if value is None else str(value)


def render(figures: dict) -> str:
    lines = [
        "Reconciliation",
        f"  pulled       {figures['pulled']:>7}",
        f"  staged       {figures['staged']:>7}",
        f"  quarantined  {figures['quarantined']:>7}",
        f"  golden cases {figures['golden']:>7}  ({figures['golden_versions']} versions)",
        f"  duplicates   {figures['duplicates']:>7}  (of which {figures['status_updates']} later states of a record)",
        *(
            [
                f"  evaluations  {e['pulled']:>7}  ({e['linked']} linked to their case, {e['waiting']} waiting for it, "
                f"{e['quarantined']} quarantined)"
            ]
            if (e := figures.get("evaluations"))
            else []
        ),
        *(
            [
                f"  12345 orders {h['pulled']:>7}  ({h['linked']} about a case, {h['review']} for review, "
                f"{h['unlinked']} about no case, {h['quarantined']} quarantined)"
            ]
            if (h := figures.get("hotline"))
            else []
        ),
        *(
            [
                f"  findings     {f['pulled']:>7}  ({f['linked']} linked to their holder, {f['unknown_holder']} "
                f"unknown holder, {f['quarantined']} quarantined; {figures.get('findings_open', 0)} open)"
            ]
            if (f := figures.get("findings"))
            else []
        ),
        *(
            [
                f"  办件编号     {sum(n[k] for k in NUMBER_ORIGINS):>7}  ({n['kept']} kept from departments, "
                f"{n['allocated_by_bridge']} allocated by the bridge, {n['allocated_by_service']} by the province's "
                f"service; {n['derived_task_codes']} under a derived 实施编码, {n['superseded']} superseded)",
                f"  with materials {n['with_materials']:>5}  golden cases; with a clerk (经办人) {n['with_handler']}",
            ]
            if (n := figures.get("case_numbers"))
            else []
        ),
        *_correction_lines(figures.get("corrections")),
        f"  licences     {figures['licences']:>7}  ({figures['licences_valid']} valid, "
        f"{figures['licences_from_both_sources']} reported by a case and the registry alike; "
        f"{figures['holders']} holders, {figures['licence_events']} events)",
        "",
        f"  {'receiver':<12} {'versions':>8} {'acknowledged':>12} {'pending':>8} {'dead-lettered':>13}"
        f" {'receiver holds':>14} {'twice':>6}",
    ]
    for name, t in figures["targets"].items():
        lines.append(
            f"  {name:<12} {t['case_versions']:>8} {t['acknowledged']:>12} {t['pending']:>8} {t['dead_lettered']:>13}"
            f" {_shown(t.get('received_cases')):>14} {_shown(t.get('duplicate_effects')):>6}"
        )
    formats = [(name, t["format"]) for name, t in figures["targets"].items() if t.get("format")]
    if formats:
        lines.append("")
        lines += [f"  {name} speaks {spoken}" for name, spoken in formats]
    read = [(name, t) for name, t in figures["targets"].items() if "verified_by" in t or "cannot_verify" in t]
    if read:
        lines.append("")
        for name, t in read:
            how = f"read by {t['verified_by']}" if "verified_by" in t else f"cannot verify: {t['cannot_verify']}"
            lines.append(f"  {name} {how}")
    if figures.get("faults_injected"):
        lines.append("")
        for name, served in figures["faults_injected"].items():
            shown = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in served.items() if v)
            lines.append(f"  faults the {name} stand-in showed: {shown or 'none'}")
    if bureau := figures.get("bureau"):
        e = bureau["evaluations"]
        lines += [
            "",
            f"  The bureau's figures for {e['month']} (from the marts)",
            f"  好差评 satisfaction   {_percent(e['satisfaction_rate']):>7}  ({e['satisfied']} of {e['rated']} rated; "
            f"{e['evaluated_cases']} of {e['completed_cases']} completed cases evaluated, "
            f"{e['poor']} 差评, {e['poor_past_deadline']} past a deadline)",
        ]
        h = bureau["hotline"]
        lines += [
            f"  12345 on time        {_percent(h['on_time_rate']):>7}  ({h['on_time']} of {h['timed']} orders closed "
            f"by their deadline; {h['orders']} orders, {h['province_orders']} from the province, "
            f"{h['about_cases']} about a case)",
            f"  12345 satisfaction   {_percent(h['satisfaction_rate']):>7}  ({h['satisfied_count']} of {h['rated']} "
            "callers revisited were satisfied)",
        ]
        if start := bureau["targets"].get("startup"):
            lines.append(
                f"  企业开办 2 days       {_percent(start['share_within_target']):>7}  ({start['within_target']} of "
                f"{start['completed']} start-ups, registration to seal, invoice and social security, in "
                f"{start['target_days']} working days)"
            )
        if (p := bureau["projects"])["projects"]:
            lines.append(
                f"  工业项目 45 days      {_percent(p['within_target'] / p['projects']):>7}  ({p['within_target']} of "
                f"{p['projects']} projects permitted; 立项 → 施工许可 {p['average_working_days']:.1f} working days on "
                f"average, {p['max_working_days']} at most)"
            )
        c = bureau["channel"]
        lines.append(
            f"  不见面审批 share       {_percent(c['not_in_person_share']):>7}  ({c['not_in_person']} of "
            f"{c['determinable']} cases whose channel and delivery are known; {c['cases']} submitted; "
            f"告知承诺 {c['mode_commitment']}, 容缺受理 {c['mode_missing_papers']})"
        )
    lines.append("")
    for label, ok in identities(figures):
        lines.append(f"  [{'ok' if ok else 'FAILED'}] {label}")
    for name, t in figures["targets"].items():
        if "cannot_verify" in t:  # a warning, never a pass
            lines.append(f"  [cannot verify] {name}: what the receiver holds ({t['cannot_verify']})")
    return "\n".join(lines)
