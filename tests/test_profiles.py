"""Profiles: the sandbox profile runs on its own values; production refuses to run on missing or published ones.

The unit tests change environment variables in-process; the integration test copies the product without the
``sandbox/`` folder and loads it in production, as an operator's server would hold it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from dagster import EnvVar

from core import settings
from schemas import licences as licence_rules
from sharing.keys import key_variable

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("core", "schemas", "connectors", "staging", "resolution", "delivery", "licensing", "reporting",
           "pipelines", "cli", "sharing", "dashboard", "dagster_home/dagster.yaml")  # fmt: skip


def production_values() -> dict[str, str]:
    """A value for every variable that no sandbox publishes, as an operator would set them."""
    values = {}
    for variable in settings.variables():
        if (variable.name.endswith("_URL") and "DB" in variable.name) or variable.name == "BRIDGE_WAREHOUSE_URL":
            values[variable.name] = f"postgresql+psycopg2://bridge:pw-{variable.name.lower()}@10.0.0.5:5432/prod"
        elif variable.name.endswith("_BASE_URL"):
            values[variable.name] = f"https://{variable.name.lower().replace('_', '-')}.example.gov.cn"
        elif variable.name.endswith("_DIR"):
            values[variable.name] = f"/srv/drops/{variable.name.lower()}"
        else:
            values[variable.name] = f"prod-{variable.name.lower()}-7f3a9c2e41d8b605"
    for caller in licence_rules.sharing_clients()["caller"]:  # the sharing API's keys, one per caller
        values[key_variable(caller)] = f"prod-{caller}-api-key-7f3a9c2e41d8b605-{len(caller):02d}"
    return values


@pytest.fixture
def clean_env(monkeypatch):
    for variable in settings.variables():
        monkeypatch.delenv(variable.name, raising=False)
    monkeypatch.delenv(settings.PROFILE_VARIABLE, raising=False)
    return monkeypatch


@pytest.mark.unit
def test_sandbox_is_the_default_and_an_unknown_profile_is_refused(clean_env):
    assert settings.profile() == "sandbox"
    clean_env.setenv("BRIDGE_PROFILE", "prod")
    with pytest.raises(settings.ConfigurationError, match="BRIDGE_PROFILE='prod': use one of sandbox, production"):
        settings.profile()


@pytest.mark.unit
def test_sandbox_profile_fills_in_its_own_values(clean_env):
    rows = {row["variable"]: row for row in settings.resolved()}
    assert settings.check() == []
    assert rows["BRIDGE_WAREHOUSE_URL"]["source"] == "sandbox profile"
    assert rows["BRIDGE_WAREHOUSE_URL"]["value"].endswith("warehouse.sqlite")
    assert rows["MUNICIPAL_APP_SECRET"]["value"].startswith("(secret")  # shown never, even the sandbox's


@pytest.mark.unit
def test_production_names_every_missing_variable(clean_env):
    clean_env.setenv("BRIDGE_PROFILE", "production")
    problems = settings.check()
    assert {p.variable.name for p in problems} == {v.name for v in settings.variables()}
    assert all(p.reason == "missing" for p in problems)
    # every department declaration contributes its own variables
    assert {"HOUSING_DB_URL", "HEALTH_DROP_DIR", "MARKET_REGULATION_APP_SECRET"} <= {p.variable.name for p in problems}
    with pytest.raises(settings.ConfigurationError) as refused:
        settings.require_ready()
    assert "HOUSING_DB_URL: missing" in str(refused.value)


@pytest.mark.unit
def test_production_refuses_a_published_sandbox_secret_by_name(clean_env):
    clean_env.setenv("BRIDGE_PROFILE", "production")
    for name, value in production_values().items():
        clean_env.setenv(name, value)
    assert settings.check() == []
    clean_env.setenv("SUPERVISION_APP_SECRET", "sandbox-secret-supervision")
    clean_env.setenv("APPROVAL_PLATFORM_BASE_URL", "http://127.0.0.1:18102")
    clean_env.setenv("HEALTH_DROP_DIR", "   ")
    found = {p.variable.name: p.reason for p in settings.check()}
    assert found == {
        "SUPERVISION_APP_SECRET": "holds a value the sandbox publishes: set the production one",
        "APPROVAL_PLATFORM_BASE_URL": "holds a value the sandbox publishes: set the production one",
        "HEALTH_DROP_DIR": "set but empty",
    }


@pytest.mark.unit
@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("APPROVAL_PLATFORM_BASE_URL", "http://localhost:18102", "holds a value the sandbox publishes"),
        ("APPROVAL_PLATFORM_BASE_URL", "http://127.0.0.1:18102/", "holds a value the sandbox publishes"),
        ("APPROVAL_PLATFORM_BASE_URL", "HTTP://127.0.0.1:18102//", "holds a value the sandbox publishes"),
        ("MUNICIPAL_BASE_URL", "https://localhost:8443/api", "points at this machine (loopback)"),
        ("MUNICIPAL_BASE_URL", "http://127.0.0.2:9000", "points at this machine (loopback)"),
        ("HEALTH_DROP_DIR", "{sandbox}/health_drop/", "holds a value the sandbox publishes"),
        ("HEALTH_DROP_DIR", "{sandbox}/./health_drop", "holds a value the sandbox publishes"),
        ("SUPERVISION_APP_SECRET", " sandbox-secret-supervision ", "holds a value the sandbox publishes"),
        ("SUPERVISION_APP_SECRET", "{municipal_secret}", "the same signing secret as MUNICIPAL_APP_SECRET"),
    ],
)
def test_the_production_guard_compares_normalised_values(clean_env, name, value, reason):
    clean_env.setenv("BRIDGE_PROFILE", "production")
    values = production_values()
    for variable, given in values.items():
        clean_env.setenv(variable, given)
    value = value.format(sandbox=settings.sandbox_dir(), municipal_secret=values["MUNICIPAL_APP_SECRET"])
    clean_env.setenv(name, value)
    found = {p.variable.name: p.reason for p in settings.check()}
    assert list(found) == [name] and found[name].startswith(reason), found


@pytest.mark.unit
def test_plain_http_to_a_receiver_is_a_warning_in_production(clean_env, capsys):
    from cli.main import main

    clean_env.setenv("BRIDGE_PROFILE", "production")
    for variable, given in production_values().items():
        clean_env.setenv(variable, given)
    assert settings.warnings() == []
    clean_env.setenv("SUPERVISION_BASE_URL", "http://supervision.example.gov.cn/intake")
    assert [w.split(":")[0] for w in settings.warnings()] == ["SUPERVISION_BASE_URL"]
    assert main(["config", "check"]) == 0  # a warning, not a refusal
    assert "warning: SUPERVISION_BASE_URL: plain HTTP to a receiver" in capsys.readouterr().err


@pytest.mark.unit
def test_production_resources_take_every_value_from_the_environment(clean_env):
    from pipelines.resources import build_resources

    clean_env.setenv("BRIDGE_PROFILE", "production")
    with pytest.raises(settings.ConfigurationError, match="BRIDGE_WAREHOUSE_URL: missing"):
        build_resources()
    for name, value in production_values().items():
        clean_env.setenv(name, value)
    resources = build_resources()
    assert isinstance(resources["warehouse"].url, EnvVar)
    assert isinstance(resources["municipal"].app_secret, EnvVar)
    assert isinstance(resources["housing"].endpoint, EnvVar)
    assert resources["market_regulation_licences"].feed == "licences"


@pytest.mark.unit
def test_config_check_command(clean_env, capsys):
    from cli.main import main

    assert main(["config", "check"]) == 0
    assert "profile: sandbox" in capsys.readouterr().out
    clean_env.setenv("BRIDGE_PROFILE", "production")
    for name, value in production_values().items():
        clean_env.setenv(name, value)
    clean_env.setenv("MARKET_REGULATION_APP_SECRET", "sandbox-secret-market-regulation")
    assert main(["config", "check"]) == 1
    out, err = capsys.readouterr()
    assert "MARKET_REGULATION_APP_SECRET: holds a value the sandbox publishes" in err
    assert "sandbox-secret" not in out + err.replace("MARKET_REGULATION_APP_SECRET: holds a value the sandbox", "")
    assert "pw-bridge_warehouse_url" not in out  # a URL's password is never printed
    clean_env.setenv("MARKET_REGULATION_APP_SECRET", "a-real-one-0d9f8e7a6b5c4d3e")
    assert main(["config", "check"]) == 0
    out = capsys.readouterr().out
    assert "configuration ready" in out and "national (BRIDGE_PROVINCE_PROFILE)" in out
    assert "current (ONE_NETWORK_DDL_VERSION)" in out
    # the formats are files: an unknown one stops the check in one line naming what there is
    clean_env.setenv("BRIDGE_PROVINCE_PROFILE", "jiangsu-2019")
    assert main(["config", "check"]) == 2
    assert capsys.readouterr().err.strip().endswith("(profiles: national)")
    clean_env.setenv("BRIDGE_PROVINCE_PROFILE", "national")
    clean_env.setenv("ONE_NETWORK_DDL_VERSION", "2019")  # the published versions only
    assert main(["config", "check"]) == 2
    assert "knows the DDL versions current, 2020" in capsys.readouterr().err
    clean_env.setenv("ONE_NETWORK_DDL_VERSION", "2020")
    clean_env.setenv("MUNICIPAL_MAP", "changzhou-v2")
    assert main(["config", "check"]) == 2
    assert "no field map 'changzhou-v2'" in capsys.readouterr().err


@pytest.mark.unit
@pytest.mark.parametrize("command", ["demo", "serve", "dev"])
def test_sandbox_commands_refuse_production(clean_env, capsys, command):
    from sandbox.__main__ import main

    clean_env.setenv("BRIDGE_PROFILE", "production")
    assert main([command]) == 2
    assert "only in the sandbox profile" in capsys.readouterr().err
    clean_env.setenv("BRIDGE_PROFILE", "sandbox")
    clean_env.setenv("BRIDGE_WAREHOUSE_URL", "postgresql+psycopg2://bridge@10.0.0.5/prod")
    assert main([command]) == 2
    assert "production variables are set: BRIDGE_WAREHOUSE_URL" in capsys.readouterr().err


@pytest.mark.unit
def test_the_sandbox_never_drops_tables_it_did_not_create(tmp_path):
    from sandbox.demo import reset_warehouse
    from sandbox.ownership import NotOurs, claim

    theirs = sa.create_engine(f"sqlite:///{tmp_path / 'theirs.sqlite'}")
    with theirs.begin() as conn:
        conn.execute(sa.text("CREATE TABLE licence_access_log (id INTEGER)"))
    with pytest.raises(NotOurs, match=r"1 table.* the sandbox did not create \(licence_access_log\)"):
        reset_warehouse(theirs, "the demo's warehouse")
    assert sa.inspect(theirs).get_table_names() == ["licence_access_log"]  # untouched
    ours = sa.create_engine(f"sqlite:///{tmp_path / 'ours.sqlite'}")
    reset_warehouse(ours, "the demo's warehouse")
    reset_warehouse(ours, "the demo's warehouse")  # its own: reset again freely
    claim(ours, "again")
    assert "golden_cases" in sa.inspect(ours).get_table_names()


@pytest.mark.integration
def test_the_product_loads_in_production_without_the_sandbox(tmp_path):
    """The product as installed on a server: no sandbox/, tests/ or benchmarks/. Production names what is
    missing; with every variable set, the definitions load and validate."""
    for part in PRODUCT:
        source, target = ROOT / part, tmp_path / part
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target)
    assert not (tmp_path / "sandbox").exists()
    script = (
        "import sys\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import importlib.util\n"
        "assert importlib.util.find_spec('sandbox') is None, 'the sandbox is importable'\n"
        "from cli.main import main\n"
        "code = main(['config', 'check'])\n"
        "if code == 0:\n"
        "    import pipelines.definitions as d\n"
        "    d.Definitions.validate_loadable(d.defs)\n"
        "    assert 'sandbox' not in sys.modules and not any(m.startswith('sandbox.') for m in sys.modules)\n"
        "    print('definitions valid')\n"
        "sys.exit(code)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in {v.name for v in settings.variables()}}
    env.update(BRIDGE_PROFILE="production", DAGSTER_HOME=str(tmp_path / "dagster_home"), PYTHONPATH="")
    run = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr
    for variable in settings.variables():
        assert f"{variable.name}: missing" in run.stderr
    assert "Traceback" not in run.stderr
    run = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=tmp_path,
                         env={**env, **production_values()}, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "configuration ready" in run.stdout and "definitions valid" in run.stdout
