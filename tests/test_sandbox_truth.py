"""The sandbox's ground truth is its own: what each stand-in system's fields and codes mean is transcribed in
sandbox/canonical.py from what the generator writes, so the bridge's declared mapping (staging.mappings, from
core/departments/*.yaml) is checked against it rather than used to build it."""

from __future__ import annotations

import datetime as dt

import pytest

from sandbox.canonical import SYSTEM_APPLICANT_TYPES, SYSTEM_FIELDS, SYSTEM_STATUSES, canonical_cases
from sandbox.generator import SOURCES, GeneratorConfig, generate
from staging.mappings import SourceMapping, mapping

pytestmark = pytest.mark.unit


def disagreements(source: str, declared: SourceMapping) -> list[str]:
    """Where the bridge's mapping of ``source`` reads a field or code otherwise than the sandbox wrote it."""
    found = []
    for column, field in SYSTEM_FIELDS[source].items():
        if declared.fields.get(column) != field:
            found.append(f"{column}: the bridge reads {declared.fields.get(column)!r}, the system writes {field!r}")
    for code, status in SYSTEM_STATUSES[source].items():
        if declared.statuses.get(code) != status:
            found.append(f"status {code!r}: the bridge reads {declared.statuses.get(code)!r}, it means {status!r}")
    for value, kind in SYSTEM_APPLICANT_TYPES[source].items():
        if declared.applicant_types.get(value) != kind:
            found.append(f"applicant type {value!r}: the bridge reads {declared.applicant_types.get(value)!r}")
    return found


@pytest.mark.parametrize("source", SOURCES)
def test_the_bridges_mapping_reads_each_system_as_the_sandbox_wrote_it(source):
    assert disagreements(source, mapping(source)) == []


def test_a_wrong_mapping_is_caught():
    good = mapping("market_regulation")
    swapped = SourceMapping(
        good.source_system,
        fields={**good.fields, "submitted_at": good.fields["accepted_at"], "accepted_at": good.fields["submitted_at"]},
        statuses={**good.statuses, "07": "不予受理", "08": "退件"},
        applicant_types={"1": "natural_person", "2": "legal_person"},
    )
    found = disagreements("market_regulation", swapped)
    assert len(found) == 6, found


def test_canonical_cases_carry_canonical_statuses_and_the_truth():
    cases = canonical_cases(generate(GeneratorConfig(start=dt.date(2026, 3, 2), days=2, cases_per_day=20, seed=5)))
    assert set(cases["source_system"]) == set(SOURCES)
    assert set(cases["status"]) <= {"申报", "受理", "审查", "决定", "办结", "送达", "退件", "不予受理"}
    assert cases["true_case_id"].notna().all()
    market = cases[cases["source_system"] == "market_regulation"]
    assert (market["case_no"] == market["source_record_id"]).all()
