"""Start the stand-in systems on loopback: REST departments, the housing database, the health file drop,
the one network's front-end database with its exchange process, and the municipal intake.
"""

from __future__ import annotations

import csv
import errno
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
import uvicorn

from sandbox import faults as fault_kit
from sandbox.apps import SUPERVISION, MunicipalState, department_app, municipal_app
from sandbox.generator import Dataset, GeneratorConfig, generate
from sandbox.numbering import numbering_app
from sandbox.one_network import ExchangeProcessor
from sandbox.ownership import claim, reset
from sandbox.projects import write_spgl_database
from sandbox.province.fixture import ddl_version, front_end_metadata

# Credentials the stand-ins accept; production gets real ones through environment variables.
CREDENTIALS = {
    "market_regulation": ("wj-bridge-scjg", "sandbox-secret-market-regulation"),
    "approval_platform": ("wj-bridge-spj", "sandbox-secret-approval-platform"),
    "municipal": ("wj-bridge-czs", "sandbox-secret-municipal"),
    "supervision": ("wj-bridge-sghd", "sandbox-secret-supervision"),
    "evaluations": ("wj-bridge-hcp", "sandbox-secret-evaluations"),  # the 好差评 feed, on the platform's host
    # the 审管互动 platform's findings, on the supervision host
    "supervision_findings": ("wj-bridge-jgfk", "sandbox-secret-supervision-findings"),
    "case_no_service": ("wj-bridge-bjbh", "sandbox-secret-case_no_service"),  # the province's numbering service
}
DEFAULT_PORTS = {"market_regulation": 18101, "approval_platform": 18102, "municipal": 18103, "supervision": 18104,
                 "numbering": 18105}  # fmt: skip
HOUSING_TABLE = "t_sgxk_bj"


@dataclass
class SandboxSettings:
    root: Path
    start: date
    days: int = 7
    cases_per_day: int = 60
    fault_level: str = "mild"
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))  # 0 = any free port
    housing_url: str | None = None  # default: SQLite file under root
    exchange_url: str | None = None  # default: SQLite file under root
    seed: int = 20170915
    resume: bool = False  # keep what the receivers already hold (for the UI after a demo)
    late_report_rate: float = 0.03  # market-regulation records reported days late (sandbox.generator)


def environment_for(endpoints: dict[str, str]) -> dict[str, str]:
    """Environment variables that point the pipeline's resources at the stand-ins serving ``endpoints`` (as
    :meth:`Sandbox.endpoints` gives them, and endpoints.json holds them)."""
    env = {
        "MARKET_REGULATION_BASE_URL": endpoints["market_regulation"],
        "APPROVAL_PLATFORM_BASE_URL": endpoints["approval_platform"],
        "EVALUATIONS_BASE_URL": endpoints["approval_platform"],
        "MUNICIPAL_BASE_URL": endpoints["municipal"],
        "SUPERVISION_BASE_URL": endpoints["supervision"],
        "SUPERVISION_FINDINGS_BASE_URL": endpoints["supervision"],
        "HOUSING_DB_URL": endpoints["housing_db"],
        "HEALTH_DROP_DIR": endpoints["health_drop"],
        "ENTERPRISE_STARTUP_DROP_DIR": endpoints.get(
            "startup_drop", str(Path(endpoints["health_drop"]).parent / "startup_drop")
        ),
        "HOTLINE_DROP_DIR": endpoints.get("hotline_drop", str(Path(endpoints["health_drop"]).parent / "hotline_drop")),
        "ONE_NETWORK_DB_URL": endpoints["one_network_db"],
        "CASE_NO_SERVICE_BASE_URL": endpoints.get("numbering", "http://127.0.0.1:18105"),
        **dict.fromkeys(
            ("SPGL_PROJECTS_DB_URL", "SPGL_ITEMS_DB_URL", "SPGL_STAGES_DB_URL"),
            endpoints.get("spgl_db", f"sqlite:///{Path(endpoints['health_drop']).parent / 'spgl.sqlite'}"),
        ),
    }
    for name, (key, secret) in CREDENTIALS.items():
        env[f"{name.upper()}_APP_KEY"], env[f"{name.upper()}_APP_SECRET"] = key, secret
    return env


class PortInUse(RuntimeError):
    """A stand-in's fixed port is taken: another sandbox, demo or `make dev` is running."""


class _ServerThread:
    def __init__(self, app, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind(("127.0.0.1", port))
        except OSError as exc:
            self.sock.close()
            if exc.errno != errno.EADDRINUSE:
                raise
            raise PortInUse(
                f"port {port} on 127.0.0.1 is in use: another sandbox, demo or `make dev` is running; stop it "
                "(or start the stand-ins with `python -m sandbox serve --free-ports`)"
            ) from None
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.time() + 10
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError(f"sandbox server on port {self.port} did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread.ident is not None:  # started (a stop signal may come between bind and start)
            self.thread.join(timeout=5)
        self.sock.close()


class Sandbox:
    """The stand-ins, seeded from one :class:`GeneratorConfig`. Use as a context manager or start/stop."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.root = settings.root
        self.data: Dataset = generate(
            GeneratorConfig(
                start=settings.start,
                days=settings.days,
                cases_per_day=settings.cases_per_day,
                seed=settings.seed,
                late_report_rate=settings.late_report_rate,
            )
        )
        self.housing_url = settings.housing_url or f"sqlite:///{self.root / 'housing.sqlite'}"
        self.exchange_url = settings.exchange_url or f"sqlite:///{self.root / 'one_network.sqlite'}"
        self.health_dir = self.root / "health_drop"
        self.hotline_dir = self.root / "hotline_drop"
        self.startup_dir = self.root / "startup_drop"
        self.faults = {name: fault_kit.profile(settings.fault_level) for name in (*DEFAULT_PORTS, "one_network")}
        self.root.mkdir(parents=True, exist_ok=True)
        self.municipal = MunicipalState(
            self.root / "municipal.sqlite", self.faults["municipal"], seed=settings.seed, resume=settings.resume
        )
        self.supervision = MunicipalState(
            self.root / "supervision.sqlite",
            self.faults["supervision"],
            seed=settings.seed + 3,
            resume=settings.resume,
            kind=SUPERVISION,
        )
        self.exchange: ExchangeProcessor | None = None
        self.servers: dict[str, _ServerThread] = {}

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Sandbox:
        self._write_housing_database()
        write_spgl_database(f"sqlite:///{self.root / 'spgl.sqlite'}", self.data)
        self._write_health_drops()
        self._write_hotline_drops()
        self._write_startup_drops()
        self._write_truth()
        if not self.settings.resume:
            self._reset_exchange_database()
        self.exchange = ExchangeProcessor(self.exchange_url, self.faults["one_network"], seed=self.settings.seed)
        self.exchange.start()
        apps = {
            "market_regulation": department_app(
                "market_regulation",
                self.data.market_regulation,
                style="page",
                app_key=CREDENTIALS["market_regulation"][0],
                app_secret=CREDENTIALS["market_regulation"][1],
                changed_field="GXSJ",
                faults=self.faults["market_regulation"],
                seed=self.settings.seed,
                licences=self.data.licence_feed,
            ),
            "approval_platform": department_app(
                "approval_platform",
                self.data.approval_platform,
                style="cursor",
                app_key=CREDENTIALS["approval_platform"][0],
                app_secret=CREDENTIALS["approval_platform"][1],
                changed_field="updateTime",
                faults=self.faults["approval_platform"],
                seed=self.settings.seed + 1,
                evaluations=(self.data.evaluations, *CREDENTIALS["evaluations"]),
            ),
            "municipal": municipal_app(
                self.municipal,
                app_key=CREDENTIALS["municipal"][0],
                app_secret=CREDENTIALS["municipal"][1],
                seed=self.settings.seed + 2,
            ),
            "supervision": municipal_app(
                self.supervision,
                app_key=CREDENTIALS["supervision"][0],
                app_secret=CREDENTIALS["supervision"][1],
                seed=self.settings.seed + 3,
                findings=(self.data.findings, *CREDENTIALS["supervision_findings"]),
            ),
            "numbering": numbering_app(
                app_key=CREDENTIALS["case_no_service"][0],
                app_secret=CREDENTIALS["case_no_service"][1],
                faults=self.faults["numbering"],
                seed=self.settings.seed + 5,
            ),
        }
        for name, app in apps.items():
            self.servers[name] = _ServerThread(app, self.settings.ports.get(name, 0))
            self.servers[name].start()
        (self.root / "endpoints.json").write_text(json.dumps(self.endpoints(), indent=2, ensure_ascii=False))
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        if self.exchange:
            self.exchange.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.servers[name].port}"

    def endpoints(self) -> dict[str, str]:
        return {
            "market_regulation": self.url("market_regulation"),
            "approval_platform": self.url("approval_platform"),
            "municipal": self.url("municipal"),
            "supervision": self.url("supervision"),
            "numbering": self.url("numbering"),
            "housing_db": self.housing_url,
            "spgl_db": f"sqlite:///{self.root / 'spgl.sqlite'}",
            "health_drop": str(self.health_dir),
            "hotline_drop": str(self.hotline_dir),
            "startup_drop": str(self.startup_dir),
            "one_network_db": self.exchange_url,
        }

    def environment(self) -> dict[str, str]:
        """Environment variables that point the pipeline's resources at this sandbox."""
        return environment_for(self.endpoints())

    def faults_served(self) -> dict[str, dict[str, int]]:
        """What misbehaviour the receivers actually showed (requests refused, answers lost, outages)."""
        import httpx

        municipal = httpx.get(self.url("municipal") + "/_sandbox/served", timeout=5).json()
        exchange = {"rows_processed": self.exchange.processed, "outages": int(self.exchange.paused_until > 0)}
        return {"municipal": municipal, "one_network": exchange}

    def truth(self) -> pd.DataFrame:
        return pd.DataFrame(self.data.truth, columns=["source_system", "source_record_id", "true_case_id"])

    # ------------------------------------------------------------------ the department systems' storage
    def _write_housing_database(self) -> None:
        engine = sa.create_engine(self.housing_url)
        meta = sa.MetaData()
        text = sa.String(256)
        table = sa.Table(
            HOUSING_TABLE,
            meta,
            sa.Column("ywh", sa.String(32), primary_key=True, comment="业务号"),
            *(sa.Column(c, text) for c in ("sxbm", "sxmc", "jsdw", "tyshxydm", "lxr", "lxdh", "xmdz")),
            *(sa.Column(c, sa.DateTime) for c in ("sqrq", "slrq", "jdrq", "bjrq")),
            sa.Column("zt", sa.String(16)),
            sa.Column("sbfs", sa.String(16), comment="申报方式 (NULL in rows older than the column)"),
            sa.Column("lqfs", sa.String(16), comment="领取方式"),
            sa.Column("slck", sa.String(32), comment="受理窗口"),
            sa.Column("spcx", sa.String(16), comment="审批程序"),
            sa.Column("xmdm", sa.String(32), comment="投资项目代码 (施工许可; NULL in other rows)"),
            sa.Column("slr", sa.String(32), comment="受理人"),
            sa.Column(
                "sqcl", sa.Text, comment="申请材料 (JSON: mc 材料名称, sqfs 收取方式, fs 份数; NULL in older rows)"
            ),
            sa.Column("gxsj", sa.DateTime, index=True, comment="更新时间"),
            comment="施工许可/预售许可办件",
            mysql_charset="utf8mb4",
        )
        claim(engine, "the housing stand-in's database")
        with engine.begin() as conn:
            meta.drop_all(conn)
            meta.create_all(conn)
            if self.data.housing:  # an empty list would insert one row of defaults
                conn.execute(
                    table.insert(), [{"xmdm": None, "slr": None, "sqcl": None, **row} for row in self.data.housing]
                )
        engine.dispose()

    def _write_health_drops(self) -> None:
        self.health_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.health_dir.iterdir():
            stale.unlink()
        frame = pd.DataFrame(self.data.health, columns=["_file"] if not self.data.health else None)
        for name, rows in frame.groupby("_file"):
            rows = rows.drop(columns="_file")
            if name.endswith(".xlsx"):
                rows.to_excel(self.health_dir / name, index=False, engine="openpyxl")
            else:
                rows.to_csv(self.health_dir / name, index=False, encoding="gbk", lineterminator="\r\n")
        for name, content in self.data.undecodable_files.items():
            (self.health_dir / name).write_bytes(content)

    def _write_hotline_drops(self) -> None:
        """常州12345's daily exports: GBK CSV or .xlsx per day, and one unreadable re-sent file."""
        self.hotline_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.hotline_dir.iterdir():
            stale.unlink()
        if self.data.hotline:
            for name, rows in pd.DataFrame(self.data.hotline).groupby("_file"):
                rows = rows.drop(columns="_file")
                if name.endswith(".xlsx"):
                    rows.to_excel(self.hotline_dir / name, index=False, engine="openpyxl")
                else:
                    rows.to_csv(self.hotline_dir / name, index=False, encoding="gbk", lineterminator="\r\n")
        for name, content in self.data.hotline_unreadable.items():
            (self.hotline_dir / name).write_bytes(content)

    def _write_startup_drops(self) -> None:
        """The 企业开办 platform's daily exports (UTF-8 CSV) of its seal, invoice and social-security cases."""
        self.startup_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.startup_dir.iterdir():
            stale.unlink()
        if self.data.enterprise_startup:
            for name, rows in pd.DataFrame(self.data.enterprise_startup).groupby("_file"):
                rows.drop(columns="_file").to_csv(self.startup_dir / name, index=False, encoding="utf-8")

    def _write_truth(self) -> None:
        with open(self.root / "truth.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["source_system", "source_record_id", "true_case_id"])
            writer.writerows(self.data.truth)

    def _reset_exchange_database(self) -> None:
        engine = sa.create_engine(self.exchange_url)
        try:
            reset(engine, front_end_metadata(ddl_version()), "the one network stand-in's front-end database")
        finally:
            engine.dispose()
