"""``approval-bridge``: the commands IT staff run."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import subprocess
import sys
import time

from pipelines import settings


def _demo(args: argparse.Namespace) -> int:
    from pipelines.demo import DemoOptions, identities, run_demo

    figures = run_demo(
        DemoOptions(days=args.days, cases_per_day=args.cases_per_day, fault_level=args.faults,
                    ack_timeout_seconds=args.ack_timeout)
    )  # fmt: skip
    return 0 if all(ok for _, ok in identities(figures)) else 1


def _sandbox(args: argparse.Namespace) -> int:
    from pipelines.demo import DemoOptions, demo_window
    from sandbox.runtime import Sandbox, SandboxSettings

    keys = demo_window(DemoOptions(days=args.days))
    sandbox = Sandbox(
        SandboxSettings(root=settings.sandbox_dir(), start=dt.date.fromisoformat(keys[0]), days=args.days,
                        cases_per_day=args.cases_per_day, fault_level=args.faults, resume=not args.fresh)
    ).start()  # fmt: skip
    print(f"sandbox serving {keys[0]} … {keys[-1]} ({args.faults} faults); Ctrl-C stops it")
    for name, where in sandbox.endpoints().items():
        print(f"  {name:<18} {where}")
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    try:
        while not stop:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0


def _dev(args: argparse.Namespace) -> int:
    """The sandbox in the background and the Dagster UI (webserver + daemon) on the same DAGSTER_HOME."""
    env = dict(os.environ, DAGSTER_HOME=str(settings.dagster_home()))
    bin_dir = os.path.dirname(sys.executable)
    children = [
        subprocess.Popen([os.path.join(bin_dir, "approval-bridge"), "sandbox", "--days", str(args.days)], env=env),
        subprocess.Popen(
            [
                os.path.join(bin_dir, "dagster"),
                "dev",
                "-m",
                "pipelines.definitions",
                "-h",
                args.host,
                "-p",
                str(args.port),
            ],
            env=env,
        ),
    ]
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        return children[1].wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGINT)  # dagster dev shuts its webserver, daemon and code server down
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()


def _dedup(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pipelines.resolve.dedup import run

    run(Path(args.input), Path(args.output))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="approval-bridge", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the whole pipeline end to end on the embedded default")
    demo.add_argument("--days", type=int, default=7, help="days of cases, ending yesterday (default 7)")
    demo.add_argument("--cases-per-day", type=int, default=60)
    demo.add_argument("--faults", choices=["none", "mild", "heavy"], default="mild", help="how the stand-ins misbehave")
    demo.add_argument("--ack-timeout", type=float, default=60.0, help="seconds to wait for late acknowledgements")
    demo.set_defaults(run=_demo)

    sandbox = commands.add_parser("sandbox", help="start the stand-in systems on loopback and keep them running")
    sandbox.add_argument("--days", type=int, default=7)
    sandbox.add_argument("--cases-per-day", type=int, default=60)
    sandbox.add_argument("--faults", choices=["none", "mild", "heavy"], default="mild")
    sandbox.add_argument("--fresh", action="store_true", help="forget what the receivers already hold")
    sandbox.set_defaults(run=_sandbox)

    dev = commands.add_parser("dev", help="the sandbox plus the Dagster UI on the demo's instance")
    dev.add_argument("--days", type=int, default=7)
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.set_defaults(run=_dev)

    dedup = commands.add_parser("dedup", help="resolve a CSV of canonical cases into clusters of the same case")
    dedup.add_argument("--input", required=True, help="UTF-8 CSV with the canonical case columns")
    dedup.add_argument("--output", required=True, help="CSV: source_system, source_record_id, cluster_id, …")
    dedup.set_defaults(run=_dedup)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
