"""Every format file says where it comes from (core/formats.py): the collector finds each one, docs/formats.md
lists exactly them, a file naming neither a source nor an assumption is refused in one line, and `config check`
warns once per assumed item in production without changing its exit status."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from cli.main import main
from connectors.municipal import MapError, document_map
from core import formats, provenance, settings
from resolution.numbering import LEVEL_COUNTY
from schemas import codelists
from tests.test_codelists import read_contract
from tests.test_profiles import production_values

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[1]
#: The folders whose files are formats, and the indexes that are not formats themselves.
FORMAT_GLOBS = ("core/departments/*.yaml", "core/feeds/*.yaml", "connectors/profiles/*.yaml",
                "connectors/maps/*.yaml", "schemas/codes/**/*.csv")  # fmt: skip
INDEXES = {"schemas/codes/lists/lists.csv", "schemas/codes/tables.csv"}


@pytest.fixture
def clean_env(monkeypatch):
    for variable in settings.variables():
        monkeypatch.delenv(variable.name, raising=False)
    for name in (settings.PROFILE_VARIABLE, "BRIDGE_PROVINCE_PROFILE", "MUNICIPAL_MAP"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _production(env) -> None:
    env.setenv("BRIDGE_PROFILE", "production")
    for name, value in production_values().items():
        env.setenv(name, value)


def test_every_file_in_the_format_folders_is_collected_and_says_where_it_comes_from():
    on_disk = {str(p.relative_to(ROOT)) for pattern in FORMAT_GLOBS for p in ROOT.glob(pattern)} - INDEXES
    collected = formats.collect()
    paths = {f.path for f in collected}
    assert on_disk <= paths, f"not collected: {sorted(on_disk - paths)}"
    assert {"schemas/calendar/*.csv", "core/feeds/evaluations.yaml", "connectors/maps/municipal.yaml"} <= paths
    for f in collected:
        assert f.problem or (bool(f.source) != bool(f.assumed)), f.path
        assert f.kind in formats.KINDS and f.used_by
    # the files this branch owns name theirs; a province profile without one is reported, never silently sourced
    owned = [f for f in collected if f.kind != formats.PROVINCE_PROFILE]
    assert [f.path for f in owned if f.problem] == []
    assert all(f.problem is None or "treat it as assumed" in f.problem for f in collected)


def test_docs_formats_lists_exactly_the_format_files():
    page = (ROOT / "docs" / "formats.md").read_text(encoding="utf-8")
    collected = formats.collect()
    stale = "docs/formats.md is out of date: python -m core.formats --write"
    assert formats.document_with(page, collected) == page, stale
    tables = page.split(formats.BEGIN, 1)[1].split(formats.END, 1)[0]
    named = set(re.findall(r"^\| [^|]+ \| `([^`]+)` \|", tables, re.M))
    assert named == {f.path for f in collected}
    for path in named:  # and none of them is a file that is not there
        assert list(ROOT.glob(path)), f"docs/formats.md names {path}, which does not exist"
    for path in re.findall(r"`((?:core|connectors|schemas|contracts)/[^`*]+\.(?:yaml|csv))`", page):
        assert (ROOT / path).is_file(), path


def test_the_page_check_fails_when_a_file_is_added_or_the_page_names_one_that_is_gone():
    page = (ROOT / "docs" / "formats.md").read_text(encoding="utf-8")
    collected = formats.collect()
    extra = formats.Format(formats.CODE_TABLE, "schemas/codes/new.csv", "new", "x", "a source", None)
    assert formats.document_with(page, [*collected, extra]) != page
    assert formats.document_with(page, collected[1:]) != page
    assert formats.main([]) == 0


def test_the_code_tables_and_lists_are_all_indexed():
    tables = {p for p in (ROOT / "schemas" / "codes").rglob("*.csv") if "lists" not in p.parts}
    indexed = {str(p) for f in formats.collect() if f.kind == formats.CODE_TABLE for p in ROOT.glob(f.path)}
    assert {str(p) for p in tables} - {str(ROOT / i) for i in INDEXES} <= indexed
    lists = {p.stem for p in (ROOT / "schemas" / "codes" / "lists").glob("*.csv")} - {"lists"}
    assert lists == set(codelists.list_names())


def test_a_code_lists_source_cell_splits_into_source_and_assumed_part():
    assert provenance.split("GB/T 39046 A.5 9 其他; assumed: confirm with the province") == (
        "GB/T 39046 A.5 9 其他",
        "confirm with the province",
    )
    assert provenance.split("assumed: sandbox codes") == (None, "sandbox codes")
    assert provenance.split("DONERESULT 1") == ("DONERESULT 1", None)
    assert provenance.split("  ") == (None, None) and provenance.split(None) == (None, None)


def test_a_field_map_naming_neither_or_both_is_refused_in_one_line_naming_the_file(tmp_path):
    shipped = yaml.safe_load((ROOT / "connectors" / "maps" / "municipal.yaml").read_text(encoding="utf-8"))
    del shipped["assumed"]
    (tmp_path / "city.yaml").write_text(yaml.safe_dump({**shipped, "name": "city"}, allow_unicode=True))
    with pytest.raises(MapError) as refused:
        document_map("city", tmp_path)
    assert "city.yaml" in str(refused.value) and "neither source nor assumed" in str(refused.value)
    assert "\n" not in str(refused.value)
    both = {**shipped, "name": "city2", "source": "GB/T 39046", "assumed": "keys are ours"}
    (tmp_path / "city2.yaml").write_text(yaml.safe_dump(both, allow_unicode=True))
    with pytest.raises(MapError, match=r"city2\.yaml: .*both source and assumed"):
        document_map("city2", tmp_path)


def test_profiles_are_read_through_their_own_assumptions_when_they_have_them(tmp_path, monkeypatch):
    """Before the profile model knows source/assumed, its YAML keys are read; after, its assumptions() too."""
    column = {"value": "132", "assumed": "132: confirm with 省政务办"}
    profile = {
        "name": "jiangsu",
        "title": "江苏",
        "source": "GB/T 39046; national DDL (store id 35927674781)",
        "tables": {"up_pro_accept": {"columns": {"data_source": column}}},
    }
    (tmp_path / "jiangsu.yaml").write_text(yaml.safe_dump(profile, allow_unicode=True), encoding="utf-8")
    (tmp_path / "older.yaml").write_text("name: older\ntitle: no provenance yet\n", encoding="utf-8")
    monkeypatch.setattr(formats, "PROFILES_DIR", tmp_path)

    class Loaded:  # a profile model with an assumptions() method, as the profile branch exposes it
        def assumptions(self):
            return {"sync.source_value": "data_source 132: confirm with 省政务办", "tables.up_pro_material": "x"}

    found = {f.path.split("/")[-1]: f for f in formats.collect(profile_assumptions=lambda name: Loaded().assumptions)
             if f.kind == formats.PROVINCE_PROFILE}  # fmt: skip
    jiangsu = found["jiangsu.yaml"]
    assert jiangsu.source.startswith("GB/T 39046") and jiangsu.problem is None
    assert [p.part for p in jiangsu.parts] == [
        "tables.up_pro_accept.columns.data_source",
        "sync.source_value",
        "tables.up_pro_material",
    ]
    assert "treat it as assumed" in found["older.yaml"].problem
    only = formats.collect(chosen={formats.PROVINCE_PROFILE: "jiangsu"})
    assert [f.path.split("/")[-1] for f in only if f.kind == formats.PROVINCE_PROFILE] == ["jiangsu.yaml"]
    assert formats._hooked(["a", ("part", "b")]) == [("", "a"), ("part", "b")]


def test_config_check_in_production_warns_once_per_assumed_item_and_keeps_its_exit_status(clean_env, capsys):
    assert main(["config", "check"]) == 0
    out, err = capsys.readouterr()
    assert "assumed item(s) to confirm before production" in out and "warning:" not in out + err
    _production(clean_env)
    assert main(["config", "check"]) == 0  # assumed formats are warnings, not a stop
    out, err = capsys.readouterr()
    assert "configuration ready" in out and "Traceback" not in err
    warnings = [line.strip()[len("warning: ") :] for line in err.splitlines() if line.strip().startswith("warning:")]
    expected = formats.warnings(
        formats.collect({formats.PROVINCE_PROFILE: "national", formats.MUNICIPAL_MAP: "municipal"})
    )
    assert warnings == expected and len(warnings) == len(set(warnings))
    assert f"{len(warnings)} format item(s) are assumed" in err
    by_file = [w.split(" (", 1)[0] for w in warnings]
    for assumed in ("core/departments/health.yaml", "core/feeds/hotline.yaml", "connectors/maps/municipal.yaml",
                    "schemas/codes/lists/process_action.csv", "schemas/codes/receiver_errors.csv"):  # fmt: skip
        assert by_file.count(assumed) == 1, assumed  # a file assumed as a whole: once
    assert "schemas/codes/lists/case_type.csv" not in by_file  # GB/T 39046 A.6: nothing to warn about
    # the assumed parts of a sourced file, one line each
    assert by_file.count("core/feeds/evaluations.yaml") == 3
    assert any(w.startswith("schemas/codes/lists/channel.csv (code list), self_service: assumed:") for w in warnings)
    assert not any("connectors/profiles/pre.yaml" in w for w in warnings)  # only the profile in force
    # a missing variable still stops it, the warnings besides
    clean_env.delenv("HOUSING_DB_URL")
    assert main(["config", "check"]) == 1
    assert "HOUSING_DB_URL: missing" in capsys.readouterr().err


def test_config_check_refuses_a_declaration_that_says_nothing_of_its_source(clean_env, capsys, tmp_path):
    from core.feeds import DIRS_VARIABLE

    shipped = (ROOT / "core" / "feeds" / "hotline.yaml").read_text(encoding="utf-8")
    text = re.sub(r"^assumed: >-\n(  .*\n)+", "", shipped, flags=re.M).replace("name: hotline", "name: hotline2")
    text = text.replace("HOTLINE_DROP_DIR", "HOTLINE2_DROP_DIR")
    (tmp_path / "hotline2.yaml").write_text(text, encoding="utf-8")
    clean_env.setenv(DIRS_VARIABLE, str(tmp_path))
    assert main(["config", "check"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("configuration: ") and "hotline2.yaml" in err and "neither source nor assumed" in err
    assert "\n" not in err


def test_the_district_level_in_case_numbers_is_gbt_39046_a2s_county_level():
    assert read_contract("gbt39046/a2_exercise_level.csv")[LEVEL_COUNTY] == "县级"
