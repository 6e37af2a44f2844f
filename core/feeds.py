"""The platforms' feeds as configuration: 好差评 evaluations, 12345 hotline orders, the engineering-construction
approval system's projects and their items, and 审管互动 supervision findings, one YAML file each.

A feed is declared like a department system (``core/departments.py``): where it is (connector kind and settings,
the environment variables of its endpoint and credentials, with the sandbox's values), which of its fields carry
the canonical fields of its kind (``schemas.feeds.FEED_KINDS``), how its codes map onto the canonical
vocabularies (a province's codes that differ from the national list are a named override beside them, with
their source), and where its format comes from (``source:`` or ``assumed:``, docs/formats.md). The shipped
declarations live in ``core/feeds/``; ``BRIDGE_FEEDS_DIR`` (folders, ``os.pathsep``-separated) adds or overrides
more. Nothing here knows a platform by name.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from core.departments import (
    SLOTS,
    ConnectorDeclaration,
    DeclarationError,
    EnvironmentValue,
    _onto,
    _Strict,
    folder_signature,
    read_model,
)
from core.provenance import Provenance
from schemas.feeds import FEED_KINDS

SHIPPED_DIR = Path(__file__).resolve().parent / "feeds"
DIRS_VARIABLE = "BRIDGE_FEEDS_DIR"


class CodeOverride(_Strict):
    """A province's own codes for some coded fields, kept apart from the national list the declaration's ``codes``
    follow: which province, its published source, and the codes that differ (the others stay the national ones)."""

    province: str
    source: str = Field(min_length=1)
    codes: dict[str, dict[str, str]]


class Feed(_Strict, Provenance):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")  # the raw asset's suffix and the rows' source_system
    kind: Literal["evaluations", "hotline", "projects", "project_items", "process_stages", "findings"]
    title: str  # the platform's own name for the feed, in the UI
    system_name: str  # how clerks call it, in quarantine reasons
    owner: str = Field(pattern=r"^(team:[\w-]+|[^@\s]+@[^@\s]+)$")
    environment: dict[Literal["endpoint", "app_key", "app_secret"], EnvironmentValue]
    connector: ConnectorDeclaration
    fields: dict[str, str]  # canonical field of the kind -> the system's field
    codes: dict[str, dict[str, str]] = Field(default_factory=dict)  # coded field -> {the system's code: canonical}
    # a province's codes where they differ from ``codes`` (name -> override), and the one in force (none: ``codes``)
    code_overrides: dict[str, CodeOverride] = Field(default_factory=dict)
    apply_override: str | None = None
    # how the system writes its times when they are not ISO (strftime form); ISO and the clerks' forms always read
    time_format: str | None = None

    @model_validator(mode="after")
    def _fits_its_kind(self) -> Feed:
        kind = FEED_KINDS[self.kind]
        if missing := sorted(set(kind.required) - set(self.fields)):
            raise ValueError(f"fields must map {missing} (a {self.kind} feed)")
        if unknown := sorted(set(self.fields) - set(kind.fields)):
            raise ValueError(
                f"fields maps {unknown}, which a {self.kind} feed does not carry ({', '.join(kind.fields)})"
            )
        for coded in kind.coded:
            if coded in self.fields and coded not in self.codes:
                raise ValueError(f"codes must map the system's {coded} codes")
        if unknown := sorted(set(self.codes) - set(kind.coded)):
            raise ValueError(f"codes for {unknown}, which are not coded fields of a {self.kind} feed")
        for coded, mapping in self.codes.items():
            _onto({str(k): v for k, v in mapping.items()}, kind.coded[coded], f"codes.{coded}", f"{coded} values")
        for name, override in self.code_overrides.items():
            if unknown := sorted(set(override.codes) - set(kind.coded)):
                raise ValueError(f"code_overrides.{name} gives codes for {unknown}, not coded fields of the kind")
            for coded, mapping in override.codes.items():
                where = f"code_overrides.{name}.codes.{coded}"
                _onto({str(k): v for k, v in mapping.items()}, kind.coded[coded], where, f"{coded} values")
        if self.apply_override is not None and self.apply_override not in self.code_overrides:
            raise ValueError(
                f"apply_override: {self.apply_override!r} is not one of code_overrides "
                f"({', '.join(self.code_overrides) or 'none'})"
            )
        if "endpoint" not in self.environment:
            raise ValueError("environment must declare the endpoint's variable")
        if self.connector.kind == "rest" and not {"app_key", "app_secret"} <= set(self.environment):
            raise ValueError("a rest connector signs its requests: environment must declare app_key and app_secret")
        return self

    def code_map(self, coded: str) -> dict[str, str]:
        """The system's codes of a coded field (as text) → canonical values: the declaration's ``codes``, with the
        override in force (``apply_override``) replacing the codes it gives."""
        mapping = {str(code): value for code, value in self.codes.get(coded, {}).items()}
        if self.apply_override is not None:
            override = self.code_overrides[self.apply_override].codes.get(coded, {})
            mapping.update({str(code): value for code, value in override.items()})
        return mapping

    @property
    def asset_name(self) -> str:
        return f"raw_{self.name}"

    @property
    def resource(self) -> str:
        return f"{self.name}_feed"

    @property
    def pool(self) -> str:
        return f"source_{self.name}"


def declaration_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get(DIRS_VARIABLE, "").split(os.pathsep) if p.strip()]
    return [SHIPPED_DIR, *extra]


@functools.lru_cache(maxsize=8)
def _load(dirs: tuple[Path, ...], _signature: tuple) -> dict[str, Feed]:
    found: dict[str, Feed] = {}
    for folder in dirs:
        if not folder.is_dir():
            raise DeclarationError(f"{DIRS_VARIABLE}: {folder} is not a folder")
        for path in sorted(folder.glob("*.yaml")):
            feed = read_model(path, Feed)
            found[feed.name] = feed
    return dict(sorted(found.items()))


def feeds() -> dict[str, Feed]:
    """Every declared feed by name (read again only when a file is added, removed or edited)."""
    dirs = tuple(declaration_dirs())
    return _load(dirs, folder_signature(dirs))


def feeds_of(kind: str) -> dict[str, Feed]:
    return {name: f for name, f in feeds().items() if f.kind == kind}


def feed(name: str) -> Feed:
    try:
        return feeds()[name]
    except KeyError:
        raise DeclarationError(f"no feed is declared as {name!r}") from None


__all__ = ["SLOTS", "Feed", "feed", "feeds", "feeds_of"]
