"""How the marts count what the bureau reports (``reporting/definitions.yaml``): one entry per mart, keyed by the
mart's table name, each checked by its own model when read, so a typo is one line naming the file, the mart and the
key, never a wrong figure. A mart the file leaves out counts by its defaults (docs/marts.md explains each)."""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas.case import CHANNELS, DELIVERY_METHODS, items
from schemas.feeds import (
    EVALUATION_LEVELS,
    FINDING_KINDS,
    FOLLOW_UP_STEPS,
    HOTLINE_RESULTS,
    HOTLINE_SATISFACTION,
)
from schemas.projects import STAGES

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


class ProjectDefinitions(_Strict):
    """Investment projects and the "45" (``mart_project_stages``, ``mart_projects_monthly``, the key-project
    report): docs/projects.md explains each key."""

    target_working_days: int = Field(default=45, ge=1)
    stage_limits: dict[str, int] = Field(
        default_factory=lambda: {"立项": 5, "用地": 15, "规划": 10, "环评": 10, "施工许可": 5}
    )
    industrial_industry_codes: tuple[str, ...] = tuple(f"{code:02d}" for code in range(6, 47))
    key_investment_wan: float | None = Field(default=10000, ge=0)
    key_from_source_flag: bool = True

    @field_validator("stage_limits")
    @classmethod
    def _stages(cls, limits: dict[str, int]) -> dict[str, int]:
        if sorted(limits) != sorted(STAGES):
            raise ValueError(f"give a limit in working days for each of {', '.join(STAGES)}")
        if any(value < 1 for value in limits.values()):
            raise ValueError("a stage's limit is at least one working day")
        return limits

    @field_validator("industrial_industry_codes")
    @classmethod
    def _industries(cls, codes: tuple[str, ...]) -> tuple[str, ...]:
        if not codes or any(len(code) != 2 or not code.isdigit() for code in codes):
            raise ValueError("industrial_industry_codes are two-digit industry codes of the 投资项目代码")
        return codes


STARTUP_REGISTRATION = "registration"


class StartupDefinitions(_Strict):
    """企业开办 as one chain (``mart_startup_chains``, the startup row of ``mart_2345_monthly``)."""

    # step name: the catalogue items (基本编码) whose case is that step; ``registration`` opens the chain
    steps: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: {
            STARTUP_REGISTRATION: ("000102001000",),
            "seal": ("000150001000",),
            "invoice": ("000160001000",),
            "social_security": ("000170001000",),
        }
    )
    window_days: int = Field(default=30, ge=1, le=365)
    clock_start: Literal["accepted_at", "submitted_at"] = "accepted_at"

    @field_validator("steps")
    @classmethod
    def _steps(cls, steps: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        if STARTUP_REGISTRATION not in steps:
            raise ValueError(f"steps must name the `{STARTUP_REGISTRATION}` step: the case that opens a start-up")
        if bad := sorted(name for name in steps if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", name)):
            raise ValueError(f"step names {bad} are not lower-case words (a-z, 0-9, _)")
        if empty := sorted(name for name, codes in steps.items() if not codes):
            raise ValueError(f"steps {empty} name no item")
        codes = [code for listed in steps.values() for code in listed]
        if twice := sorted({code for code in codes if codes.count(code) > 1}):
            raise ValueError(f"items {twice} are named by more than one step")
        if unknown := sorted(set(codes) - set(items()["item_code"])):
            raise ValueError(f"items {unknown} are not in the catalogue (schemas/codes/catalogue.csv)")
        return steps


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
    mart_projects_monthly: ProjectDefinitions = ProjectDefinitions()
    mart_startup_chains: StartupDefinitions = StartupDefinitions()
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
    def projects(self) -> ProjectDefinitions:
        return self.mart_projects_monthly

    @property
    def startup(self) -> StartupDefinitions:
        return self.mart_startup_chains

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
