"""``approval-bridge cases find`` and ``approval-bridge explain``: a golden case as a person looks it up and reads
why its records were linked, in at most 120 columns (``cli.screen``), personal data masked (``reporting.cases``)."""

from __future__ import annotations

import re
import unicodedata

import sqlalchemy as sa

from cli.reading import Refused
from cli.screen import hanging, render, table
from reporting.cases import Case, describe, find
from resolution.evaluations import number_index
from resolution.review import explain, splits
from schemas.identifiers import mask_numbers_in_text
from schemas.warehouse import golden_cases


def _echoed(text: str) -> str:
    """The text a person searched for, as it may be printed back: a run of digits long enough to be a 身份证号 or a
    phone masked (a 办件编号 or a company's USCC has letters in it and stays as typed)."""
    compact = "".join(unicodedata.normalize("NFKC", text).split())
    return mask_numbers_in_text(compact) if re.fullmatch(r"[0-9]{11,}[Xx]?", compact) else text


def found_text(warehouse, text: str, limit: int) -> str:
    """The golden cases ``text`` names, newest first, each with its applicant, item, 办件编号, status and sources."""
    matches = find(warehouse, text)
    shown_text = _echoed(text)
    if matches.empty:
        raise Refused(
            f"no golden case matches {shown_text!r} (by id, 办件编号, record, identifier or applicant name)", 1
        )
    shown = matches.head(limit)
    cases = {case.golden_case_id: case for case in describe(warehouse, shown["golden_case_id"].tolist())}
    more = f"; the {limit} changed last are shown (--limit)" if len(matches) > limit else ""
    blocks = [f"{len(matches)} golden case{'s' if len(matches) != 1 else ''} match {shown_text!r}{more}"]
    for row in shown.itertuples():
        case = cases.get(row.golden_case_id)
        if case is None:  # a link to a golden case since rebuilt away: say so rather than drop it
            blocks.append(hanging(f"{row.golden_case_id}  (no golden case row)", f"matched by {row.matched}"))
            continue
        records = ", ".join(case.records["source_system"] + ":" + case.records["source_record_id"])
        blocks.append(
            hanging(
                f"{case.golden_case_id}  {case.applicant}",
                f"{case.item}; {case.status}, submitted {case.submitted or '?'}; 办件编号 {case.number or 'none yet'}"
                f"\nsources: {records}\nmatched by {row.matched}",
            )
        )
    return "\n".join(blocks)


def golden_id_of(warehouse, key: str) -> str:
    """The golden case ``key`` names: its golden id, or a 办件编号 it is or was known under."""
    key = key.strip()
    known = warehouse.read(sa.select(golden_cases.c.golden_case_id).where(golden_cases.c.golden_case_id == key.upper()))
    if len(known):
        return key.upper()
    with warehouse.engine.connect() as conn:
        numbers = number_index(conn, case_nos=sorted({key, key.upper()}))
    ids = sorted(set(numbers["golden_case_id"]))
    if len(ids) == 1:
        return ids[0]
    if len(ids) > 1:
        raise Refused(f"the 办件编号 {key} names {len(ids)} golden cases ({', '.join(ids)}): explain one of them", 1)
    raise Refused(f"no golden case has the id or 办件编号 {key!r}; approval-bridge cases find {key} looks further", 1)


def _labels(case: Case) -> dict[str, str]:
    """A short label per record (A, B, …, Z, AA, …) so the link table need not repeat 60-character ids."""

    def label(i: int) -> str:
        text = ""
        i += 1
        while i:
            i, rest = divmod(i - 1, 26)
            text = chr(ord("A") + rest) + text
        return text

    keys = case.records["source_system"] + ":" + case.records["source_record_id"]
    return {key: label(i) for i, key in enumerate(keys)}


def header(case: Case) -> str:
    """Who and what the case is: applicant (masked), item, numbers and the records behind it, by source."""
    facts = table("", "", right=())
    facts.show_header = False
    facts.add_row("applicant", case.applicant)
    facts.add_row("item", f"{case.item}; {case.status}, submitted {case.submitted or '?'}, by {case.handling_dept}")
    facts.add_row("办件编号", case.number or "none yet (not numbered)")
    for number, replaced_by in case.withdrawn:
        facts.add_row("withdrawn", f"{number} (replaced by {replaced_by})")
    facts.add_row("sources", case.sources or "?")
    records = table("", "record", "role", "days staged")
    for (key, label), row in zip(_labels(case).items(), case.records.itertuples(), strict=True):
        records.add_row(label, key, row.role, row.days)
    count = len(case.records)
    title = f"Golden case {case.golden_case_id} (version {case.version}): {count} record{'s' if count != 1 else ''}"
    return render(title, facts, "", records)


def explained_text(warehouse, key: str) -> str:
    """The header of the case ``key`` names, then the links among its records field by field, then the links a
    cannot-link constraint did not take."""
    golden_id = golden_id_of(warehouse, key)
    (case,) = describe(warehouse, [golden_id])
    labels = _labels(case)
    parts = [header(case)]
    links = explain(warehouse, golden_id)
    if links.empty:
        parts.append(render("", "No links: a golden case of one record (or records linked as later states of one)."))
    else:
        evidence = table("link", "probability", "field", "level", "weight", right=("probability", "weight"))
        groups = list(links.groupby(["left", "right"], sort=False))
        for n, ((left, right), rows) in enumerate(groups):
            pair = f"{labels.get(left, left)}-{labels.get(right, right)}"
            for i, row in enumerate(rows.itertuples()):
                evidence.add_row(
                    pair if i == 0 else "",
                    f"{row.probability:.3f}" if i == 0 else "",
                    str(row.field),
                    str(row.level),
                    f"{row.weight:+.2f}",
                    end_section=i == len(rows) - 1 and n < len(groups) - 1,  # a blank line between links
                )
        heading = "Links among its records (weight: the field's match weight, + for the same case, - against)"
        parts.append(render("", heading, evidence))
    apart = splits(warehouse, golden_id)
    if not apart.empty:
        kept = table("record", "not merged with", "its golden case", "probability", "why", right=("probability",))
        for row in apart.itertuples():
            kept.add_row(
                labels.get(row.record, row.record),
                str(row.not_merged_with),
                str(row.its_golden_case) if isinstance(row.its_golden_case, str) else "?",
                f"{row.probability:.3f}",
                f"{row.constraint}: {row.why}",
            )
        parts.append(render("", "Not merged: links the model made that a cannot-link constraint did not take", kept))
    return "\n".join(parts)
