"""Department systems as configuration: one YAML declaration per system, read and checked here.

A declaration names the connector kind and its settings (paging, cursor fields, encodings, file pattern,
table), the environment variables its endpoint and credentials come from (with the sandbox profile's
values), the field mapping onto the canonical case, its status and applicant-type codes, its local item
codes, its owner and title for the UI, and where its format comes from (``source:`` or ``assumed:``,
docs/formats.md). Adding a system is adding a file: the shipped declarations live
beside this module, and ``BRIDGE_DEPARTMENTS_DIR`` (one or more folders, ``os.pathsep``-separated) adds or
overrides more. Nothing here knows a department by name.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.provenance import Provenance
from schemas.case import (
    APPLICANT_TYPES,
    APPROVAL_MODES,
    CASE_COLUMNS,
    CHANNELS,
    CODED_COLUMNS,
    DELIVERY_METHODS,
    MATERIAL_GET_TYPES,
    PAUSE_KINDS,
    STATUSES,
    places,
)
from schemas.licences import EVENTS

SHIPPED_DIR = Path(__file__).resolve().parent / "departments"
DIRS_VARIABLE = "BRIDGE_DEPARTMENTS_DIR"
CONNECTOR_KINDS = ("rest", "sql", "files")
SLOTS = ("endpoint", "app_key", "app_secret")  # what a connector is given from the environment


class DeclarationError(ValueError):
    """A declaration file that cannot be used: the message names the file and what is wrong."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_Declared = TypeVar("_Declared", bound=BaseModel)


class EnvironmentValue(_Strict):
    """One value a connector takes from the environment: the variable, and what the sandbox profile uses."""

    variable: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    secret: bool = False
    sandbox: str | None = None  # published with the sandbox: refused in production


class ConnectorDeclaration(_Strict):
    """The connector kind and its settings, passed as they are to the connector of that kind."""

    model_config = ConfigDict(extra="allow", frozen=True)
    kind: Literal["rest", "sql", "files"]

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


def _onto(mapping: dict[str, str], allowed: tuple[str, ...], what: str, vocabulary: str) -> dict[str, str]:
    """A code map must map onto the canonical vocabulary: name what it maps onto that is not in it."""
    unknown = sorted(set(mapping.values()) - set(allowed))
    if unknown:
        raise ValueError(f"{what} map onto {unknown}, which are not {vocabulary} ({', '.join(allowed)})")
    return mapping


class PauseMapping(_Strict):
    """Where a record lists its 特别程序 (pauses): a field holding a list of objects, and in each the kind, start
    and end; ``kinds`` maps the system's codes onto ``schemas.case.PAUSE_KINDS``."""

    field: str
    kind: str
    start: str
    end: str
    kinds: dict[str, str]

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, kinds: dict[str, str]) -> dict[str, str]:
        return _onto(kinds, PAUSE_KINDS, "pauses.kinds", "特别程序")


class MaterialMapping(_Strict):
    """Where a record lists its materials (材料, the papers taken in): a field holding a list of objects (``format:
    json``: a text holding that list as JSON, as a database column does), and in each the name, 收取方式, count and
    attachment; ``get_types`` maps the system's 收取方式 codes onto ``schemas.case.MATERIAL_GET_TYPES``."""

    field: str
    format: Literal["list", "json"] = "list"
    name: str  # 材料名称
    get_type: str  # 收取方式
    count: str | None = None  # 收取数量, if the system records it
    attachment: str | None = None  # 附件名称, if the system records it
    get_types: dict[str, str]

    @field_validator("get_types")
    @classmethod
    def _known_get_types(cls, get_types: dict[str, str]) -> dict[str, str]:
        return _onto(get_types, MATERIAL_GET_TYPES, "materials.get_types", "收取方式 values")


class FieldMapping(_Strict):
    fields: dict[str, str]  # canonical column -> the system's field
    statuses: dict[str, str]  # the system's status code -> canonical 办件状态
    applicant_types: dict[str, str] = Field(default_factory=dict)  # -> legal_person / natural_person
    item_codes: dict[str, str] = Field(default_factory=dict)  # the system's local item code -> 基本编码
    # national: the system's case numbers are the 办件编号 its cases are known by (issued by it or the province's
    # numbering service), so the golden case goes out under it when it is valid (schemas.identifiers: up to 50
    # letters, digits and -; the 43-character national form checked in depth) and an invalid one is quarantined;
    # local: its own internal numbering, kept as case_no, and the bridge gives the case a 办件编号
    case_no_form: Literal["national", "local"] = "local"
    pauses: PauseMapping | None = None  # where the system lists a case's pauses (特别程序), if it does
    materials: MaterialMapping | None = None  # where the system lists a case's materials (材料), if it does
    # 申报渠道, 结果送达方式, 受理地点, 审批方式: the system's code -> the canonical value. A code not listed is kept
    # unknown (NA) and the record flagged ``<column>_unmapped``; a record without the field is simply unknown.
    channels: dict[str, str] = Field(default_factory=dict)  # -> schemas.case.CHANNELS
    deliveries: dict[str, str] = Field(default_factory=dict)  # -> DELIVERY_METHODS
    places: dict[str, str] = Field(default_factory=dict)  # -> a place_code of schemas/codes/places.csv
    approval_modes: dict[str, str] = Field(default_factory=dict)  # -> APPROVAL_MODES

    @field_validator("fields")
    @classmethod
    def _known_columns(cls, fields: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(fields) - set(CASE_COLUMNS))
        if unknown:
            raise ValueError(f"fields maps unknown canonical columns {unknown}; known: {list(CASE_COLUMNS)}")
        missing = {"source_record_id", "applicant_name", "submitted_at", "status"} - set(fields)
        if missing:
            raise ValueError(f"fields must map {sorted(missing)}")
        return fields

    @field_validator("statuses")
    @classmethod
    def _known_statuses(cls, statuses: dict[str, str]) -> dict[str, str]:
        return _onto(statuses, STATUSES, "statuses", "办件状态")

    @field_validator("applicant_types")
    @classmethod
    def _known_applicant_types(cls, types: dict[str, str]) -> dict[str, str]:
        return _onto(types, APPLICANT_TYPES, "applicant_types", "applicant types")

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, channels: dict[str, str]) -> dict[str, str]:
        return _onto(channels, CHANNELS, "channels", "申报渠道 values")

    @field_validator("deliveries")
    @classmethod
    def _known_deliveries(cls, deliveries: dict[str, str]) -> dict[str, str]:
        return _onto(deliveries, DELIVERY_METHODS, "deliveries", "结果送达方式 values")

    @field_validator("places")
    @classmethod
    def _known_places(cls, mapped: dict[str, str]) -> dict[str, str]:
        return _onto(mapped, tuple(places()["place_code"]), "places", "受理地点 (schemas/codes/places.csv)")

    @field_validator("approval_modes")
    @classmethod
    def _known_modes(cls, modes: dict[str, str]) -> dict[str, str]:
        return _onto(modes, APPROVAL_MODES, "approval_modes", "审批方式 values")

    @model_validator(mode="after")
    def _coded_fields_have_codes(self) -> FieldMapping:
        # a coded column the system maps needs its code map: without one every value would read as unknown
        missing = [f"{column} ({codes})" for column, codes in CODED_COLUMNS.items()
                   if column in self.fields and not getattr(self, codes)]  # fmt: skip
        if missing:
            raise ValueError(f"fields maps {', '.join(missing)} without its code map")
        return self

    @field_validator("item_codes")
    @classmethod
    def _upper_codes(cls, codes: dict[str, str]) -> dict[str, str]:
        return {str(local).upper(): str(code) for local, code in codes.items()}


LICENCE_FIELDS = ("operation", "effective_date", "source_ref", "licence_type_code", "licence_name", "licence_no",
                  "holder_name", "holder_code", "holder_code_type", "issue_date", "valid_from", "valid_to")  # fmt: skip


class LicenceFeed(_Strict):
    """A system's licence events (营业执照 issued, changed, suspended …): where, which fields, which codes."""

    connector: ConnectorDeclaration
    fields: dict[str, str]  # licence event field -> the system's field
    operations: dict[str, str]  # the system's operation code -> licence event

    @field_validator("fields")
    @classmethod
    def _all_fields(cls, fields: dict[str, str]) -> dict[str, str]:
        if missing := sorted(set(LICENCE_FIELDS) - set(fields)):
            raise ValueError(f"fields must map {missing}")
        if unknown := sorted(set(fields) - set(LICENCE_FIELDS)):
            raise ValueError(f"fields maps unknown licence fields {unknown}")
        return fields

    @field_validator("operations")
    @classmethod
    def _known_events(cls, operations: dict[str, str]) -> dict[str, str]:
        return _onto(operations, EVENTS, "operations", "licence events")


class Department(_Strict, Provenance):
    """A department system's declaration; ``source:`` or ``assumed:`` says where its field names and codes come
    from (:class:`core.provenance.Provenance`)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")  # the source_system value and the asset's suffix
    title: str  # the department's own name for its system, shown in the UI
    system_name: str  # how clerks call it, in quarantine reasons
    short_name: str  # on the dashboard
    owner: str = Field(pattern=r"^(team:[\w-]+|[^@\s]+@[^@\s]+)$")
    role: Literal["department", "re_entry"] = "department"
    environment: dict[Literal["endpoint", "app_key", "app_secret"], EnvironmentValue]
    connector: ConnectorDeclaration
    licence_feed: LicenceFeed | None = None  # the same system's licence events, if it publishes them
    mapping: FieldMapping

    @model_validator(mode="after")
    def _connector_needs(self) -> Department:
        if "endpoint" not in self.environment:
            raise ValueError("environment must declare the endpoint's variable")
        if self.connector.kind == "rest" and not {"app_key", "app_secret"} <= set(self.environment):
            raise ValueError("a rest connector signs its requests: environment must declare app_key and app_secret")
        if self.licence_feed is not None and self.licence_feed.connector.kind != self.connector.kind:
            raise ValueError("licence_feed must be of the connector's kind (it shares its endpoint)")
        return self

    @property
    def asset_name(self) -> str:
        return f"raw_{self.name}"

    @property
    def pool(self) -> str:
        return f"source_{self.name}"

    @property
    def licence_resource(self) -> str:
        return f"{self.name}_licences"

    @property
    def priority(self) -> int:
        """Survivorship rank: a department's own record outranks the bureau's re-typed copy."""
        return 0 if self.role == "department" else 1


def declaration_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get(DIRS_VARIABLE, "").split(os.pathsep) if p.strip()]
    return [SHIPPED_DIR, *extra]


def read_model(path: Path, model: type[_Declared]) -> _Declared:
    """A declaration file read into ``model``; anything wrong is one line naming the file."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, yaml.YAMLError) as exc:
        raise DeclarationError(f"{path}: not readable as YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(document, dict):
        raise DeclarationError(f"{path}: a declaration is a mapping of settings, not {type(document).__name__}")
    try:
        declared = model.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors())
        raise DeclarationError(f"{path}: {problems}") from None
    if path.stem != declared.name:
        raise DeclarationError(f"{path}: the file is named after its system; expected {declared.name}.yaml")
    return declared


def read_declaration(path: Path) -> Department:
    return read_model(path, Department)


@functools.lru_cache(maxsize=8)
def _load(dirs: tuple[Path, ...], _signature: tuple) -> dict[str, Department]:
    found: dict[str, Department] = {}
    for folder in dirs:
        if not folder.is_dir():
            raise DeclarationError(f"{DIRS_VARIABLE}: {folder} is not a folder")
        for path in sorted(folder.glob("*.yaml")):
            department = read_declaration(path)
            found[department.name] = department  # a later folder overrides a shipped declaration
    variables: dict[str, str] = {}
    for department in found.values():
        for value in department.environment.values():
            other = variables.setdefault(value.variable, department.name)
            if other != department.name:
                raise DeclarationError(f"{value.variable} is declared by both {other} and {department.name}")
    return dict(sorted(found.items()))


def departments() -> dict[str, Department]:
    """Every declared system by name (read again only when a file is added, removed or edited)."""
    dirs = tuple(declaration_dirs())
    return _load(dirs, folder_signature(dirs))


def folder_signature(dirs: tuple[Path, ...]) -> tuple:
    """What changes when a declaration file in ``dirs`` is added, removed or edited (a cache key)."""
    return tuple(
        (str(path), stat.st_mtime_ns, stat.st_size)
        for folder in dirs
        if folder.is_dir()
        for path in sorted(folder.glob("*.yaml"))
        for stat in (path.stat(),)
    )


def department(name: str) -> Department:
    try:
        return departments()[name]
    except KeyError:
        raise DeclarationError(f"no department system is declared as {name!r}") from None


def source_priority() -> dict[str, int]:
    return {name: d.priority for name, d in departments().items()}


def department_systems() -> tuple[str, ...]:
    """The systems that are authoritative for their own cases (not the bureau's re-entry platform)."""
    return tuple(name for name, d in departments().items() if d.role == "department")


def system_names() -> dict[str, str]:
    return {name: d.system_name for name, d in departments().items()}


def short_names() -> dict[str, str]:
    return {name: d.short_name for name, d in departments().items()}


def local_item_codes() -> Mapping[tuple[str, str], str]:
    """(system, local item code) → the catalogue's 基本编码, over every declaration."""
    return {(name, local): code for name, d in departments().items() for local, code in d.mapping.item_codes.items()}


def licence_feeds() -> dict[str, Department]:
    return {name: d for name, d in departments().items() if d.licence_feed is not None}
