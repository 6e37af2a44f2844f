"""The definitions behind the bureau's figures (``reporting/definitions.yaml``): which levels count as satisfied,
what a deadline is, … — configuration an analyst can change, checked when read so a typo is one line, not a
wrong figure."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas.feeds import EVALUATION_LEVELS, FOLLOW_UP_STEPS, HOTLINE_RESULTS, HOTLINE_SATISFACTION

SHIPPED = Path(__file__).resolve().parent / "definitions.yaml"
FILE_VARIABLE = "BRIDGE_DEFINITIONS_FILE"


class DefinitionError(ValueError):
    """The definitions file cannot be used: the message names the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EvaluationDefinitions(_Strict):
    satisfied_levels: tuple[str, ...] = ("very_satisfied", "satisfied", "basic")
    count_default_ratings: bool = True
    waiting_report_after_days: int = Field(default=7, ge=0)
    follow_up_working_days: dict[str, int] = Field(
        default_factory=lambda: {"received": 1, "verified": 3, "rectified": 15, "revisited": 20}
    )

    @field_validator("satisfied_levels")
    @classmethod
    def _levels(cls, levels: tuple[str, ...]) -> tuple[str, ...]:
        if unknown := sorted(set(levels) - set(EVALUATION_LEVELS)):
            raise ValueError(f"{unknown} are not evaluation levels ({', '.join(EVALUATION_LEVELS)})")
        return levels

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


class Definitions(_Strict):
    model_config = ConfigDict(extra="allow", frozen=True)  # other marts' sections are read by their own models
    evaluations: EvaluationDefinitions = EvaluationDefinitions()
    hotline: HotlineDefinitions = HotlineDefinitions()


def path() -> Path:
    given = os.environ.get(FILE_VARIABLE, "").strip()
    return Path(given) if given else SHIPPED


@functools.lru_cache(maxsize=4)
def _read(file: Path, _mtime: int) -> Definitions:
    try:
        document = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeError, yaml.YAMLError) as exc:
        raise DefinitionError(f"{file}: not readable as YAML ({str(exc).splitlines()[0]})") from None
    try:
        return Definitions.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors())
        raise DefinitionError(f"{file}: {problems}") from None


def definitions() -> Definitions:
    file = path()
    return _read(file, file.stat().st_mtime_ns if file.exists() else 0)
