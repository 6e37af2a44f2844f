"""Where the warehouse holds personal data (身份证号, phones, natural persons' names, addresses), as it is and as
masked: the one list docs/security.md, the roles (``core/roles.py``) and ``tests/test_personal_data.py`` hold to.

``RAW``: tables with personal data as the sources sent it (needed to link, deliver and answer); they live in the
default schema, never in ``marts``, and only the pipeline's own account reads them (the sharing API's account reads
the licence tables among them, and masks what it answers). ``MASKED``: tables whose columns that could hold personal
data are written masked (``schemas.identifiers``: a 身份证号 keeps region and last four, a phone its first three and
last four), so no raw value is in them.
"""

from __future__ import annotations

#: table → (columns, what is in them)
RAW: dict[str, tuple[tuple[str, ...], str]] = {
    "raw_records": (
        ("payload",),
        "each department's record as it came: applicants' 身份证号, phones, names, addresses",
    ),
    "raw_feed_records": (("payload",), "each platform feed's record as it came: 12345 callers, evaluations, findings"),
    "raw_licence_feed": (("payload",), "the licence registry's records as they came: holders' codes and names"),
    "staged_cases": (("applicant_name", "applicant_id", "contact_phone", "address"), "the canonical record"),
    "golden_cases": (("applicant_name", "applicant_id", "contact_phone", "address"), "the golden case"),
    "outbox": (("payload",), "each version as sent to a receiver: the applicant's 身份证号, phone and address"),
    "holders": (("holder_code", "holder_name", "name_key"), "licence holders: a natural person's 身份证号 and name"),
    "holder_codes": (("code",), "every spelling of a holder's code seen, 身份证号 included"),
    "licences": (("holder_code", "holder_name"), "the licence's holder"),
    "licence_events": (("details",), "the fields each event states (JSON): the holder's code and name"),
    "staged_findings": (("holder_code", "holder_name", "content"), "a supervision finding's holder as sent"),
    "findings": (("holder_code",), "the holder a finding names"),
    "case_parties": (("party_code",), "each case's applicant and licence holders: a natural person's 身份证号"),
    "staged_hotline_orders": (("applicant_name",), "the applicant an order names, for linking only (caller masked)"),
}

#: table → (columns written masked, how)
MASKED: dict[str, tuple[tuple[str, ...], str]] = {
    "review_queue": (("summary",), "both records side by side, identifiers and phones masked"),
    "licence_access_log": (("holder", "case_no", "reason"), "a caller's values through the audit's masking"),
    "corrections": (("applicant",), "name and identifier, a 身份证号 masked; never a phone"),
    "staged_hotline_orders": (("caller_name", "caller_phone", "content"), "surname and *, 139****5678, digit runs"),
    "quarantined_records": (("reason",), "a clerk's reason: digit runs masked"),
    "quarantined_feed_records": (("reason",), "a clerk's reason: digit runs masked"),
    "staged_evaluations": (("text",), "the applicant's words: digit runs masked"),
}
