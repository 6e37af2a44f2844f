"""The item catalogue (事项实施清单): importing the province's export (CSV UTF-8/GBK, XLSX, JSON), validating each
row's 实施编码, keeping versions, the CLI, and deadlines in the catalogue's units."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from cli.main import main
from reporting import deadlines
from reporting.deadlines import case_deadlines
from schemas import catalogue
from schemas.case import items
from schemas.catalogue import CATALOGUE_PATH, SANDBOX_EXPORT, CatalogueError, import_export, versions_for
from schemas.identifiers import uscc_check_char
from schemas.workdays import calendar

pytestmark = pytest.mark.unit

BODY = "11320412MB0143028G"  # market_regulation's (synthetic) USCC in departments.csv
HEADER = ["基本编码", "实施编码", "事项版本", "事项名称", "实施主体编码", "实施主体", "行使层级",
          "承诺办结时限", "承诺办结时限单位", "法定办结时限", "法定办结时限单位", "办件类型", "是否网办",
          "是否支持物流快递"]  # fmt: skip


def _row(code: str, name: str = "企业设立登记", promised: str = "2", unit: str = "1", **over: str) -> dict[str, str]:
    row = dict(zip(HEADER, [code, f"{BODY}4{code}", "1", name, BODY, "武进区市场监督管理局", "4", promised, unit,
                            "15", "1", "2", "1", "0"], strict=True))  # fmt: skip
    row.update(over)
    return row


GOOD = [_row("000102001000"), _row("000102002000", "个体工商户设立登记", "1")]


def _bad_rows() -> list[dict[str, str]]:
    wrong_check = BODY[:17] + ("0" if BODY[17] != "0" else "1")
    return [
        _row("000102001000"),
        _row("000102002000", 实施编码=f"{wrong_check}4000102002000", 实施主体编码=wrong_check),  # row 3
        _row("000102003000", 实施编码=f"{BODY}8000102003000", 行使层级="8"),  # row 4: level 8
        _row("000102004000", 实施编码=f"{BODY}4000102009000"),  # row 5: 基本编码 mismatch
        _row("000102005000", unit=""),  # row 6: missing unit
        _row("000102006000", 办件类型="3"),  # row 7: 联办件 is not a case type here
    ]


def _write(path: Path, rows: list[dict[str, str]], kind: str) -> Path:
    frame = pd.DataFrame(rows, columns=HEADER)
    if kind == "utf8":
        frame.to_csv(path, index=False, encoding="utf-8-sig")
    elif kind == "gbk":
        frame.to_csv(path, index=False, encoding="gbk")
    elif kind == "xlsx":
        frame.to_excel(path, index=False, engine="openpyxl")
    elif kind == "json":
        path.write_text(json.dumps({"data": rows}, ensure_ascii=False), encoding="utf-8")
    return path


SUFFIX = {"utf8": ".csv", "gbk": ".csv", "xlsx": ".xlsx", "json": ".json"}


@pytest.mark.parametrize("kind", list(SUFFIX))
def test_good_export_in_every_format(tmp_path: Path, kind: str):
    export = _write(tmp_path / f"list{SUFFIX[kind]}", GOOD, kind)
    table = tmp_path / "catalogue.csv"
    result, rows = import_export(export, dt.date(2025, 1, 1), table)
    assert result.added == ["000102001000", "000102002000"]
    stored = pd.read_csv(table, dtype=str, keep_default_na=False)
    first = stored.iloc[0]
    assert first["task_code"] == f"{BODY}4000102001000" and first["use_level"] == "4"
    assert (first["promised_unit"], first["statutory_unit"], first["case_type"]) == ("workday", "workday", "promised")
    assert (first["online"], first["express"], first["valid_from"], first["valid_to"]) == ("1", "0", "2025-01-01", "")
    assert rows["item_name"].tolist() == ["企业设立登记", "个体工商户设立登记"]


@pytest.mark.parametrize("kind", list(SUFFIX))
def test_bad_rows_are_each_named_and_nothing_is_written(tmp_path: Path, kind: str):
    table = tmp_path / "catalogue.csv"
    table.write_text("untouched", encoding="utf-8")
    export = _write(tmp_path / f"list{SUFFIX[kind]}", _bad_rows(), kind)
    with pytest.raises(CatalogueError) as refused:
        import_export(export, dt.date(2025, 1, 1), table)
    unit = "record" if kind == "json" else "row"
    first = 2 if kind != "json" else 1
    problems = refused.value.problems
    by_row = {n: [p for p in problems if f", {unit} {n}:" in p] for n in range(first, first + 6)}
    assert by_row[first] == []
    assert any("fails its check digit" in p and f"{BODY[17]} is due" in p for p in by_row[first + 1])
    assert any("行使层级 '8' is not 1–7" in p for p in by_row[first + 2])
    assert any("ends in 000102009000, not in the row's 基本编码 000102004000" in p for p in by_row[first + 3])
    assert any("承诺办结时限单位 is missing" in p for p in by_row[first + 4])
    assert any("办件类型 '3' is not 1 即办件 or 2 承诺件" in p for p in by_row[first + 5])
    assert table.read_text(encoding="utf-8") == "untouched"


def test_a_spreadsheet_that_dropped_leading_zeros_is_told_so(tmp_path: Path):
    export = tmp_path / "list.csv"
    pd.DataFrame([_row("000102001000", 基本编码="102001000")], columns=HEADER).to_csv(export, index=False)
    with pytest.raises(CatalogueError, match="leading zeros"):
        import_export(export, dt.date(2025, 1, 1), tmp_path / "c.csv")
    export.write_text("基本编码,事项名称\n000102001000,x\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"column 实施编码 \(task_code\) is missing"):
        import_export(export, dt.date(2025, 1, 1), tmp_path / "c.csv")


def test_a_refresh_closes_the_changed_row_and_keeps_history(tmp_path: Path):
    table = tmp_path / "catalogue.csv"
    import_export(_write(tmp_path / "v1.csv", GOOD, "utf8"), dt.date(2025, 1, 1), table)
    changed = [_row("000102001000", promised="1", unit="2", 事项版本="2")]  # 个体工商户设立登记 withdrawn
    result, _ = import_export(_write(tmp_path / "v2.csv", changed, "utf8"), dt.date(2026, 3, 1), table)
    assert list(result.changed) == ["000102001000"] and result.withdrawn == ["000102002000"]
    assert any("promised_days 2 → 1" in c for c in result.changed["000102001000"])
    stored = pd.read_csv(table, dtype=str, keep_default_na=False)
    startup = stored[stored["item_code"] == "000102001000"]
    assert startup[["promised_days", "promised_unit", "valid_from", "valid_to"]].values.tolist() == [
        ["2", "workday", "2025-01-01", "2026-02-28"],
        ["1", "natural_day", "2026-03-01", ""],
    ]
    assert stored.loc[stored["item_code"] == "000102002000", "valid_to"].tolist() == ["2026-02-28"]
    catalogue.catalogue_history.cache_clear()
    assert catalogue.catalogue(dt.date(2025, 6, 1), table)["promised_days"].tolist() == [2, 1]
    assert catalogue.catalogue(None, table)["item_code"].tolist() == ["000102001000"]
    per_case = versions_for(
        pd.Series(["000102001000", "000102001000", "000102001000", "999999999999"]),
        pd.Series(pd.to_datetime(["2025-06-01", "2026-03-01", "2020-01-01", "2026-03-01"])),
        table,
    )
    assert per_case["promised_days"].tolist()[:3] == [2, 1, 1]  # before the first version: the current one
    assert pd.isna(per_case["promised_days"].iloc[3])
    again, _ = import_export(_write(tmp_path / "v3.csv", changed, "utf8"), dt.date(2026, 4, 1), table)
    assert again.unchanged == 1 and not again.added and not again.changed
    with pytest.raises(CatalogueError, match="history only grows"):
        import_export(tmp_path / "v3.csv", dt.date(2025, 6, 1), table)


def test_the_shipped_table_is_the_shipped_export_and_items_keeps_its_columns(tmp_path: Path):
    rebuilt = tmp_path / "catalogue.csv"
    import_export(SANDBOX_EXPORT, dt.date(2025, 1, 1), rebuilt)
    assert rebuilt.read_text(encoding="utf-8") == CATALOGUE_PATH.read_text(encoding="utf-8")
    catalogue_items = items()
    wanted = ["item_code", "item_name", "handling_dept", "licence_type_code", "promised_days", "statutory_days",
              "target_2345", "aliases", "action", "task_code", "task_version", "implementing_body_uscc",
              "implementing_body_name", "promised_unit", "statutory_unit", "case_type", "online",
              "express"]  # fmt: skip
    assert set(wanted) <= set(catalogue_items.columns)
    assert (catalogue_items["handling_dept"] != "").all()
    for row in catalogue_items.itertuples():
        body = row.task_code[:18]
        assert row.task_code == body + "4" + row.item_code and uscc_check_char(body[:17]) == body[17]


def test_cli_import_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    table = tmp_path / "catalogue.csv"
    bad = _write(tmp_path / "bad.csv", _bad_rows(), "gbk")
    assert main(["catalogue", "import", str(bad), "--as-of", "2025-01-01", "--table", str(table)]) == 2
    err = capsys.readouterr().err
    assert "bad.csv, row 3:" in err and "nothing written" in err and not table.exists()
    good = _write(tmp_path / "good.csv", GOOD, "gbk")
    assert main(["catalogue", "import", str(good), "--as-of", "2025-01-01", "--table", str(table)]) == 0
    out = capsys.readouterr().out
    assert "added      000102001000 企业设立登记" in out and "2 added, 0 changed, 0 withdrawn" in out
    assert table.exists()


def test_natural_day_limits_count_holidays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    table = tmp_path / "catalogue.csv"
    rows = [_row("000102001000", promised="5", unit="2", 法定办结时限="10", 法定办结时限单位="Z"),
            _row("000102002000", promised="5")]  # fmt: skip
    import_export(_write(tmp_path / "list.csv", rows, "utf8"), dt.date(2025, 1, 1), table)
    catalogue.catalogue_history.cache_clear()
    monkeypatch.setattr(deadlines, "versions_for", lambda codes, days: versions_for(codes, days, table))
    accepted = pd.to_datetime(["2026-09-28 10:00", "2026-09-28 10:00", "2026-09-21 09:00"])
    golden = pd.DataFrame(
        {
            "golden_case_id": ["N", "W", "M"],
            "case_no": ["N", "W", "M"],
            "item_code": ["000102001000", "000102002000", "000102001000"],
            "item_name": "",
            "handling_dept": "market_regulation",
            "source_system": "market_regulation",
            "submitted_at": accepted,
            "accepted_at": accepted,
            "completed_at": pd.to_datetime(["2026-10-08 15:00", "2026-10-08 15:00", None]),
            "status": ["办结", "办结", "审查"],
            "promised_days": [5, 5, 5],
            "statutory_days": [10, 15, 10],
        }
    )
    marts = case_deadlines(golden, calendar(), today=dt.date(2026, 11, 28)).set_index("golden_case_id")
    # Natural days: 28 Sep + 5 = 3 Oct, inside the National Day holiday (1–7 Oct), so the period ends on 8 Oct.
    assert marts.loc["N", "promised_deadline"] == dt.date(2026, 10, 8)
    assert marts.loc["N", "statutory_deadline"] == dt.date(2026, 10, 8)  # 28 Sep + 10 = 8 Oct, a working day
    # The same limit in working days: 29, 30 Sep, then 8, 9 Oct and the make-up Saturday 10 Oct.
    assert marts.loc["W", "promised_deadline"] == dt.date(2026, 10, 10)
    # 21 Sep + 5 = 26 Sep, a holiday (中秋节 25–27 Sep): the next working day is 28 Sep.
    assert marts.loc["M", "promised_deadline"] == dt.date(2026, 9, 28)
    assert marts["promise_result"].to_dict() == {"N": "on_time", "W": "on_time", "M": "overdue"}
    assert marts.loc["N", "working_days_net"] == 3  # still reported in working days


def test_a_case_citing_an_item_the_catalogue_lacks_is_quarantined():
    from staging.normalise import normalise, validate

    frame = pd.DataFrame(
        {
            "source_system": ["housing"],
            "source_record_id": ["X-1"],
            "record_key": ["k"],
            "file_error": [pd.NA],
            **{c: [pd.NA] for c in ("case_no", "applicant_type", "applicant_id", "contact_phone", "address")},
            "item_code": ["999999999999"],
            "item_name": ["不存在的事项"],
            "applicant_name": ["某公司"],
            "submitted_at": ["2026-11-20 10:00"],
            **{c: [pd.NA] for c in ("accepted_at", "decided_at", "completed_at", "status")},
            **{c: [pd.NA] for c in ("promised_days", "statutory_days", "handling_dept")},
        },
        dtype="string",
    )
    codes, reasons = validate(normalise(frame))
    assert codes.iloc[0] == "unknown_item"
    assert "999999999999" in reasons.iloc[0] and "不在事项目录中" in reasons.iloc[0]
