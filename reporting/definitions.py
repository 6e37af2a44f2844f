"""The marts' configurable definitions (``reporting/definitions.yaml``): a mapping keyed by mart name, each entry
checked by its own model. A mart without an entry here counts by fixed rules (docs/marts.md)."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from schemas.case import CHANNELS, DELIVERY_METHODS

DEFINITIONS_FILE = Path(__file__).resolve().parent / "definitions.yaml"
#: Another file in its place (a deployment's own definitions); the shipped one otherwise.
FILE_VARIABLE = "BRIDGE_MART_DEFINITIONS"


class DefinitionError(ValueError):
    """A definitions file that cannot be used: the message names the file, the mart and what is wrong."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChannelDefinition(_Strict):
    """不见面审批 in ``mart_channel_monthly``: submitted through an online channel and delivered remotely."""

    online_channels: tuple[str, ...] = ("web", "mobile")
    remote_deliveries: tuple[str, ...] = ("express", "electronic")
    month_of: Literal["submitted_at", "accepted_at"] = "submitted_at"

    @field_validator("online_channels")
    @classmethod
    def _channels(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _known(values, CHANNELS, "online_channels")

    @field_validator("remote_deliveries")
    @classmethod
    def _deliveries(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _known(values, DELIVERY_METHODS, "remote_deliveries")


def _known(values: tuple[str, ...], allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    if not values:
        raise ValueError(f"{what} is empty")
    if unknown := sorted(set(values) - set(allowed)):
        raise ValueError(f"{what} names {unknown}, which are not among {', '.join(allowed)}")
    return values


#: The definition model of each mart that has one.
MODELS: dict[str, type[BaseModel]] = {"mart_channel_monthly": ChannelDefinition}


def definitions_file() -> Path:
    return Path(os.environ.get(FILE_VARIABLE) or DEFINITIONS_FILE)


def definitions(path: Path | None = None) -> dict[str, BaseModel]:
    """Every mart's definition by mart name: the file's entries, checked, and the defaults of a mart it leaves
    out. Entries for marts with no model are kept as they are (another mart's definitions may come first)."""
    return dict(_read(path or definitions_file()))


@cache
def _read(path: Path) -> tuple[tuple[str, BaseModel], ...]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeError, yaml.YAMLError) as exc:
        raise DefinitionError(f"{path}: not readable as YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(document, dict):
        raise DefinitionError(f"{path}: a mapping of mart name to its definition, not {type(document).__name__}")
    found: dict[str, BaseModel] = {name: model() for name, model in MODELS.items()}
    for name, entry in document.items():
        model = MODELS.get(name)
        if model is None:
            continue
        try:
            found[name] = model.model_validate(entry or {})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors())
            raise DefinitionError(f"{path}: {name}: {problems}") from None
    return tuple(found.items())


def channel_definition(path: Path | None = None) -> ChannelDefinition:
    found = definitions(path)["mart_channel_monthly"]
    assert isinstance(found, ChannelDefinition)
    return found
