"""Run the licence sharing API with uvicorn: ``approval-bridge serve`` or ``python -m sharing.server``.

uvicorn's access log is off: request lines carry holder codes (身份证号) in paths and query strings, and the
API's own audit (``licence_access_log``) records every request with the code masked.
"""

import argparse

import uvicorn

from core import settings
from core.shutdown import stop_signals
from sharing.api import create_app

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8700
#: Seconds requests still in flight get when the server stops (SIGINT or SIGTERM) before they are cancelled.
STOP_GRACE_SECONDS = 5


def default_warehouse_url() -> str:
    """``BRIDGE_WAREHOUSE_URL``; in the sandbox profile, the embedded SQLite file under DAGSTER_HOME when unset."""
    return settings.warehouse_url()


def serve(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, warehouse_url: str | None = None) -> None:
    app = create_app(warehouse_url or default_warehouse_url())
    # SIGINT and SIGTERM: uvicorn stops, hands the signal back to stop_signals, which says so in one line.
    with stop_signals("licence sharing API"):
        uvicorn.run(
            app,
            host=host,
            port=port,
            access_log=False,
            server_header=False,
            log_level="info",
            timeout_graceful_shutdown=STOP_GRACE_SECONDS,
        )


def main_serve(args: argparse.Namespace) -> int:
    """``approval-bridge serve [--host 127.0.0.1] [--port 8700]``; ``args.warehouse_url`` is optional."""
    host, port = getattr(args, "host", DEFAULT_HOST), getattr(args, "port", DEFAULT_PORT)
    print(f"licence sharing API on http://{host}:{port}/v1 (OpenAPI: /docs, /openapi.json); Ctrl-C stops it")
    serve(host, port, getattr(args, "warehouse_url", None))
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--warehouse-url", help="default: BRIDGE_WAREHOUSE_URL, else dagster_home/warehouse.sqlite")
    return parser


if __name__ == "__main__":
    raise SystemExit(main_serve(add_arguments(argparse.ArgumentParser(description=__doc__)).parse_args()))
