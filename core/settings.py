"""Where the bridge finds its systems: configuration, not code, picks the environment.

Every endpoint and secret is an environment variable. When one is unset, the embedded default applies:
SQLite files under ``DAGSTER_HOME`` and the sandbox stand-ins on loopback. Secrets that are set are
passed as Dagster ``EnvVar``s, so their values never land in run configuration or the UI.
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster import EnvVar

from sandbox.runtime import CREDENTIALS, DEFAULT_PORTS

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def dagster_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME") or PROJECT_ROOT / "dagster_home")


def sandbox_dir() -> Path:
    return Path(os.environ.get("BRIDGE_SANDBOX_DIR") or dagster_home() / "sandbox")


def setting(name: str, default: str) -> str | EnvVar:
    """The environment variable when it is set (resolved at run time), else the embedded default."""
    return EnvVar(name) if os.environ.get(name) else default


def warehouse_url() -> str | EnvVar:
    return setting("BRIDGE_WAREHOUSE_URL", f"sqlite:///{dagster_home() / 'warehouse.sqlite'}")


def sandbox_url(name: str) -> str:
    return f"http://127.0.0.1:{DEFAULT_PORTS[name]}"


def credentials(name: str) -> tuple[str | EnvVar, str | EnvVar]:
    key, secret = CREDENTIALS[name]
    return setting(f"{name.upper()}_APP_KEY", key), setting(f"{name.upper()}_APP_SECRET", secret)


def number(name: str, default: float) -> float:
    """A tuning knob (rate limits, batch sizes, ages): not secret, so read when definitions load and shown
    in the resource's configuration in the UI."""
    value = os.environ.get(name)
    try:
        return float(value) if value else default
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a number") from None
