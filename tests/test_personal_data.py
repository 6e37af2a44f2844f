"""The list of where personal data is (``schemas.personal_data``) is complete and held: every table with a column
that can hold a 身份证号, a phone or a natural person's name is listed, raw or masked; none of the raw ones is in
the marts schema (which the dashboard role reads); the sharing API's account reads only the licence tables among
them; docs/security.md names every one (issue 24: five tables were missing from its list)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.roles import API_READS
from schemas.personal_data import MASKED, RAW
from schemas.warehouse import MARTS, metadata

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
#: Column names that can hold personal data in this schema (a payload or details JSON carries a record whole).
PERSONAL = re.compile(
    r"^(payload|details|applicant_id|applicant_name|applicant|contact_phone|address|holder_code|holder_name|"
    r"holder|code|caller_name|caller_phone|content|text|summary|name_key)$"
)
#: Columns of those names that cannot hold personal data here, with the reason.
NOT_PERSONAL = {
    ("outbox", "payload_hash"): "a digest",
}


def test_every_column_that_can_hold_personal_data_is_listed():
    listed = {(t, c) for t, (columns, _) in {**RAW}.items() for c in columns}
    listed |= {(t, c) for t, (columns, _) in MASKED.items() for c in columns}
    found = {
        (table.name, column.name)
        for table in metadata.sorted_tables
        for column in table.columns
        if PERSONAL.match(column.name) and table.schema != MARTS
    }
    missing = sorted(found - listed - set(NOT_PERSONAL))
    assert not missing, f"personal-data columns not in schemas/personal_data.py: {missing}"
    for table, (columns, _) in {**RAW, **MASKED}.items():
        assert table in metadata.tables, table
        assert set(columns) <= set(metadata.tables[table].columns.keys()), table


def test_no_raw_personal_data_in_the_marts_schema():
    assert not [name for name in RAW if metadata.tables[name].schema == MARTS]
    marts = [t for t in metadata.sorted_tables if t.schema == MARTS]
    assert marts and not [(t.name, c.name) for t in marts for c in t.columns if PERSONAL.match(c.name)]


def test_the_api_reads_only_the_licence_tables_and_the_cases_parties_among_them():
    assert {t.name for t in API_READS} & set(RAW) == {"holders", "holder_codes", "licences", "findings", "case_parties"}


def test_docs_security_names_every_table():
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    assert not [name for name in {**RAW, **MASKED} if f"`{name}`" not in text]
