"""``python -m sandbox``: the development commands around the stand-ins (not part of the product).

* ``demo``: the stand-ins up, last month and this one so far through the whole pipeline, the reconciliation printed;
* ``serve``: the stand-ins on loopback, kept running (for ``dagster dev``);
* ``dev``: the stand-ins plus the Dagster daemon and UI on the demo's instance;
* ``train-model``: retrain the shipped resolution model on a month of sandbox cases.

Each refuses in the production profile and while a production variable is set (``core.settings``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from core import settings, shutdown


def _demo(args: argparse.Namespace) -> int:
    from cli.reconciliation import identities
    from sandbox.demo import DemoOptions, run_demo

    options = DemoOptions(
        days=args.days, cases_per_day=args.cases_per_day, fault_level=args.faults, ack_timeout_seconds=args.ack_timeout
    )
    # A demo stopped half-way did not finish: one line, and 128 + the signal's number (130 for Ctrl-C).
    with shutdown.stop_signals("demo (the warehouse holds what ran; run it again to start over)") as stop:
        figures = run_demo(options)
    if stop.requested:
        return 128 + stop.signum
    return 0 if all(ok for _, ok in identities(figures)) else 1


def _serve(args: argparse.Namespace) -> int:
    """The stand-ins until SIGINT or SIGTERM; then they stop, one line says so, and the exit code is 0."""
    from sandbox.demo import DemoOptions, demo_window
    from sandbox.runtime import DEFAULT_PORTS, Sandbox, SandboxSettings

    keys = demo_window(DemoOptions(days=args.days))
    with shutdown.stop_signals("sandbox"):
        sandbox = Sandbox(
            SandboxSettings(
                root=settings.sandbox_dir(),
                start=dt.date.fromisoformat(keys[0]),
                days=len(keys),
                cases_per_day=args.cases_per_day,
                fault_level=args.faults,
                ports=dict.fromkeys(DEFAULT_PORTS, 0) if args.free_ports else dict(DEFAULT_PORTS),
                resume=not args.fresh,
            )
        )
        try:
            sandbox.start()
            print(f"sandbox serving {keys[0]} … {keys[-1]} ({args.faults} faults); Ctrl-C stops it", flush=True)
            for name, where in sandbox.endpoints().items():
                print(f"  {name:<18} {where}", flush=True)
            while True:
                time.sleep(3600)
        finally:
            sandbox.stop()
    return 0


def _dev(args: argparse.Namespace) -> int:
    """The stand-ins, the Dagster daemon and the webserver (the UI) on the same DAGSTER_HOME, each child in a
    process group of its own (with the code server it starts, and the daemon's run workers). Before they start,
    runs a stopped instance left in flight are ended (pipelines.recovery). On SIGINT or SIGTERM, or when a child
    exits, it stops in order: the runs in flight are canceled through the UI (as its "Terminate" does: each gives
    back its pool slots), then the webserver, the daemon and the stand-ins, each within the grace period or
    killed; a run it could not cancel is then ended, its slots freed. One line says so; no traceback."""
    env = dict(os.environ, DAGSTER_HOME=str(settings.dagster_home()))
    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
    from sandbox.demo import partitions_start

    env.setdefault(settings.PARTITIONS_START_VARIABLE, partitions_start(args.days))  # the UI counts the demo's days
    bin_dir = os.path.dirname(sys.executable)
    webserver = daemon = sandbox = None
    url = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{args.port}"
    with shutdown.stop_signals("dev"):
        try:
            from cli.main import set_pools

            _say_recovered(_recover(), "before starting")
            set_pools()
            endpoints = settings.sandbox_dir() / "endpoints.json"
            endpoints.unlink(missing_ok=True)  # the sandbox writes it anew once it serves
            serve = [sys.executable, "-m", "sandbox", "serve", *(["--days", str(args.days)] if args.days else [])]
            sandbox = shutdown.start_group([*serve, *(["--free-ports"] if args.free_ports else [])], env=env)
            if args.free_ports:  # the pipeline reaches the stand-ins where they came up
                env.update(_sandbox_environment(sandbox, endpoints))
            location = ["-m", args.module]
            daemon = shutdown.start_group([os.path.join(bin_dir, "dagster-daemon"), "run", *location], env=env)
            webserver = shutdown.start_group(
                [os.path.join(bin_dir, "dagster-webserver"), *location, "-h", args.host, "-p", str(args.port)], env=env
            )
            names = {webserver.pid: "the webserver", daemon.pid: "the daemon", sandbox.pid: "the sandbox"}
            ended = shutdown.wait_for_any([webserver, daemon, sandbox])
            print(f"dev: {names[ended.pid]} exited (code {ended.returncode}); stopping the rest", flush=True)
            return 1
        finally:
            canceled = _cancel_runs_in_flight(url) if webserver is not None and webserver.poll() is None else 0
            # each leader first (it stops its own code server), then what is left of its group
            for process in (webserver, daemon):
                if process is not None:
                    shutdown.stop_groups([process], leader_first=True)
            if daemon is not None:
                _say_recovered(_recover(), "after stopping", canceled)
            if sandbox is not None:
                shutdown.stop_groups([sandbox])
    return 0


def _recover() -> list:
    from pipelines.recovery import recover_home

    return recover_home()


def _say_recovered(recovered: list, when: str, canceled: int = 0) -> None:
    if canceled:
        print(f"dev: {canceled} run(s) in flight canceled", flush=True)
    for run in recovered:
        print(f"dev: run {run.run_id[:8]} ({run.job}) was left {run.was.lower()}; marked {run.now.lower()} "
              f"{when} (pipelines/recovery.py)", flush=True)  # fmt: skip


def _cancel_runs_in_flight(url: str, wait: float = 8.0) -> int:
    """Terminate every run starting or started, through the webserver as the UI's "Terminate" does: the run worker
    stops its step, gives back the step's pool slot and records the run CANCELED. Waits up to ``wait`` seconds
    for them to end; how many it asked to stop. Nothing when the webserver does not answer."""
    import httpx

    def runs() -> list[str]:
        query = (
            "{ runsOrError(filter: {statuses: [STARTING, STARTED, CANCELING]}) { ... on Runs { results { runId } } } }"
        )
        answer = client.post("/graphql", json={"query": query}).json()
        return [r["runId"] for r in ((answer.get("data") or {}).get("runsOrError") or {}).get("results", [])]

    mutation = "mutation($id: String!) { terminateRun(runId: $id) { __typename } }"
    try:
        with httpx.Client(base_url=url, timeout=httpx.Timeout(5.0)) as client:
            flying = runs()
            for run_id in flying:
                client.post("/graphql", json={"query": mutation, "variables": {"id": run_id}})
            deadline = time.monotonic() + wait
            while flying and runs() and time.monotonic() < deadline:
                time.sleep(0.3)
            return len(flying)
    except (httpx.HTTPError, ValueError):
        return 0


def _sandbox_environment(process: subprocess.Popen, endpoints: Path, timeout: float = 120) -> dict[str, str]:
    """What points the pipeline at the stand-ins ``process`` serves, from the endpoints.json it writes once up."""
    from sandbox.runtime import environment_for

    deadline = time.monotonic() + timeout
    while True:
        try:
            return environment_for(json.loads(endpoints.read_text()))
        except (OSError, ValueError):  # not written yet, or half
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"dev: the sandbox did not come up (exit code {process.poll()})") from None
            time.sleep(0.2)


def _train_model(args: argparse.Namespace) -> int:
    from resolution.model import MODEL_PATH, load_model, model_summary
    from resolution.training import train
    from sandbox.canonical import canonical_cases
    from sandbox.generator import GeneratorConfig, generate
    from schemas.case import DEDUP_COLUMNS

    # Reproducible: a month of sandbox cases, unlabelled as far as training knows.
    config = GeneratorConfig(start=dt.date(2026, 1, 1), days=30, cases_per_day=300)
    cases = canonical_cases(generate(config))[list(DEDUP_COLUMNS)]
    train(cases, path=MODEL_PATH)
    print(f"model trained on {len(cases)} records and written to {MODEL_PATH}")
    print(model_summary(load_model()).round(4).to_string(index=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    from cli.main import Parser  # arguments refused in one line

    parser = Parser(prog="python -m sandbox", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the whole pipeline end to end on the embedded default")
    demo.add_argument(
        "--days", type=int, help="days of cases, ending yesterday (default: from the first day of the last whole month)"
    )
    demo.add_argument("--cases-per-day", type=int, default=20)
    demo.add_argument("--faults", choices=["none", "mild", "heavy"], default="mild", help="how the stand-ins misbehave")
    demo.add_argument("--ack-timeout", type=float, default=60.0, help="seconds to wait for late acknowledgements")
    demo.set_defaults(run=_demo)

    serve = commands.add_parser("serve", help="start the stand-in systems on loopback and keep them running")
    serve.add_argument("--days", type=int, help="days served, ending yesterday (default: as the demo's)")
    serve.add_argument("--cases-per-day", type=int, default=20)
    serve.add_argument("--faults", choices=["none", "mild", "heavy"], default="mild")
    serve.add_argument("--fresh", action="store_true", help="forget what the receivers already hold")
    serve.add_argument("--free-ports", action="store_true", help="any free loopback ports (endpoints.json names them)")
    serve.set_defaults(run=_serve)

    dev = commands.add_parser("dev", help="the stand-ins plus the Dagster UI on the demo's instance")
    dev.add_argument("--days", type=int, help="days the stand-ins serve (default: as the demo's)")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.add_argument("--free-ports", action="store_true", help="the stand-ins on any free loopback ports")
    dev.add_argument("--module", default="pipelines.definitions", help="the code location (default: the bridge's)")
    dev.set_defaults(run=_dev)

    train = commands.add_parser("train-model", help="retrain the shipped resolution model on sandbox cases")
    train.set_defaults(run=_train_model)

    args = parser.parse_args(argv)
    try:
        settings.require_sandbox(f"python -m sandbox {args.command}")
    except settings.ConfigurationError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    from sandbox.runtime import PortInUse

    try:
        return args.run(args)
    except PortInUse as exc:
        print(f"python -m sandbox {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
