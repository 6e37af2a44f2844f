"""How each department system's fields and codes map onto the canonical case, as its declaration says.

The mapping is configuration (``core/departments/<system>.yaml``); normalisation and validation that follow
are shared by every system.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.departments import MaterialMapping, PauseMapping, departments
from schemas.case import CODED_COLUMNS


@dataclass(frozen=True)
class SourceMapping:
    source_system: str
    fields: dict[str, str]  # canonical column -> the source's field name
    statuses: dict[str, str]  # the source's status value -> canonical 办件状态
    applicant_types: dict[str, str] = field(default_factory=dict)  # source value -> canonical; {} = infer from id
    case_no_form: str = "local"  # national: case_no is the 办件编号, kept when valid (schemas.identifiers)
    pauses: PauseMapping | None = None  # where the system lists a case's 特别程序
    materials: MaterialMapping | None = None  # where the system lists a case's 材料
    # per coded column (submission_channel, delivery_method, accepting_place, approval_mode): code -> canonical
    codes: dict[str, dict[str, str]] = field(default_factory=dict)


def mappings() -> dict[str, SourceMapping]:
    """Every declared system's mapping, by system name."""
    return {
        name: SourceMapping(
            name,
            fields=dict(d.mapping.fields),
            statuses=dict(d.mapping.statuses),
            applicant_types=dict(d.mapping.applicant_types),
            case_no_form=d.mapping.case_no_form,
            pauses=d.mapping.pauses,
            materials=d.mapping.materials,
            codes={column: dict(getattr(d.mapping, maps)) for column, maps in CODED_COLUMNS.items()},
        )
        for name, d in departments().items()
    }


def national_case_no_systems() -> frozenset[str]:
    """The systems whose case numbers are the 办件编号 their cases are known by (``case_no_form: national``)."""
    return frozenset(name for name, m in mappings().items() if m.case_no_form == "national")


def mapping(source_system: str) -> SourceMapping:
    found = mappings().get(source_system)
    if found is None:
        raise KeyError(f"raw records of {source_system!r}, but no department system is declared under that name")
    return found
