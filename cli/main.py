"""``approval-bridge``: the commands IT staff run."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
import time

from cli.reading import PROGRAM, Refused, add_allow_empty, how_many, name_warehouse, one_line, open_warehouse
from core import settings, shutdown
from core.vocabulary import RECEIVERS

WAITING_KINDS = ("pairs", "orders", "projects")  # reporting.waiting.KINDS, without importing pandas for --help


def pool_names() -> list[str]:
    """Every pool the assets name: each department system, each receiver, resolution and the licence load."""
    from pipelines.definitions import DAILY_ASSETS, UNPARTITIONED_ASSETS

    return sorted({a.op.pool for a in [*DAILY_ASSETS, *UNPARTITIONED_ASSETS] if a.op.pool})


def set_pools(limit: int = 1) -> list[str]:
    """Give every pool its limit in the instance at DAGSTER_HOME. Dagster otherwise creates a pool's row when a
    step first claims it, and two runs starting at once on PostgreSQL can race at that (one fails)."""
    from dagster import DagsterInstance

    names = pool_names()
    with DagsterInstance.get() as instance:
        for name in names:
            instance.event_log_storage.set_concurrency_slots(name, limit)
    return names


def _pools(args: argparse.Namespace) -> int:
    names = set_pools(args.limit)
    print(f"{len(names)} pools at {args.limit} step(s) each: {', '.join(names)}")
    return 0


def _runs(args: argparse.Namespace) -> int:
    """``runs recover``: end the runs a stopped daemon or machine left in flight, their pool slots freed."""
    from pipelines.recovery import recover_home

    recovered = recover_home()
    for run in recovered:
        worker = f"worker {run.worker} gone" if run.worker else "no worker started"
        print(f"run {run.run_id} ({run.job}): was {run.was.lower()}, {worker}; marked {run.now.lower()}")
    print(f"{len(recovered)} run(s) ended; the pool slots of ended runs freed")
    return 0


def _dedup(args: argparse.Namespace) -> int:
    from pathlib import Path

    from resolution.dedup import InputError, run

    try:
        run(Path(args.input), Path(args.output), backend=args.backend)
    except InputError as exc:
        print(f"dedup: {exc}", file=sys.stderr)
        return 2
    return 0


@one_line("review")
def _review(args: argparse.Namespace) -> int:
    """``review list``: everything waiting for a person, by kind; ``review decide``: a verdict on a pair."""
    from cli.waiting import waiting_text
    from resolution.review import decide

    if args.action == "list":
        warehouse = open_warehouse(args.allow_empty)
        try:
            print(waiting_text(warehouse, [args.kind] if args.kind else None, args.limit))
        finally:
            warehouse.dispose()
        return 0
    if not (args.left and args.right and args.decision and args.by):
        raise Refused("decide needs --left, --right, --decision and --by")
    warehouse = open_warehouse(args.allow_empty, writes=True)
    try:
        decide(warehouse, args.left, args.right, args.decision, args.by, args.note)
    finally:
        warehouse.dispose()
    print(f"recorded: {args.left} and {args.right} are {args.decision}; re-run case_resolution for their days")
    return 0


def _deliver(args: argparse.Namespace) -> int:
    """Drain the outbox toward the receivers (after an outage, say) and follow acknowledgements until nothing is
    pending or the time is up. Safe to interrupt and run again: every version goes under its idempotency key.
    Exit code 0 when nothing is pending, 3 when versions still are, 128 + the signal's number when stopped."""
    names = [args.target] if args.target else list(RECEIVERS)
    deadline = time.monotonic() + args.wait
    name_warehouse()
    with shutdown.stop_signals("deliver (safe to run again: each version goes under its idempotency key)") as stop:
        waiting = _drain(names, deadline)
    return 128 + stop.signum if stop.requested else 0 if waiting.empty else 3


def _drain(names: list[str], deadline: float):
    """Drain and follow until nothing is pending or ``deadline``; what is still pending, per target."""
    from dagster import build_resources

    from core.vocabulary import PENDING_STATUSES
    from delivery.outbox import drain
    from pipelines.definitions import build_resources as resource_defs

    with build_resources({k: v for k, v in resource_defs().items() if k in {"warehouse", *names}}) as resources:
        warehouse = resources.warehouse
        while True:
            for name in names:
                figures = drain(warehouse, name, getattr(resources, name))
                print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in figures.items() if v), flush=True)
            waiting = warehouse.read(
                "SELECT target, COUNT(*) AS n FROM outbox WHERE status IN "
                f"({', '.join(repr(s) for s in PENDING_STATUSES)}) GROUP BY target"
            )
            waiting = waiting[waiting["target"].isin(names)]
            if waiting.empty or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        for row in waiting.itertuples():
            print(f"{row.target}: {row.n} versions still pending")
        warehouse.dispose()
    return waiting


@one_line("backfill")
def _backfill(args: argparse.Namespace) -> int:
    """Launch an asset backfill of the daily assets in the running instance and follow it to the end."""
    import httpx

    from cli.backfill import BackfillError, InstanceClient, days, selection
    from core.departments import departments, licence_feeds
    from core.feeds import feeds

    if args.end < args.start:
        raise Refused(f"--to {args.end} is before --from {args.start}; give the first day to --from")
    keys = days(args.start, args.end)
    sources = list(departments())
    if args.source is not None and args.source not in [*sources, *feeds()]:
        raise Refused(f"unknown source {args.source!r}; give one of {', '.join([*sources, *feeds()])}")
    from pipelines.definitions import DAILY_ASSETS

    assets = selection(_asset_names(DAILY_ASSETS), args.source, sources, tuple(licence_feeds()), tuple(feeds()))
    client = InstanceClient(args.url)
    try:
        title = f"{keys[0]} … {keys[-1]}" + (f" ({args.source})" if args.source else "")
        backfill_id = client.launch(keys, assets, title)
        print(f"backfill {backfill_id}: {len(keys)} days × {len(assets)} assets, in {args.url}/runs/b/{backfill_id}")
        if args.no_wait:
            return 0
        with shutdown.stop_signals(f"following backfill {backfill_id}") as stop:
            done = client.follow(backfill_id, every=args.every, timeout=args.timeout)
        if stop.requested:  # only the following stops: the daemon goes on with the backfill
            print(f"backfill {backfill_id} goes on in the instance: {args.url}/runs/b/{backfill_id}")
            return 0
        print(f"backfill {backfill_id} finished: {done.materialized} of {done.partitions} days materialized")
        return 0
    except BackfillError as exc:
        print(f"backfill failed: {exc}", file=sys.stderr)
        return 1
    except httpx.HTTPStatusError as exc:
        raise Refused(
            f"the UI at {args.url} answered {exc.response.status_code}: is it Dagster's webserver?", 1
        ) from None
    except httpx.TransportError as exc:
        raise Refused(
            f"no Dagster UI answers at {args.url} ({type(exc).__name__}): start it (make dev, or the "
            "dagster-webserver and dagster-daemon services) or give --url",
            1,
        ) from None
    finally:
        client.close()


def _asset_names(assets) -> list[str]:
    return [key.to_user_string() for a in assets for key in a.keys]


@one_line("dashboard")
def _dashboard(args: argparse.Namespace) -> int:
    """Build the dashboard page from the marts, then serve it on loopback (or only write it with --no-serve) until
    SIGINT or SIGTERM, which stop it with one line and exit code 0."""
    import http.server
    from pathlib import Path

    from dashboard.build import build
    from dashboard.serve import handler_for
    from sharing.server import default_warehouse_url

    output = Path(args.output or settings.dagster_home() / "dashboard" / "index.html")
    server = None
    if not args.no_serve:  # the port first: a busy one is refused before the page is rewritten
        try:
            server = http.server.ThreadingHTTPServer((args.host, args.port), handler_for(output))  # this page only
        except OSError as exc:
            raise Refused(
                f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc}): another dashboard or program "
                "has it; stop it or give --port",
                1,
            ) from None
    try:
        name_warehouse()
        page = build(default_warehouse_url(), output)
        print(f"dashboard written to {page}")
        if server is None:
            return 0
        with shutdown.stop_signals("dashboard"):
            print(f"dashboard on http://{args.host}:{args.port}/ (Ctrl-C stops it)", flush=True)
            server.serve_forever()
    finally:
        if server is not None:
            server.server_close()
    return 0


@one_line("explain")
def _explain(args: argparse.Namespace) -> int:
    """A golden case (by its id or a 办件编号): who and what it is, then why its records were linked."""
    from cli.cases import explained_text

    warehouse = open_warehouse(args.allow_empty)
    try:
        print(explained_text(warehouse, args.golden_case_id))
    finally:
        warehouse.dispose()
    return 0


@one_line("cases find")
def _cases(args: argparse.Namespace) -> int:
    """Golden cases by applicant name, USCC or 身份证号, 办件编号 or source record id: the ids ``explain`` takes."""
    from cli.cases import found_text

    warehouse = open_warehouse(args.allow_empty)
    try:
        print(found_text(warehouse, args.text, args.limit))
    finally:
        warehouse.dispose()
    return 0


def _model(args: argparse.Namespace) -> int:
    from pathlib import Path

    from resolution.dedup import InputError, read_cases
    from resolution.model import MODEL_PATH, load_model, model_summary
    from resolution.training import train

    if args.action == "train":
        if not args.input:
            raise SystemExit("model train needs --input cases.csv (the shipped model: python -m sandbox train-model)")
        try:
            cases = read_cases(Path(args.input))
        except InputError as exc:
            print(f"model train: {exc}", file=sys.stderr)
            return 2
        train(cases, path=MODEL_PATH)
        print(f"model trained on {len(cases)} records and written to {MODEL_PATH}")
    print(model_summary(load_model()).round(4).to_string(index=False))
    return 0


def _profile_assumptions(name: str) -> object:
    """A province profile's assumed items as the model reads them (part → what to confirm: the parts
    core.formats also reads from the file's YAML, so each is warned about once)."""
    from connectors.province import profile

    return profile(name).assumed_parts


def _config(args: argparse.Namespace) -> int:
    """The configuration as the profile resolves it, secrets never shown; non-zero when it cannot run. In
    production, one warning per format item that no published source gives (docs/formats.md)."""
    from connectors.municipal import MAP_VARIABLE, MapError, municipal_map
    from connectors.province import DDL_VARIABLE, PROFILE_VARIABLE, ProfileError, ddl_version, province_profile
    from core import formats as format_files
    from core.departments import DeclarationError
    from schemas.codelists import CodeListError

    try:
        rows = settings.resolved()
        problems = settings.check() + _key_problems()
        formats = {PROFILE_VARIABLE: province_profile(), DDL_VARIABLE: ddl_version(), MAP_VARIABLE: municipal_map()}
        in_force = {format_files.PROVINCE_PROFILE: formats[PROFILE_VARIABLE],
                    format_files.MUNICIPAL_MAP: formats[MAP_VARIABLE]}  # fmt: skip
        files = format_files.collect(in_force, profile_assumptions=_profile_assumptions)
    except (settings.ConfigurationError, DeclarationError, ProfileError, MapError, CodeListError) as exc:
        print(f"configuration: {exc}", file=sys.stderr)
        return 2
    assumed = format_files.warnings(files)
    print(f"profile: {settings.profile()} ({settings.PROFILE_VARIABLE})")
    print("formats: " + ", ".join(f"{value} ({variable})" for variable, value in formats.items()))
    width = max(len(r["variable"]) for r in rows)
    for row in rows:
        print(f"  {row['variable']:<{width}}  {row['source']:<15}  {row['value']}")
    if settings.is_production():
        if assumed:
            print(f"\n{len(assumed)} format item(s) are assumed, not published: confirm each before relying on it "
                  "(docs/formats.md):", file=sys.stderr)  # fmt: skip
        for line in assumed:
            print(f"  warning: {line}", file=sys.stderr)
    else:
        print(f"format files: {len(files)}, {len(assumed)} assumed item(s) to confirm before production "
              "(docs/formats.md; config check lists them in the production profile)")  # fmt: skip
    for line in settings.warnings():
        print(f"  warning: {line}", file=sys.stderr)
    if problems:
        print(f"\n{len(problems)} variable(s) stop the {settings.profile()} profile:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print("\nconfiguration ready")
    return 0


def _key_problems() -> list[str]:
    """The sharing API's keys, checked as ``serve`` checks them (``sharing.keys``): one line per problem."""
    from schemas.licences import sharing_clients
    from sharing.keys import KeyProblem, api_keys

    try:
        api_keys(sharing_clients()["caller"].tolist())
    except KeyProblem as problem:
        return problem.problems
    return []


FIRST_YEAR, LAST_YEAR = 2000, 2099  # the months a report may be asked for: the bureau's era, not year 1


def _month(text: str) -> str:
    """A month as YYYY-MM between 2000-01 and 2099-12, or a one-line refusal (argparse prints it and exits 2)."""
    if not re.fullmatch(r"\d{4}-\d{2}", text or ""):
        raise argparse.ArgumentTypeError(f"{text!r} is not a month; give it as YYYY-MM, e.g. 2026-10")
    try:
        month = dt.date(int(text[:4]), int(text[5:]), 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month; give it as YYYY-MM, e.g. 2026-10") from None
    if not FIRST_YEAR <= month.year <= LAST_YEAR:
        raise argparse.ArgumentTypeError(f"{text!r}: give a month between {FIRST_YEAR}-01 and {LAST_YEAR}-12")
    return text


def _day(text: str) -> dt.date:
    """A day as YYYY-MM-DD, or a one-line refusal (argparse prints it and exits 2)."""
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day; give it as YYYY-MM-DD, e.g. 2026-10-12") from None


@one_line("report projects")
def _report(args: argparse.Namespace) -> int:
    """The key-project monthly report as XLSX, read from the marts (mart_projects, mart_project_stages)."""
    from pathlib import Path

    import sqlalchemy as sa

    from reporting.project_report import write_report
    from schemas.warehouse import mart_project_stages, mart_projects

    output = Path(args.output or f"key-projects-{args.month}.xlsx")
    if output.suffix.lower() != ".xlsx":
        raise Refused(f"--output {output}: the report is an XLSX workbook; give a name ending in .xlsx", 2)
    if output.is_dir():
        raise Refused(f"--output {output} is a folder; give the .xlsx file to write", 2)
    if not output.parent.is_dir():
        raise Refused(f"--output {output}: its folder {output.parent} does not exist", 2)
    if output.exists() and not args.force:
        raise Refused(f"{output} exists; --force replaces it", 2)
    warehouse = open_warehouse(args.allow_empty)
    try:
        clocks = warehouse.read(sa.select(mart_projects))
        stages = warehouse.read(sa.select(mart_project_stages))
    finally:
        warehouse.dispose()
    try:
        counts = write_report(clocks, stages, args.month, output)
    except OSError as exc:
        raise Refused(f"cannot write {output}: {exc.strerror or exc}", 1) from None
    print(f"{output}: {counts['projects']} key projects, {counts['stages']} stages ({args.month})")
    return 0


@one_line("report corrections")
def _report_corrections(args: argparse.Namespace) -> int:
    """Each department's correction list of the day as XLSX, read from the ``corrections`` table. Refuses in one
    line, writing nothing: a day after today, an output that is a file or whose parent folder is missing, a list
    already there (unless --force). A day with nothing on any list writes nothing and says so."""
    from pathlib import Path

    import sqlalchemy as sa

    from core import clock
    from reporting.correction_lists import department_name, list_file, list_of_day, write_list
    from schemas.warehouse import corrections
    from schemas.workdays import calendar

    def refuse(message: str) -> int:
        print(f"report corrections: {message}", file=sys.stderr)
        return 2

    day, folder = args.day, Path(args.output or ".")
    if day > clock.today():
        return refuse(f"--day {day} is after today ({clock.today()}): there is no list for it yet")
    if folder.exists() and not folder.is_dir():
        return refuse(f"--output {folder} is a file; give the folder the lists go in")
    if not folder.exists() and not folder.parent.is_dir():
        return refuse(f"--output {folder}: its parent folder {folder.parent} does not exist")
    warehouse = open_warehouse(args.allow_empty)
    try:
        listed = list_of_day(warehouse.read(sa.select(corrections)), day, calendar())
    finally:
        warehouse.dispose()
    if listed.empty:
        print(f"report corrections: nothing was open or fixed on {day} on any department's list; nothing written")
        return 0
    paths = {dept: list_file(folder, day, dept) for dept in sorted(listed["department"].unique())}
    there = [str(p) for p in paths.values() if p.exists()]
    if there and not args.force:
        return refuse(f"{there[0]} exists{f' (and {len(there) - 1} more)' if len(there) > 1 else ''}; --force replaces")
    try:
        folder.mkdir(exist_ok=True)
        for dept, path in paths.items():
            rows = listed[listed["department"] == dept]
            write_list(rows, path)
            still_open = int((rows["status_on_day"] == "open").sum())
            print(f"{path}: {department_name(dept)}, {still_open} open, {len(rows) - still_open} fixed on {day}")
    except OSError as exc:
        print(f"report corrections: {exc.strerror or exc} ({exc.filename or folder})", file=sys.stderr)
        return 1
    return 0


@one_line("reconcile")
def _reconcile(args: argparse.Namespace) -> int:
    """The reconciliation table of the configured warehouse; non-zero when an identity does not hold, and 2 (one
    line naming it) when the warehouse was never loaded, unless --allow-empty."""
    from cli.reconciliation import identities, render, summary
    from core import clock

    month = args.month or (clock.today().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    warehouse = open_warehouse(args.allow_empty)
    try:
        figures = summary(warehouse, month=month)
    finally:
        warehouse.dispose()
    print(render(figures))
    return 0 if all(ok for _, ok in identities(figures)) else 1


def _grant_role(args: argparse.Namespace) -> int:
    """``warehouse grant-dashboard-role|grant-api-role``: the role's grants (core/roles.py), run or printed."""
    from sqlalchemy import make_url

    from core.roles import Grant, RoleError, apply
    from core.warehouse import Warehouse, has_schemas

    password = settings.given(args.password_env) if args.password_env else None
    try:
        grant = Grant(args.kind, args.role, login=bool(args.password_env), owner=args.owner)
        if args.print_sql:
            print(grant.script(), end="")
            return 0
        if args.password_env and password is None:
            raise RoleError(f"{args.password_env} is not set: it holds the role's password (--password-env)")
        url = settings.warehouse_url()
        if not has_schemas(backend := make_url(url).get_backend_name()):
            print(f"warehouse roles are a PostgreSQL feature; this warehouse is {backend} (nothing done)")
            return 2
        warehouse = Warehouse(url=url)  # creates the marts schema and any table still missing, as the owner
        try:
            apply(warehouse.engine, grant, password)
        finally:
            warehouse.dispose()
    except RoleError as exc:
        print(f"warehouse {args.action}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the server's refusal (no CREATEROLE, not the owner), in one line
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"warehouse {args.action}: {reason}", file=sys.stderr)
        return 1
    print(f"role {args.role} ({'LOGIN' if grant.login else 'NOLOGIN'}): {grant.summary()}")
    return 0


def _catalogue(args: argparse.Namespace) -> int:
    from pathlib import Path

    from core import clock
    from schemas.catalogue import CATALOGUE_PATH, CatalogueError, import_export

    try:
        as_of = dt.date.fromisoformat(args.as_of) if args.as_of else clock.today()
    except ValueError:
        print(f"catalogue import: --as-of {args.as_of!r} is not a date (YYYY-MM-DD)", file=sys.stderr)
        return 2
    table = Path(args.table) if args.table else CATALOGUE_PATH
    try:
        result, rows = import_export(Path(args.file), as_of, table, write=not args.dry_run)
    except (CatalogueError, OSError) as error:
        for line in getattr(error, "problems", [str(error)]):
            print(line, file=sys.stderr)
        print(f"catalogue import: nothing written ({table})", file=sys.stderr)
        return 2
    names = dict(zip(rows["item_code"], rows["item_name"], strict=True))
    for line in result.summary(names):
        print(line)
    print(f"{'would write' if args.dry_run else 'wrote'} {table} (version as of {as_of})")
    return 0


def main_serve(args: argparse.Namespace) -> int:
    from sharing.server import main_serve as serve

    return serve(args)


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    from sharing.server import add_arguments

    add_arguments(parser)


class Parser(argparse.ArgumentParser):
    """Arguments refused in one line, ``approval-bridge <command>: <what is wrong> (see … --help)``, exit code 2
    (argparse would print the whole usage first)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="approval-bridge", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    config = commands.add_parser(
        "config", help="check the configuration of the profile in force (BRIDGE_PROFILE) and print it, secrets hidden"
    )
    config.add_argument("action", choices=["check"])
    config.set_defaults(run=_config)

    reconcile = commands.add_parser("reconcile", help="print the reconciliation table of the configured warehouse")
    reconcile.add_argument(
        "--month", type=_month, help="YYYY-MM: the month of the bureau's figures printed below it (default: last month)"
    )
    add_allow_empty(reconcile)
    reconcile.set_defaults(run=_reconcile)

    report = commands.add_parser("report", help="write a report as XLSX")
    reports = report.add_subparsers(dest="kind", required=True)
    projects = reports.add_parser("projects", help="the key-project monthly report (重点项目月报), from the marts")
    projects.add_argument("--month", type=_month, required=True, help="YYYY-MM, e.g. 2026-10")
    projects.add_argument("--output", help="the .xlsx to write (default key-projects-YYYY-MM.xlsx)")
    projects.add_argument("--force", action="store_true", help="replace the file when it exists")
    add_allow_empty(projects)
    projects.set_defaults(run=_report)
    lists = reports.add_parser(
        "corrections", help="each department's correction list (纠错清单) of a day, one .xlsx per department"
    )
    lists.add_argument("--day", type=_day, required=True, help="YYYY-MM-DD: the lists as they stood that day")
    lists.add_argument(
        "--output", help="the folder the lists go in (default: here); created if its parent folder exists"
    )
    lists.add_argument("--force", action="store_true", help="replace lists already written for the day")
    add_allow_empty(lists)
    lists.set_defaults(run=_report_corrections)

    dedup = commands.add_parser("dedup", help="resolve a CSV of canonical cases into clusters of the same case")
    dedup.add_argument("--input", required=True, help="UTF-8 CSV with the canonical case columns")
    dedup.add_argument("--output", required=True, help="CSV: source_system, source_record_id, cluster_id, …")
    dedup.add_argument(
        "--backend",
        choices=["duckdb", "spark"],
        help="where pairs are scored (default: BRIDGE_RESOLUTION_BACKEND, else duckdb)",
    )
    dedup.set_defaults(run=_dedup)

    review = commands.add_parser(
        "review", help="list what waits for a person (pairs, 12345 orders, project links), or decide on a pair"
    )
    review.add_argument("action", choices=["list", "decide"])
    review.add_argument(
        "--kind", choices=list(WAITING_KINDS), help="list: one kind of waiting item (default: every kind)"
    )
    review.add_argument("--limit", type=how_many, default=20, help="list: at most this many items of each kind")
    review.add_argument("--left", help="SOURCE:RECORD_ID")
    review.add_argument("--right", help="SOURCE:RECORD_ID")
    review.add_argument("--decision", choices=["same", "different"])
    review.add_argument("--by", help="who decided")
    review.add_argument("--note")
    add_allow_empty(review)
    review.set_defaults(run=_review)

    deliver = commands.add_parser(
        "deliver", help="send what is queued in the outbox and follow acknowledgements (after an outage, say)"
    )
    deliver.add_argument("--target", choices=RECEIVERS, help="one receiver (default all)")
    deliver.add_argument("--wait", type=float, default=0.0, help="seconds to keep following until nothing is pending")
    deliver.set_defaults(run=_deliver)

    serve = commands.add_parser(
        "serve", help="the licence sharing API for departments (keys, purposes, masking, audit log; OpenAPI at /docs)"
    )
    add_serve_arguments(serve)
    serve.set_defaults(run=main_serve)

    backfill = commands.add_parser(
        "backfill", help="launch a backfill of the daily assets in the running instance (make dev) and follow it"
    )
    backfill.add_argument("--from", dest="start", type=_day, required=True, help="first day, YYYY-MM-DD")
    backfill.add_argument("--to", dest="end", type=_day, required=True, help="last day, YYYY-MM-DD")
    backfill.add_argument("--source", help="one department system or platform feed: its pull and everything downstream")
    backfill.add_argument(
        "--url",
        default=os.environ.get("DAGSTER_WEBSERVER_URL", "http://127.0.0.1:3000"),
        help="the instance's webserver (default DAGSTER_WEBSERVER_URL, else http://127.0.0.1:3000)",
    )
    backfill.add_argument("--every", type=float, default=5.0, help="seconds between progress reports")
    backfill.add_argument("--timeout", type=float, help="give up following after this many seconds")
    backfill.add_argument("--no-wait", action="store_true", help="launch and return")
    backfill.set_defaults(run=_backfill)

    pools = commands.add_parser(
        "pools", help="set every pool's step limit in the instance (once per deployment, and after adding a source)"
    )
    pools.add_argument("--limit", type=int, default=1, help="steps at a time in each pool (default 1)")
    pools.set_defaults(run=_pools)

    runs = commands.add_parser("runs", help="the instance's runs: end those a stopped daemon or machine left in flight")
    run_actions = runs.add_subparsers(dest="action", required=True)
    run_actions.add_parser(
        "recover",
        help="end every run whose worker is gone (left starting or started) and free the pool slots it held; run it "
        "before the daemon starts (docs/operations.md)",
    ).set_defaults(run=_runs)

    dashboard = commands.add_parser("dashboard", help="build the dashboard from the marts and open it on loopback")
    dashboard.add_argument("--output", help="where to write the page (default dagster_home/dashboard/index.html)")
    dashboard.add_argument("--host", default="127.0.0.1")
    dashboard.add_argument("--port", type=int, default=8701)
    dashboard.add_argument("--no-serve", action="store_true", help="only write the page")
    dashboard.set_defaults(run=_dashboard)

    explain = commands.add_parser(
        "explain", help="a golden case (by golden id or 办件编号): who and what, its records, why they were linked"
    )
    explain.add_argument("golden_case_id", metavar="GOLDEN_ID_OR_办件编号")
    add_allow_empty(explain)
    explain.set_defaults(run=_explain)

    cases = commands.add_parser("cases", help="find golden cases (the ids explain takes)")
    case_actions = cases.add_subparsers(dest="action", required=True)
    cases_find = case_actions.add_parser(
        "find", help="by applicant name (contains), USCC or 身份证号, 办件编号, source record id or golden id"
    )
    cases_find.add_argument("text", help="a name or part of one, an identifier, a 办件编号, SOURCE:ID or a record id")
    cases_find.add_argument("--limit", type=how_many, default=20, help="show at most this many (those changed last)")
    add_allow_empty(cases_find)
    cases_find.set_defaults(run=_cases)

    model = commands.add_parser("model", help="show the resolution model, or train it on --input cases.csv")
    model.add_argument("action", choices=["show", "train"])
    model.add_argument("--input")
    model.set_defaults(run=_model)

    catalogue = commands.add_parser("catalogue", help="the item catalogue (事项实施清单): import the province's export")
    catalogue_actions = catalogue.add_subparsers(dest="action", required=True)
    catalogue_import = catalogue_actions.add_parser(
        "import", help="validate an export (CSV, XLSX, JSON) and write the new version of the table, or nothing"
    )
    catalogue_import.add_argument("file", help="the province's implementation list export")
    catalogue_import.add_argument("--as-of", help="the day the new version applies from (default today)")
    catalogue_import.add_argument("--table", help="the code table to refresh (default schemas/codes/catalogue.csv)")
    catalogue_import.add_argument("--dry-run", action="store_true", help="check and show the changes, write nothing")
    catalogue_import.set_defaults(run=_catalogue)

    warehouse = commands.add_parser(
        "warehouse", help="least privilege on a PostgreSQL warehouse: the dashboards' and the sharing API's roles"
    )
    roles = warehouse.add_subparsers(dest="action", required=True)
    for action, kind, what in (
        ("grant-dashboard-role", "dashboard", "the dashboards' read-only role: SELECT on the marts, nothing else"),
        ("grant-api-role", "api", "the sharing API's account: reads licences, writes only the access log"),
    ):
        role = roles.add_parser(action, help=f"create or update {what} (docs/operations.md)")
        role.add_argument("--role", required=True, help="the role's name (created if missing, else brought back)")
        role.add_argument("--password-env", help="a LOGIN role, its password in this variable (default: NOLOGIN)")
        role.add_argument("--owner", help="the account owning the warehouse tables (default: the one connected)")
        role.add_argument("--print-sql", action="store_true", help="print the SQL (a psql script), run nothing")
        role.set_defaults(run=_grant_role, kind=kind)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except BrokenPipeError:  # the output went to a reader that stopped early (`| head`): not an error
        sys.stderr.close()
        return 0
    except Refused as refusal:
        print(f"{PROGRAM} {args.command}: {refusal}", file=sys.stderr)
        return refusal.code
    except settings.ConfigurationError as exc:
        print(f"{PROGRAM} {args.command}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # what an operator's setting causes, in one line; anything else is a bug: traceback
        line = operator_error(exc)
        if line is None:
            raise
        print(f"{PROGRAM} {args.command}: {line}", file=sys.stderr)
        return 1


def operator_error(exc: BaseException) -> str | None:
    """One line for an error an operator's setting or machine causes (a database that refuses the login or does
    not answer, a file that cannot be read or written, a server that does not answer); None for anything else."""
    import sqlalchemy as sa

    if isinstance(exc, sa.exc.SQLAlchemyError):
        lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return f"the database refused: {lines[0] if lines else type(exc).__name__} (check the URL and the account)"
    if isinstance(exc, OSError) and (exc.filename or isinstance(exc, ConnectionError)):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    import httpx

    if isinstance(exc, httpx.TransportError):
        return f"a server does not answer: {type(exc).__name__} {str(exc)[:200]}"
    return None


if __name__ == "__main__":
    sys.exit(main())
