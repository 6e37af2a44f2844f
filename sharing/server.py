"""Run the licence sharing API with uvicorn: ``approval-bridge serve`` or ``python -m sharing.server``.

uvicorn's access log is off: request lines carry holder codes (身份证号) in paths and query strings, and the
API's own audit (``licence_access_log``) records every request with the code masked.
"""

import argparse
import os
import sys

from core import settings
from core.shutdown import stop_signals

# uvicorn, FastAPI, the API and the warehouse (SQLAlchemy) are imported where the server starts: every
# ``approval-bridge`` command builds this command's arguments, and importing them costs about 0.9 s of CPU a start.

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8700
#: Seconds requests still in flight get when the server stops (SIGINT or SIGTERM) before they are cancelled.
STOP_GRACE_SECONDS = 5
#: How uvicorn serves the API. No access log (request lines carry holder codes); no server banner; no proxy
#: headers: uvicorn would otherwise believe X-Forwarded-For from loopback, and the API decides whom to believe
#: (LICENCE_API_TRUSTED_PROXIES, none by default).
SERVER_OPTIONS = {"access_log": False, "server_header": False, "proxy_headers": False}


def default_warehouse_url() -> str:
    """``BRIDGE_WAREHOUSE_URL``; in the sandbox profile, the embedded SQLite file under DAGSTER_HOME when unset."""
    return settings.warehouse_url()


def serve(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, warehouse_url: str | None = None) -> None:
    """Keys, limits and trusted proxies from the environment (docs/security.md); raises ``KeyProblem`` or
    ``ValueError`` naming what to fix before anything listens."""
    import uvicorn

    from sharing.api import create_app
    from sharing.guard import TRUSTED_PROXIES, Limits, parse_networks

    app = create_app(
        warehouse_url or default_warehouse_url(),
        limits=Limits.from_environment(),
        trusted_proxies=parse_networks(os.environ.get(TRUSTED_PROXIES)),
    )
    # SIGINT and SIGTERM: uvicorn stops, hands the signal back to stop_signals, which says so in one line.
    with stop_signals("licence sharing API"):
        uvicorn.run(
            app, host=host, port=port, log_level="info", timeout_graceful_shutdown=STOP_GRACE_SECONDS, **SERVER_OPTIONS
        )


def main_serve(args: argparse.Namespace) -> int:
    """``approval-bridge serve [--host 127.0.0.1] [--port 8700]``; ``args.warehouse_url`` is optional."""
    from core.warehouse_state import shown_url
    from sharing.api import KeyProblem

    host, port = getattr(args, "host", DEFAULT_HOST), getattr(args, "port", DEFAULT_PORT)
    try:
        profile = settings.profile()  # a bad BRIDGE_PROFILE is named before anything else
        url = getattr(args, "warehouse_url", None) or default_warehouse_url()
        print(f"licence sharing API on http://{host}:{port}/v1 (OpenAPI: /docs, /openapi.json); Ctrl-C stops it")
        print(f"warehouse {shown_url(url)}", flush=True)  # which one it reads, without credentials
        serve(host, port, url)
    except KeyProblem as problem:
        lines = [f"approval-bridge serve: the API does not start ({settings.PROFILE_VARIABLE}={profile}):"]
        print("\n".join([*lines, *(f"  - {line}" for line in problem.problems)]), file=sys.stderr)
        return 2
    except (ValueError, settings.ConfigurationError) as problem:
        print(f"approval-bridge serve: {problem}", file=sys.stderr)
        return 2
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--warehouse-url", help="default: BRIDGE_WAREHOUSE_URL, else dagster_home/warehouse.sqlite")
    return parser


if __name__ == "__main__":
    raise SystemExit(main_serve(add_arguments(argparse.ArgumentParser(description=__doc__)).parse_args()))
