"""How the marts count what the bureau reports (``reporting/definitions.yaml``): one entry per mart, keyed by the
mart's table name, each checked by its own model when read, so a typo is one line naming the file, the mart and the
key, never a wrong figure. A mart the file leaves out counts by its defaults (docs/marts.md explains each)."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas.case import CHANNELS, DELIVERY_METHODS
from schemas.feeds import (
    EVALUATION_LEVELS,
    FINDING_KINDS,
    FOLLOW_UP_STEPS,
    HOTLINE_RESULTS,
    HOTLINE_SATISFACTION,
)

DEFINITIONS_FILE = Path(__file__).resolve().parent / "definitions.yaml"
#: Another file in its place (a deployment's own definitions); the shipped one otherwise.
FILE_VARIABLE = "BRIDGE_MART_DEFINITIONS"


class DefinitionError(ValueError):
    """A definitions file that cannot be used: the message names the file, the mart and what is wrong."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _known(values: tuple[str, ...], allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    if not values:
        raise ValueError(f"{what} is empty")
    if unknown := sorted(set(values) - set(allowed)):
        raise ValueError(f"{what} names {unknown}, which are not among {', '.join(allowed)}")
    return values


class EvaluationDefinitions(_Strict):
    """好差评 in ``mart_evaluations_monthly`` and the ``evaluations`` table."""

    satisfied_levels: tuple[str, ...] = ("very_satisfied", "satisfied", "basic")
    count_default_ratings: bool = True
    waiting_report_after_days: int = Field(default=7, ge=0)
    follow_up_working_days: dict[str, int] = Field(
        default_factory=lambda: {"received": 1, "verified": 3, "rectified": 15, "revisited": 20}
    )

    @field_validator("satisfied_levels")
    @classmethod
    def _levels(cls, levels: tuple[str, ...]) -> tuple[str, ...]:
        return _known(levels, EVALUATION_LEVELS, "satisfied_levels")

    @field_validator("follow_up_working_days")
    @classmethod
    def _steps(cls, days: dict[str, int]) -> dict[str, int]:
        if sorted(days) != sorted(FOLLOW_UP_STEPS):
            raise ValueError(f"give a number of working days for each of {', '.join(FOLLOW_UP_STEPS)}")
        if any(value < 0 for value in days.values()):
            raise ValueError("working days cannot be negative")
        ordered = [days[step] for step in FOLLOW_UP_STEPS]
        if ordered != sorted(ordered):
            raise ValueError(f"each step is due no earlier than the one before ({' → '.join(FOLLOW_UP_STEPS)})")
        return days


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


class HotlineDefinitions(_Strict):
    """12345 orders (``mart_hotline_monthly``, ``hotline_orders``): docs/marts.md explains each key."""

    satisfied_values: tuple[str, ...] = ("satisfied", "very_satisfied")
    rated_values: tuple[str, ...] = HOTLINE_SATISFACTION
    on_time_basis: Literal["closed_at", "overdue_flag"] = "closed_at"
    timed_results: tuple[str, ...] = ("solved", "unsolved", "partly_solved")
    rated_results: tuple[str, ...] = ("solved", "unsolved", "partly_solved")
    link_window_days: int = Field(default=60, ge=0, le=730)

    @field_validator("satisfied_values", "rated_values")
    @classmethod
    def _satisfaction(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        if unknown := sorted(set(values) - set(HOTLINE_SATISFACTION)):
            raise ValueError(f"{unknown} are not 回访满意度 values ({', '.join(HOTLINE_SATISFACTION)})")
        return values

    @field_validator("timed_results", "rated_results")
    @classmethod
    def _results(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        if unknown := sorted(set(values) - set(HOTLINE_RESULTS)):
            raise ValueError(f"{unknown} are not 办理结果 values ({', '.join(HOTLINE_RESULTS)})")
        return values

    @model_validator(mode="after")
    def _satisfied_are_rated(self) -> HotlineDefinitions:
        if missing := sorted(set(self.satisfied_values) - set(self.rated_values)):
            raise ValueError(f"satisfied_values {missing} must also be rated_values (the rate's denominator)")
        return self


class SupervisionDefinitions(_Strict):
    """审管互动 in ``mart_supervision_followup`` (and the open findings the sharing API shows)."""

    inspection_window_days: int = Field(default=180, ge=1, le=1095)
    inspection_kinds: tuple[str, ...] = ("inspection",)
    untrue_kinds: tuple[str, ...] = ("commitment_untrue",)
    untrue_if_inspection_failed: bool = True
    untrue_if_revoked: bool = True
    credit_kinds: tuple[str, ...] = ("blacklist",)

    @field_validator("inspection_kinds", "untrue_kinds", "credit_kinds")
    @classmethod
    def _kinds(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _known(values, FINDING_KINDS, "finding kinds")


class Definitions(_Strict):
    """Every mart's definition, by the mart's table name."""

    mart_evaluations_monthly: EvaluationDefinitions = EvaluationDefinitions()
    mart_channel_monthly: ChannelDefinition = ChannelDefinition()
    mart_hotline_monthly: HotlineDefinitions = HotlineDefinitions()
    mart_supervision_followup: SupervisionDefinitions = SupervisionDefinitions()

    @property
    def evaluations(self) -> EvaluationDefinitions:
        return self.mart_evaluations_monthly

    @property
    def channel(self) -> ChannelDefinition:
        return self.mart_channel_monthly

    @property
    def hotline(self) -> HotlineDefinitions:
        return self.mart_hotline_monthly

    @property
    def supervision(self) -> SupervisionDefinitions:
        return self.mart_supervision_followup


def definitions_file() -> Path:
    return Path(os.environ.get(FILE_VARIABLE) or DEFINITIONS_FILE)


def definitions(path: Path | None = None) -> Definitions:
    """The definitions in force: the file's entries, checked, and the defaults of a mart it leaves out (read again
    when the file changes)."""
    file = path or definitions_file()
    return _read(file, file.stat().st_mtime_ns if file.exists() else 0)


@functools.lru_cache(maxsize=8)
def _read(file: Path, _mtime: int) -> Definitions:
    try:
        document = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeError, yaml.YAMLError) as exc:
        raise DefinitionError(f"{file}: not readable as YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(document, dict):
        raise DefinitionError(f"{file}: a mapping of mart name to its definition, not {type(document).__name__}")
    try:
        return Definitions.model_validate({name: entry or {} for name, entry in document.items()})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors())
        raise DefinitionError(f"{file}: {problems}") from None


def channel_definition(path: Path | None = None) -> ChannelDefinition:
    return definitions(path).channel
