"""The Dagster resources: the plain clients of ``core`` and ``connectors``, configured from the profile.

Each resource is a ``ConfigurableResourceFactory`` whose fields are what an operator sets (endpoints and
secrets as ``EnvVar``s, so their values never reach run configuration or the UI; tuning knobs as numbers)
and whose value in a run is the plain client. Department systems are one generic resource built from their
declaration files; the profile decides where every value comes from (``core.settings``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from dagster import ConfigurableResource, EnvVar, InitResourceContext
from pydantic import Field, ValidationError

from connectors.municipal import DEFAULT_MAP, MunicipalTarget, municipal_map
from connectors.numbering import CaseNumberService
from connectors.province import (
    DEFAULT_DDL_VERSION,
    DEFAULT_PROVINCE_PROFILE,
    ProvinceTableTarget,
    ddl_version,
    province_profile,
)
from connectors.sources import DepartmentSource, build_source
from connectors.targets import DeliveryTarget, SupervisionTarget
from core import departments as declared
from core import feeds as declared_feeds
from core import settings
from core.warehouse import Warehouse
from resolution.numbering import BridgeSerials


def configured(variable: settings.Variable) -> str | EnvVar:
    """An ``EnvVar`` (resolved when a run starts) when the variable is set, else the sandbox profile's value.
    In production every variable is an ``EnvVar``: :func:`settings.require_ready` has checked they are set."""
    if settings.is_production() or settings.given(variable.name) is not None:
        return EnvVar(variable.name)
    return settings.value(variable)[0]


def _platform(name: str) -> str | EnvVar:
    return configured(next(v for v in settings.PLATFORM_VARIABLES if v.name == name))


class WarehouseResource(ConfigurableResource):
    """The warehouse: SQLite under DAGSTER_HOME in the sandbox profile, PostgreSQL in production."""

    url: str = Field(description="SQLAlchemy URL of the warehouse (BRIDGE_WAREHOUSE_URL)")

    def create_resource(self, context: InitResourceContext) -> Warehouse:
        return Warehouse(url=self.url)

    @contextmanager
    def yield_for_execution(self, context: InitResourceContext) -> Iterator[Warehouse]:
        warehouse = Warehouse(url=self.url)
        try:
            yield warehouse
        finally:
            warehouse.dispose()


class DepartmentSystem(ConfigurableResource):
    """A department system, as its declaration file describes it (``core/departments/<name>.yaml``)."""

    department: str = Field(description="the declaration's name")
    feed: Literal["cases", "licences"] = Field(default="cases", description="its cases, or its licence events")
    endpoint: str = Field(description="base URL, database URL or drop folder, by connector kind")
    app_key: str = ""
    app_secret: str = Field(default="", description="signing secret; set through an environment variable")

    def create_resource(self, context: InitResourceContext) -> DepartmentSource:
        connector = _connector(declared.department(self.department), self.feed)
        return build_source(
            connector.kind,
            connector.settings,
            endpoint=self.endpoint,
            app_key=self.app_key,
            app_secret=self.app_secret,
        )


def _connector(department: declared.Department, feed: str) -> declared.ConnectorDeclaration:
    if feed == "cases":
        return department.connector
    if department.licence_feed is None:
        raise declared.DeclarationError(f"{department.name}.yaml declares no licence feed")
    return department.licence_feed.connector


def department_resource(department: declared.Department, feed: Literal["cases", "licences"] = "cases"):
    """The resource of a declared system. Its connector settings are checked now, when the definitions load, so
    a misspelt setting is named at once rather than at 01:30."""
    _check_connector(_connector(department, feed), f"{department.name}.yaml ({feed})")
    return DepartmentSystem(department=department.name, feed=feed, **_environment(department))


def _check_connector(connector: declared.ConnectorDeclaration, where: str) -> None:
    try:
        build_source(connector.kind, connector.settings, endpoint="checked-at-load", app_key="-", app_secret="-")
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise declared.DeclarationError(f"{where}: {problems}") from None


def _environment(system: declared.Department | declared_feeds.Feed) -> dict[str, str | EnvVar]:
    return {
        slot: configured(settings.department_variable(system, slot))
        for slot in declared.SLOTS
        if slot in system.environment
    }


class FeedSystem(ConfigurableResource):
    """A platform's feed (好差评 evaluations, 12345 orders), as its declaration describes it (``core/feeds``)."""

    feed: str = Field(description="the declaration's name")
    endpoint: str = Field(description="base URL, database URL or drop folder, by connector kind")
    app_key: str = ""
    app_secret: str = Field(default="", description="signing secret; set through an environment variable")

    def create_resource(self, context: InitResourceContext) -> DepartmentSource:
        connector = declared_feeds.feed(self.feed).connector
        return build_source(
            connector.kind, connector.settings, endpoint=self.endpoint, app_key=self.app_key, app_secret=self.app_secret
        )


def feed_resource(feed: declared_feeds.Feed) -> FeedSystem:
    """The resource of a declared feed, its connector settings checked when the definitions load."""
    _check_connector(feed.connector, f"{feed.name}.yaml")
    return FeedSystem(feed=feed.name, **_environment(feed))


class ExchangeTable(ConfigurableResource):
    """江苏政务服务网: the national case tables on the province's front-end database (前置库), as a profile declares
    them, in the DDL version the database has."""

    url: str = Field(description="SQLAlchemy URL of the front-end database (ONE_NETWORK_DB_URL)")
    profile: str = Field(
        default=DEFAULT_PROVINCE_PROFILE,
        description="BRIDGE_PROVINCE_PROFILE: connectors/profiles/<profile>.yaml (national: the up_pro_* tables)",
    )
    ddl_version: str = Field(
        default=DEFAULT_DDL_VERSION,
        description="ONE_NETWORK_DDL_VERSION: the published DDL the province's tables follow (current: snowflake "
        "ids and the tenant/create/update columns; 2020: AUTO_INCREMENT ids, none of those)",
    )
    tenant_id: str = Field(description="ONE_NETWORK_TENANT_ID: 租户ID the province issued to the bridge")
    org_id: str = Field(description="ONE_NETWORK_ORG_ID: the bridge's 机构ID, as created_/updated_org_id")
    user_id: str = Field(description="ONE_NETWORK_USER_ID: the bridge's 用户ID, as created_/updated_user_id")
    worker_id: int = Field(default=0, description="ONE_NETWORK_WORKER_ID: this writer's snowflake worker id, 0-1023")
    settle_seconds: str = Field(
        description="ONE_NETWORK_SETTLE_SECONDS: how long the province has to refuse a row before it counts as taken"
    )
    rate_limit_per_second: float = 500
    circuit_breaker_failures: int = 3
    circuit_breaker_cooldown_seconds: float = 15

    def create_resource(self, context: InitResourceContext) -> DeliveryTarget:
        numbers = {}
        for name in ("tenant_id", "org_id", "user_id", "settle_seconds"):
            value = getattr(self, name)
            try:
                numbers[name] = float(value) if name == "settle_seconds" else int(value)
            except ValueError:
                raise settings.ConfigurationError(f"ONE_NETWORK_{name.upper()}={value!r} is not a number") from None
        return ProvinceTableTarget(
            url=self.url,
            profile_name=self.profile,
            ddl_version=self.ddl_version,
            worker_id=self.worker_id,
            rate_limit_per_second=self.rate_limit_per_second,
            circuit_breaker_failures=self.circuit_breaker_failures,
            circuit_breaker_cooldown_seconds=self.circuit_breaker_cooldown_seconds,
            **numbers,
        )


class SignedIntake(ConfigurableResource):
    """A platform's signed HTTP intake: the municipal platform's cases, or the supervision intake's licences."""

    kind: Literal["cases", "supervision"] = "cases"
    base_url: str
    app_key: str
    app_secret: str = Field(description="signing secret; set through an environment variable")
    sign_method: str = "HMAC-SHA256"
    field_map: str = Field(
        default=DEFAULT_MAP, description="MUNICIPAL_MAP: connectors/maps/<field_map>.yaml, the cases' JSON document"
    )
    rate_limit_per_second: float = 20
    batch_size: int = 20
    circuit_breaker_failures: int = 8
    circuit_breaker_cooldown_seconds: float = 15

    def create_resource(self, context: InitResourceContext) -> DeliveryTarget:
        common = {
            "base_url": self.base_url,
            "app_key": self.app_key,
            "app_secret": self.app_secret,
            "sign_method": self.sign_method,
            "rate_limit_per_second": self.rate_limit_per_second,
            "batch_size": self.batch_size,
            "circuit_breaker_failures": self.circuit_breaker_failures,
            "circuit_breaker_cooldown_seconds": self.circuit_breaker_cooldown_seconds,
        }
        if self.kind == "supervision":
            return SupervisionTarget(**common)
        return MunicipalTarget(map_name=self.field_map, **common)


def _signed_intake(kind: Literal["cases", "supervision"], name: str) -> SignedIntake:
    prefix = name.upper()
    return SignedIntake(
        kind=kind,
        base_url=_platform(f"{prefix}_BASE_URL"),
        app_key=_platform(f"{prefix}_APP_KEY"),
        app_secret=_platform(f"{prefix}_APP_SECRET"),
        sign_method=settings.given(f"{prefix}_SIGN_METHOD") or "HMAC-SHA256",
        rate_limit_per_second=settings.number(f"{prefix}_REQUESTS_PER_SECOND", 20),
        batch_size=int(settings.number(f"{prefix}_BATCH_SIZE", 20)),
        circuit_breaker_failures=int(settings.number(f"{prefix}_BREAKER_FAILURES", 8)),
        circuit_breaker_cooldown_seconds=settings.number(f"{prefix}_BREAKER_COOLDOWN_SECONDS", 15),
        **({"field_map": municipal_map()} if kind == "cases" else {}),
    )


def worker_id() -> int:
    """``ONE_NETWORK_WORKER_ID`` (default 0): which writer of the province's tables this deployment is (0-1023);
    two deployments writing the same front-end database need different ones (connectors/snowflake.py)."""
    value = float(settings.number("ONE_NETWORK_WORKER_ID", 0))
    if not (value.is_integer() and 0 <= value <= 1023):
        raise settings.ConfigurationError(f"ONE_NETWORK_WORKER_ID={value:g}: a whole number from 0 to 1023")
    return int(value)


class CaseNumbering(ConfigurableResource):
    """Where new 办件编号 come from (``BRIDGE_CASE_NO_SOURCE``): the bridge's own serial under the 实施编码, or the
    province's numbering service (its endpoint and secret as ``EnvVar``s)."""

    source: Literal["bridge", "province_service"] = "bridge"
    serial_start: int = Field(default=9001, description="BRIDGE_CASE_NO_SERIAL_START: the bridge's first serial")
    base_url: str = Field(default="", description="CASE_NO_SERVICE_BASE_URL (province_service only)")
    app_key: str = ""
    app_secret: str = Field(default="", description="signing secret; set through an environment variable")
    sign_method: str = "HMAC-SHA256"

    def create_resource(self, context: InitResourceContext) -> BridgeSerials | CaseNumberService:
        if self.source == "bridge":
            return BridgeSerials(start=self.serial_start)
        return CaseNumberService(
            base_url=self.base_url, app_key=self.app_key, app_secret=self.app_secret, sign_method=self.sign_method
        )


def case_numbering() -> CaseNumbering:
    """The numbering resource for the configured source; the service's variables only when it is chosen."""
    source = settings.case_no_source()
    if source == "bridge":
        return CaseNumbering(source=source, serial_start=settings.case_no_serial_start())
    service = {
        v.name.removeprefix("CASE_NO_SERVICE_").lower(): configured(v) for v in settings.CASE_NO_SERVICE_VARIABLES
    }
    return CaseNumbering(
        source=source,
        serial_start=settings.case_no_serial_start(),
        sign_method=settings.given("CASE_NO_SERVICE_SIGN_METHOD") or "HMAC-SHA256",
        **service,
    )


def build_resources() -> dict:
    """Every resource of the code location, for the profile in force. In production a missing or published
    value stops here, naming each variable."""
    settings.require_ready()
    departments = declared.departments().values()
    return {
        "warehouse": WarehouseResource(url=_platform("BRIDGE_WAREHOUSE_URL")),
        **{d.name: department_resource(d) for d in departments},
        **{d.licence_resource: department_resource(d, "licences") for d in departments if d.licence_feed},
        **{f.resource: feed_resource(f) for f in declared_feeds.feeds().values()},
        "one_network": ExchangeTable(
            url=_platform("ONE_NETWORK_DB_URL"),
            rate_limit_per_second=settings.number("ONE_NETWORK_ROWS_PER_SECOND", 500),
            circuit_breaker_failures=int(settings.number("ONE_NETWORK_BREAKER_FAILURES", 3)),
            circuit_breaker_cooldown_seconds=settings.number("ONE_NETWORK_BREAKER_COOLDOWN_SECONDS", 15),
            profile=province_profile(),
            ddl_version=ddl_version(),
            tenant_id=_platform("ONE_NETWORK_TENANT_ID"),
            org_id=_platform("ONE_NETWORK_ORG_ID"),
            user_id=_platform("ONE_NETWORK_USER_ID"),
            worker_id=worker_id(),
            settle_seconds=_platform("ONE_NETWORK_SETTLE_SECONDS"),
        ),
        "case_numbering": case_numbering(),
        "municipal": _signed_intake("cases", "municipal"),
        "supervision": _signed_intake("supervision", "supervision"),
    }
