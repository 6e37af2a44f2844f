"""Where the bridge finds its systems, picked by one variable: ``BRIDGE_PROFILE``.

* ``sandbox`` (the default: the demo, ``make dev``, the tests): a variable that is unset takes the sandbox
  profile's value, the stand-ins on loopback and SQLite files under ``DAGSTER_HOME``.
* ``production``: every endpoint, secret and database URL must be set, and none may hold a value the sandbox
  publishes. :func:`check` names each variable that fails; the Dagster definitions refuse to load on any, and
  ``approval-bridge config check`` prints them.

The variables are the platforms' (warehouse, receivers) below, and each department declaration's
(``core/departments``) and feed's (``core/feeds``). This module is plain Python: the Dagster layer turns a
variable into an ``EnvVar``, so a secret's value never lands in run configuration or the UI.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from core import clock
from core import departments as declared
from core import feeds as declared_feeds

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PROFILE_VARIABLE = "BRIDGE_PROFILE"
SANDBOX, PRODUCTION = "sandbox", "production"
PROFILES = (SANDBOX, PRODUCTION)


class ConfigurationError(RuntimeError):
    """The configuration cannot be used as it stands; the message says what to set."""


@dataclass(frozen=True)
class Variable:
    name: str
    purpose: str
    secret: bool = False
    sandbox: str | None = None  # a template: {sandbox_dir}, {dagster_home}

    def sandbox_value(self) -> str | None:
        if self.sandbox is None:
            return None
        return self.sandbox.format(sandbox_dir=sandbox_dir(), dagster_home=dagster_home())


def _receiver(prefix: str, what: str, port: int, key: str) -> list[Variable]:
    return [
        Variable(f"{prefix}_BASE_URL", f"{what}: intake endpoint", sandbox=f"http://127.0.0.1:{port}"),
        Variable(f"{prefix}_APP_KEY", f"{what}: app key issued to the bridge", sandbox=key),
        Variable(
            f"{prefix}_APP_SECRET",
            f"{what}: signing secret",
            secret=True,
            sandbox=f"sandbox-secret-{prefix.lower()}",
        ),
    ]


#: The platforms the bridge writes to, whatever departments are declared.
PLATFORM_VARIABLES: tuple[Variable, ...] = (
    Variable(
        "BRIDGE_WAREHOUSE_URL",
        "warehouse (SQLAlchemy URL; PostgreSQL in production)",
        secret=True,
        sandbox="sqlite:///{dagster_home}/warehouse.sqlite",
    ),
    Variable(
        "ONE_NETWORK_DB_URL",
        "江苏政务服务网 front-end database (前置库), SQLAlchemy URL",
        secret=True,
        sandbox="sqlite:///{sandbox_dir}/one_network.sqlite",
    ),
    # The ids the province issues to the bridge for the national tables' housekeeping columns (租户ID, 机构ID, 用户ID:
    # tenant_id, create_/update_org_id, create_/update_user_id), and how long its audit has to refuse a row before
    # the row counts as taken (docs/delivery.md). The sandbox's are its own; production must set the real ones.
    Variable(
        "ONE_NETWORK_TENANT_ID", "江苏政务服务网: tenant id (租户ID) the province issued", sandbox="900000000000000001"
    ),
    Variable("ONE_NETWORK_ORG_ID", "江苏政务服务网: the bridge's org id (机构ID)", sandbox="900000000000000002"),
    Variable("ONE_NETWORK_USER_ID", "江苏政务服务网: the bridge's user id (用户ID)", sandbox="900000000000000003"),
    Variable(
        "ONE_NETWORK_SETTLE_SECONDS",
        "江苏政务服务网: seconds a row stands unrefused in dn_audit_abnormal before it counts as taken",
        sandbox="8",
    ),
    *_receiver("MUNICIPAL", "常州市 integrated platform", 18103, "wj-bridge-czs"),
    *_receiver("SUPERVISION", "审管互动 supervision intake", 18104, "wj-bridge-sghd"),
)


# ---------------------------------------------------------------- where new 办件编号 come from (issue 22)
CASE_NO_SOURCE_VARIABLE = "BRIDGE_CASE_NO_SOURCE"
#: bridge: the bridge's own serial under the 实施编码 (resolution.numbering); province_service: the province's
#: numbering service (connectors.numbering), whose variables are then required like any receiver's.
CASE_NO_SOURCES = ("bridge", "province_service")
DEFAULT_CASE_NO_SOURCE = "bridge"
CASE_NO_SERIAL_START_VARIABLE = "BRIDGE_CASE_NO_SERIAL_START"
DEFAULT_CASE_NO_SERIAL_START = 9001
#: The province's numbering service: read only when BRIDGE_CASE_NO_SOURCE=province_service.
CASE_NO_SERVICE_VARIABLES: tuple[Variable, ...] = tuple(
    _receiver("CASE_NO_SERVICE", "province's 办件编号 numbering service", 18105, "wj-bridge-bjbh")
)
CASE_NO_KNOBS = (
    Variable(CASE_NO_SOURCE_VARIABLE, f"where new 办件编号 come from: {' | '.join(CASE_NO_SOURCES)}"),
    Variable(CASE_NO_SERIAL_START_VARIABLE, "the bridge's first serial of a 实施编码 and day (1-9999)"),
)


def case_no_source() -> str:
    """``BRIDGE_CASE_NO_SOURCE`` (default ``bridge``), checked."""
    chosen = (os.environ.get(CASE_NO_SOURCE_VARIABLE) or "").strip() or DEFAULT_CASE_NO_SOURCE
    if chosen not in CASE_NO_SOURCES:
        raise ConfigurationError(f"{CASE_NO_SOURCE_VARIABLE}={chosen!r}: use one of {', '.join(CASE_NO_SOURCES)}")
    return chosen


def case_no_serial_start() -> int:
    """``BRIDGE_CASE_NO_SERIAL_START`` (default 9001), checked: a serial from 1 to 9999."""
    text = (os.environ.get(CASE_NO_SERIAL_START_VARIABLE) or "").strip()
    if not text:
        return DEFAULT_CASE_NO_SERIAL_START
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 9999):
        raise ConfigurationError(f"{CASE_NO_SERIAL_START_VARIABLE}={text!r}: a serial from 1 to 9999")
    return int(text)


def _case_no_knob_problems() -> list[Problem]:
    problems = []
    for variable, read in zip(CASE_NO_KNOBS, (case_no_source, case_no_serial_start), strict=True):
        try:
            read()
        except ConfigurationError as exc:
            problems.append(Problem(variable, str(exc).removeprefix(f"{variable.name}=")))
    return problems


# ---------------------------------------------------------------- where the daily partitions start (issue 23)
PARTITIONS_START_VARIABLE = "BRIDGE_PARTITIONS_START"
#: When unset: the day the partitions always started on, so an installation that never set it keeps its days. Set
#: it once, to the first day the bridge loads (production: the go-live day; the demo and `make dev`: the demo's
#: first day); the UI's "% filled" then counts from where the data starts. Moved later, the days before it leave
#: the UI (their rows stay in the warehouse).
DEFAULT_PARTITIONS_START = dt.date(2025, 1, 1)
PARTITIONS_START = Variable(PARTITIONS_START_VARIABLE, "the first day of the daily partitions (YYYY-MM-DD)")


def partitions_start() -> dt.date:
    """``BRIDGE_PARTITIONS_START`` (default 2025-01-01), checked: a date, not after today."""
    text = (given(PARTITIONS_START_VARIABLE) or "").strip()
    if not text:
        return DEFAULT_PARTITIONS_START
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigurationError(
            f"{PARTITIONS_START_VARIABLE}={text!r} is not a date (YYYY-MM-DD): the first day the bridge loads"
        ) from None
    if day > clock.today():
        raise ConfigurationError(f"{PARTITIONS_START_VARIABLE}={text!r} is after today: no day could be loaded")
    return day


def _partitions_start_problems() -> list[Problem]:
    try:
        partitions_start()
    except ConfigurationError as exc:
        return [Problem(PARTITIONS_START, str(exc).removeprefix(f"{PARTITIONS_START_VARIABLE}="))]
    return []


def dagster_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME") or PROJECT_ROOT / "dagster_home")


def sandbox_dir() -> Path:
    return Path(os.environ.get("BRIDGE_SANDBOX_DIR") or dagster_home() / "sandbox")


def profile() -> str:
    value = os.environ.get(PROFILE_VARIABLE, "").strip() or SANDBOX
    if value not in PROFILES:
        raise ConfigurationError(f"{PROFILE_VARIABLE}={value!r}: use one of {', '.join(PROFILES)}")
    return value


def is_production() -> bool:
    return profile() == PRODUCTION


def department_variable(department: declared.Department | declared_feeds.Feed, slot: str) -> Variable:
    value = department.environment[slot]
    what = {"endpoint": "endpoint", "app_key": "app key", "app_secret": "signing secret"}[slot]
    return Variable(value.variable, f"{department.title}: {what}", secret=value.secret, sandbox=value.sandbox)


def variables() -> list[Variable]:
    """Every variable the pipeline reads: the platforms', then each declared department's and feed's."""
    found = list(PLATFORM_VARIABLES)
    if _chosen_case_no_source() == "province_service":
        found += CASE_NO_SERVICE_VARIABLES
    for system in [*declared.departments().values(), *declared_feeds.feeds().values()]:
        found += [department_variable(system, slot) for slot in declared.SLOTS if slot in system.environment]
    seen: set[str] = set()
    for variable in found:
        if variable.name in seen:
            raise ConfigurationError(f"{variable.name} is read twice: a declaration reuses a platform's variable")
        seen.add(variable.name)
    return found


def _chosen_case_no_source() -> str:
    """The source as set, without refusing a wrong value (check() names it)."""
    try:
        return case_no_source()
    except ConfigurationError:
        return DEFAULT_CASE_NO_SOURCE


def _published() -> set[str]:
    """Every value the sandbox publishes (in this repository, for anyone to read), normalised (:func:`normal`)."""
    return {normal(v) for v in (var.sandbox_value() for var in variables()) if v}


LOOPBACK = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "ip6-localhost"}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.") or host.endswith(".localhost")


def normal(text: str) -> str:
    """A value as the guard compares it: a URL by scheme, host, port and path (case of scheme and host, a default
    port, a trailing slash, ``localhost`` for ``127.0.0.1`` make no difference); a folder without its trailing
    slash or ``./``; anything else stripped. ``http://localhost:18104/`` is the sandbox's ``http://127.0.0.1:18104``."""
    from urllib.parse import urlsplit

    text = text.strip()
    if "://" in text:
        try:
            parts = urlsplit(text)
            host = (parts.hostname or "").lower()
            port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
        except ValueError:
            return text
        host = "loopback" if _is_loopback(host) else host
        path = parts.path.rstrip("/") if not parts.scheme.lower().startswith("sqlite") else os.path.normpath(parts.path)
        return f"{parts.scheme.lower()}://{host}:{port or ''}{path}" + (f"?{parts.query}" if parts.query else "")
    if text.startswith(("/", "./", "../")) or os.sep in text:
        return os.path.normpath(text)
    return text


def warnings() -> list[str]:
    """What may run but should not in production: a receiver's endpoint over plain HTTP."""
    if not is_production():
        return []
    found = []
    for variable in variables():
        raw = given(variable.name)
        if raw and variable.name.endswith("_BASE_URL") and raw.strip().lower().startswith("http://"):
            found.append(
                f"{variable.name}: plain HTTP to a receiver ({variable.purpose}): the signature protects the "
                "body, not the holders' data in it; ask the platform for its HTTPS endpoint"
            )
    return found


def given(name: str) -> str | None:
    """The variable's value when it is set to something other than blanks."""
    value = os.environ.get(name)
    return value if value and value.strip() else None


def value(variable: Variable) -> tuple[str, bool]:
    """(value, from_environment): the environment's value, else (sandbox profile only) the sandbox's."""
    if (found := given(variable.name)) is not None:
        return found, True
    if is_production() or variable.sandbox is None:
        raise ConfigurationError(f"{variable.name} is not set ({variable.purpose})")
    return variable.sandbox_value() or "", False


@dataclass(frozen=True)
class Problem:
    variable: Variable
    reason: str

    def __str__(self) -> str:
        return f"{self.variable.name}: {self.reason} ({self.variable.purpose})"


def check() -> list[Problem]:
    """What stops the configuration from running in the current profile (nothing, in the sandbox profile unless
    a variable is set to blanks)."""
    problems = _case_no_knob_problems() + _partitions_start_problems()
    production = is_production()
    published = _published() if production else set()
    secrets: dict[str, str] = {}
    for variable in variables():
        raw = os.environ.get(variable.name)
        if raw is not None and not raw.strip():
            problems.append(Problem(variable, "set but empty"))
        elif raw is None and production:
            problems.append(Problem(variable, "missing"))
        elif raw is not None and normal(raw) in published:
            problems.append(Problem(variable, "holds a value the sandbox publishes: set the production one"))
        elif raw is not None and production and variable.name.endswith("_BASE_URL") and _loopback_url(raw):
            problems.append(Problem(variable, "points at this machine (loopback), where the sandbox's stand-ins "
                                              "listen: set the receiver's own endpoint"))  # fmt: skip
        elif raw is not None and production and variable.secret and not variable.name.endswith("_URL"):
            if (other := secrets.get(raw.strip())) is not None:
                problems.append(
                    Problem(variable, f"the same signing secret as {other}: each system signs with its own")
                )
            secrets.setdefault(raw.strip(), variable.name)
    return problems


def _loopback_url(text: str) -> bool:
    return "://loopback:" in normal(text)  # normal() names every loopback host so


def require_ready() -> None:
    """Raise :class:`ConfigurationError` naming every variable that stops this profile from running."""
    problems = check()
    if problems:
        raise ConfigurationError(
            f"{PROFILE_VARIABLE}={profile()}: {len(problems)} variable(s) to set before the bridge can run:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


def overridden() -> list[str]:
    """Variables set to something other than the sandbox's value: production settings the sandbox must not
    run against (the demo drops and refills tables, and delivers to whatever endpoints are set)."""
    return [
        variable.name
        for variable in variables()
        if (found := given(variable.name)) is not None and found != variable.sandbox_value()
    ]


def require_sandbox(what: str) -> None:
    """The sandbox and the demo run only in the sandbox profile with no production variable set."""
    if is_production():
        raise ConfigurationError(f"{what} runs only in the sandbox profile, not with {PROFILE_VARIABLE}=production")
    if names := overridden():
        raise ConfigurationError(
            f"{what} refuses to run while production variables are set: {', '.join(names)}. "
            "Unset them (the sandbox brings its own) or run the pipeline itself."
        )


def shown(variable: Variable, text: str) -> str:
    """A value as ``config check`` prints it: a URL variable (``…_URL``) without any credential part
    (``core.redact``: its password, secret-named query parameters, ODBC ``PWD=``); any other secret only as its
    length, whatever it looks like (an app secret that happens to contain ``://`` is not a URL to show)."""
    if variable.secret and not variable.name.endswith("_URL"):
        return f"(secret, {len(text)} characters)"
    if "://" in text:
        from core.redact import NotAURL, redacted_url

        try:
            return redacted_url(text)
        except NotAURL:
            return "(set; not a URL)"
    return text


def resolved() -> list[dict[str, str]]:
    """Each variable with where its value comes from and the value as it may be shown."""
    rows = []
    for variable in variables():
        try:
            text, from_env = value(variable)
            source = "environment" if from_env else "sandbox profile"
            display = shown(variable, text)
        except ConfigurationError:
            source, display = "missing", ""
        rows.append({"variable": variable.name, "source": source, "value": display, "purpose": variable.purpose})
    for variable in CASE_NO_KNOBS:  # tuning knobs with defaults in both profiles, shown with what is in force
        text = given(variable.name)
        rows.append(
            {
                "variable": variable.name,
                "source": "environment" if text is not None else "default",
                "value": text if text is not None else {
                    CASE_NO_SOURCE_VARIABLE: DEFAULT_CASE_NO_SOURCE,
                    CASE_NO_SERIAL_START_VARIABLE: str(DEFAULT_CASE_NO_SERIAL_START),
                }[variable.name],
                "purpose": variable.purpose,
            }
        )  # fmt: skip
    start = given(PARTITIONS_START_VARIABLE)
    rows.append(
        {
            "variable": PARTITIONS_START_VARIABLE,
            "source": "environment" if start is not None else "default",
            "value": start.strip() if start is not None else DEFAULT_PARTITIONS_START.isoformat(),
            "purpose": PARTITIONS_START.purpose,
        }
    )
    return rows


def number(name: str, default: float) -> float:
    """A tuning knob (rate limits, batch sizes, ages): not secret, so read when definitions load and shown
    in the resource's configuration in the UI."""
    value = os.environ.get(name)
    try:
        return float(value) if value else default
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a number") from None


WAREHOUSE = PLATFORM_VARIABLES[0]


def warehouse_url() -> str:
    """The warehouse's SQLAlchemy URL in this profile (the commands' own connection; assets use the resource)."""
    return value(WAREHOUSE)[0]
