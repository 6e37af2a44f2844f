"""An operator's ordinary mistakes, each run as the command IT staff type: one line on stderr saying what was wrong
and what to do, a non-zero exit code, never a traceback (docs/operations.md, "When a command refuses")."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.instance import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
REFUSED_LOGIN = "postgresql+psycopg2://no_such_account@127.0.0.1:5432/test"


def _run(tmp_path: Path, *args: str, **env: str) -> tuple[int, str, str]:
    base = {k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_DIR", "_APP_KEY", "_APP_SECRET"))}
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", *args],  # this checkout's code, as approval-bridge runs it
        cwd=ROOT,
        env={**base, "DAGSTER_HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.returncode, result.stdout, result.stderr


def _one_line(code: int, err: str, command: str, *said: str) -> None:
    assert code != 0 and "Traceback" not in err, err
    assert len(err.splitlines()) == 1 and err.startswith(f"approval-bridge {command}: "), err
    for words in said:
        assert words in err, err


@pytest.mark.parametrize(
    ("args", "said"),
    [
        pytest.param(["--from", "2026-11-05", "--to", "2026-11-01"], ["--to 2026-11-01 is before --from 2026-11-05"],
                     id="to-before-from"),
        pytest.param(["--from", "2026/11/01", "--to", "2026-11-03"], ["'2026/11/01' is not a day", "YYYY-MM-DD"],
                     id="day-format"),
        pytest.param(["--from", "2026-11-01", "--to", "2026-11-03", "--source", "nosuch"],
                     ["unknown source 'nosuch'", "housing"], id="unknown-source"),
        pytest.param(["--from", "2026-11-01"], ["--to"], id="missing-to"),
    ],
)  # fmt: skip
def test_backfill_arguments(tmp_path, args, said):
    code, _, err = _run(tmp_path, "backfill", *args)
    assert code == 2
    _one_line(code, err, "backfill", *said)


def test_backfill_with_no_ui_running_says_to_start_it_or_give_the_url(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    code, out, err = _run(tmp_path, "backfill", "--from", "2026-11-01", "--to", "2026-11-03", "--url", url)
    _one_line(code, err, "backfill", f"no Dagster UI answers at {url}", "make dev", "--url")
    assert out == ""


@pytest.mark.parametrize("month", ["2026/11", "nov", "2026-13"])
def test_a_month_of_another_form(tmp_path, month):
    code, _, err = _run(tmp_path, "reconcile", "--month", month)
    _one_line(code, err, "reconcile", f"{month!r} is not a month", "YYYY-MM")


def test_dashboard_on_a_busy_port_refuses_before_writing_the_page(tmp_path):
    page = tmp_path / "dashboard" / "index.html"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = _run(tmp_path, "dashboard", "--port", str(port), "--output", str(page))
    _one_line(code, err, "dashboard", f"cannot listen on 127.0.0.1:{port}", "--port")
    assert not page.parent.exists()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "args",
    [["reconcile"], ["review", "list"], ["dashboard", "--no-serve"], ["deliver"], ["report", "projects", "--month",
                                                                                  "2026-11"]],
    ids=lambda a: a[0],
)  # fmt: skip
def test_a_refused_login_is_one_line(tmp_path, postgres_url, args):
    code, _, err = _run(tmp_path, *args, BRIDGE_WAREHOUSE_URL=REFUSED_LOGIN)
    _one_line(code, err, " ".join(args[:2]) if args[0] == "report" else args[0], 'role "no_such_account"')


def test_an_unknown_command(tmp_path):
    code, _, err = _run(tmp_path, "reconcil")
    assert code == 2 and len(err.splitlines()) == 1 and "invalid choice: 'reconcil'" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("output", "said"),
    [
        pytest.param("r.csv", ["r.csv: the report is an XLSX workbook", ".xlsx"], id="csv-name"),
        pytest.param("folder.xlsx/", ["is a folder"], id="a-folder"),
        pytest.param("missing/r.xlsx", ["its folder", "does not exist"], id="missing-folder"),
        pytest.param("there.xlsx", ["there.xlsx exists", "--force"], id="existing-file"),
    ],
)
def test_report_projects_output_mistakes_write_nothing(tmp_path, output, said):
    (tmp_path / "folder.xlsx").mkdir()
    (tmp_path / "there.xlsx").write_bytes(b"the office's own file")
    code, _, err = _run(tmp_path, "report", "projects", "--month", "2026-10", "--output", str(tmp_path / output))
    _one_line(code, err, "report projects", *said)
    assert (tmp_path / "there.xlsx").read_bytes() == b"the office's own file"
    assert not (tmp_path / "missing").exists() and not (tmp_path / "r.csv").exists()


@pytest.mark.parametrize("month", ["0001-01", "1999-12", "2100-01", "2026-1", "2026-00"])
def test_report_projects_refuses_a_month_outside_the_bureaus_era(tmp_path, month):
    code, _, err = _run(tmp_path, "report", "projects", "--month", month)
    _one_line(code, err, "report projects", repr(month))
