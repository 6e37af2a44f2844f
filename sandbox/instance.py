"""A running Dagster instance for tests and benchmarks: ``dagster dev`` (webserver, daemon, code server) on a
DAGSTER_HOME of its own, in its own process group, stopped with all of it (core.shutdown); and what the warehouse
holds, with the load bookkeeping set aside, to compare before and after a re-run."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import sqlalchemy as sa

from core import shutdown

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
#: What re-running a day may change: when it was fetched, linked, recorded, and delivery progress.
BOOKKEEPING = {"batch_id", "fetched_at", "quarantined_at", "linked_at", "recorded_at", "queued_at", "updated_at",
               "sent_at", "acked_at", "attempts", "status", "receipt_id", "last_error", "assigned_at"}  # fmt: skip
#: case_numbers among them: a backfill over days already loaded allocates no new 办件编号 and changes none.
DAY_TABLES = ("raw_records", "staged_cases", "staged_pauses", "quarantined_records", "case_links", "golden_cases",
              "case_numbers", "outbox", "raw_licence_feed", "licence_events", "licences", "holders")  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DevInstance:
    def __init__(self, home: Path, env: dict[str, str], startup_seconds: float = 180) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / "dagster-dev.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop)
        # As a deployment does: every pool's limit set before the daemon launches runs that claim them.
        subprocess.run([str(BIN / "approval-bridge"), "pools"], cwd=ROOT, env={**env, "DAGSTER_HOME": str(home)},
                       stdout=self.log, stderr=subprocess.STDOUT, check=True, timeout=120)  # fmt: skip
        # In a process group of its own, with SIGINT at its default even when the tests were started with it
        # ignored (``&`` in a script): dagster dev would then ignore SIGINT and SIGTERM, and wait out the grace.
        self.process = shutdown.start_group(
            [str(BIN / "dagster"), "dev", "-m", "pipelines.definitions", "-h", "127.0.0.1", "-p", str(self.port)],
            cwd=ROOT, env={**env, "DAGSTER_HOME": str(home)}, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + startup_seconds
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/server_info", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError("dagster dev exited:\n" + self.log_path.read_text()[-3000:])
            time.sleep(1)
        self.stop()
        raise RuntimeError("dagster dev did not come up")

    def backfill(self, env: dict[str, str], first: str, last: str, *extra: str, timeout: float = 3600) -> str:
        """``approval-bridge backfill`` against this instance; raises with its output when it fails."""
        command = [str(BIN / "approval-bridge"), "backfill", "--from", first, "--to", last, "--url", self.url,
                   "--every", "2", "--timeout", str(timeout), *extra]  # fmt: skip
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout + 60)
        if result.returncode != 0:
            raise RuntimeError(result.stdout[-3000:] + result.stderr[-3000:])
        return result.stdout

    def runs(self) -> list[dict]:
        """Every run of the instance: id, status, start and end (epoch seconds) and tags."""
        query = "{ runsOrError { ... on Runs { results { runId status startTime endTime tags { key value } } } } }"
        answer = httpx.post(self.url + "/graphql", json={"query": query}, timeout=30).json()
        return answer["data"]["runsOrError"]["results"]

    def stop(self) -> None:
        """SIGINT to dagster dev's whole group (webserver, daemon, code servers, run workers), as Ctrl-C in a
        terminal; SIGKILL for whatever is left after 30 s. A few seconds, usually."""
        shutdown.stop_groups([self.process], grace=30)
        self.log.close()


def day_contents(url: str, tables: tuple[str, ...] = DAY_TABLES) -> dict[str, pd.DataFrame]:
    """Every row of the day-loaded tables, bookkeeping columns dropped, in a stable order."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            frames = {t: pd.read_sql(sa.text(f"SELECT * FROM {t}"), conn) for t in tables}
    finally:
        engine.dispose()
    kept = {}
    for table, frame in frames.items():
        frame = frame.drop(columns=[c for c in frame.columns if c in BOOKKEEPING])
        kept[table] = frame.sort_values(list(frame.columns)).reset_index(drop=True).astype(str)
    return kept


def changed_tables(before: dict[str, pd.DataFrame], after: dict[str, pd.DataFrame]) -> list[str]:
    return [t for t in before if not before[t].equals(after[t])]
