"""A drop folder as departments really fill it: good exports beside every kind of bad one.

Every good record loads; every bad file is set aside as one record with a reason a clerk can act on, so the
day's reconciliation (pulled = staged + quarantined) still adds up; links and files outside the folder are
skipped. The files are written here byte by byte (GBK, UTF-16, damaged zips, hostile XML), not by the code under
test.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from connectors.sources import FileDropSource
from staging.normalise import stage_partition

pytestmark = pytest.mark.unit

DAY = dt.datetime(2026, 11, 16)
HEADER = "办件编号,事项编码,事项名称,申请人类型,申请人,证件号码,联系电话,地址,申请日期,受理日期,办理状态,更新时间"
ROW = (
    "WJ{n},WJ-GGWS,公共场所卫生许可,单位,常州恒达科技有限公司,9132041258558635XF,13912345678,湖塘镇,"
    "2026-11-16 09:00,,受理,2026-11-16 09:00"
)


def csv_text(*numbers: int, extra: str = "") -> str:
    return "\r\n".join([HEADER, *(ROW.format(n=n) for n in numbers)]) + "\r\n" + extra


def workbook(rows: list[list[str]]) -> bytes:
    out = io.BytesIO()
    pd.DataFrame(rows[1:], columns=rows[0]).to_excel(out, index=False, engine="openpyxl")
    return out.getvalue()


def workbooks(sheets: dict[str, list[list[str]]]) -> bytes:
    """An .xlsx with one sheet per entry (name → header row, then rows)."""
    out = io.BytesIO()
    with pd.ExcelWriter(out, engine="openpyxl") as writer:
        for name, rows in sheets.items():
            pd.DataFrame(rows[1:], columns=rows[0]).to_excel(writer, sheet_name=name, index=False)
    return out.getvalue()


def with_sheet(xml: bytes) -> bytes:
    """A valid workbook whose first sheet's XML is replaced by ``xml``."""
    source = zipfile.ZipFile(io.BytesIO(workbook([HEADER.split(","), ROW.format(n=9).split(",")])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            data = xml if entry.filename == "xl/worksheets/sheet1.xml" else source.read(entry)
            target.writestr(entry, data)
    return out.getvalue()


LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>&lol2;</t></is></c></row></sheetData></worksheet>'
)


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    day = f"{DAY:%Y%m%d}"
    files = {
        f"health_cases_{day}_a.csv": csv_text(1, 2, 3).encode("gbk"),
        f"health_cases_{day}_b.xlsx": workbook([HEADER.split(","), ROW.format(n=4).split(",")]),
        f"health_cases_{day}_more_fields.csv": csv_text(5, extra=ROW.format(n=6) + ",多出来的一列\r\n").encode("gbk"),
        f"health_cases_{day}_fewer_fields.csv": csv_text(7, extra="WJ8,WJ-GGWS\r\n").encode("gbk"),
        f"health_cases_{day}_utf16.csv": csv_text(10).encode("utf-16"),
        f"health_cases_{day}_not_text.csv": bytes(range(128, 256)) * 4,
        f"health_cases_{day}_damaged.xlsx": workbook([HEADER.split(",")])[:300],
        f"health_cases_{day}_broken_xml.xlsx": with_sheet(b"<worksheet><sheetData><row>"),
        f"health_cases_{day}_entities.xlsx": with_sheet(LAUGHS),
    }
    swallowing = ROW.format(n=13).replace(",湖塘镇,", ',"湖塘镇,', 1).split(',"湖塘镇,')[0] + ',"湖塘镇\r\n'
    swallowing += ROW.format(n=14).replace("湖塘镇,", '湖塘镇",', 1) + "\r\n"
    files |= {
        "health_cases_20261131_impossible.csv": csv_text(20).encode("gbk"),  # November has no 31st
        f"health_cases_{day}_empty.csv": b"",
        f"health_cases_{day}_unterminated.csv": (csv_text(11) + 'WJ12,WJ-GGWS,"未闭合的引号\r\n').encode("gbk"),
        f"health_cases_{day}_unescaped.csv": (csv_text(15) + swallowing).encode("gbk"),
        f"health_cases_{day}_sheets.xlsx": workbooks(
            {
                "上午": [HEADER.split(","), ROW.format(n=16).split(",")],
                "下午": [HEADER.split(","), ROW.format(n=17).split(",")],
            }
        ),
        f"health_cases_{day}_mixed_sheets.xlsx": workbooks(
            {"办件": [HEADER.split(","), ROW.format(n=18).split(",")], "说明": [["备注"], ["本表由系统导出"]]}
        ),
    }
    for name, content in files.items():
        (folder / name).write_bytes(content)
    dropped = dt.datetime(2026, 11, 16, 12, tzinfo=dt.timezone(dt.timedelta(hours=8))).timestamp()
    os.utime(folder / "health_cases_20261131_impossible.csv", (dropped, dropped))  # dropped on DAY, Shanghai
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (3 * 2**20))  # 3 MiB of nothing, a few KiB packed
    (folder / f"health_cases_{day}_bomb.xlsx").write_bytes(bomb.getvalue())
    outside = tmp_path / "outside.csv"
    outside.write_bytes(csv_text(99).encode("gbk"))
    os.symlink(outside, folder / f"health_cases_{day}_link.csv")
    os.symlink("/etc/passwd", folder / f"health_cases_{day}_passwd.csv")
    return folder


def source(folder: Path, **limits) -> FileDropSource:
    return FileDropSource(
        directory=str(folder), pattern="health_cases_*", id_field="办件编号", changed_field="更新时间", **limits
    )


def test_good_files_load_and_every_bad_file_is_set_aside_with_its_reason(drop):
    batch = source(drop, max_unzipped_bytes=2**20).fetch_changes(DAY, DAY + dt.timedelta(days=1))
    loaded = sorted(r.record_key for r in batch.records if "_error" not in r.payload)
    assert loaded == ["WJ1", "WJ16", "WJ17", "WJ2", "WJ3", "WJ4"]  # both sheets of a workbook of one header
    reasons = {r.payload["_file"].split("_", 3)[3]: r.payload["_error"] for r in batch.records if "_error" in r.payload}
    assert set(reasons) == {"more_fields.csv", "fewer_fields.csv", "utf16.csv", "not_text.csv", "damaged.xlsx",
                            "broken_xml.xlsx", "entities.xlsx", "bomb.xlsx", "impossible.csv", "empty.csv",
                            "unterminated.csv", "unescaped.csv", "mixed_sheets.xlsx"}  # fmt: skip
    assert reasons["impossible.csv"].startswith("the date in its name, 20261131, is not a day")
    assert reasons["empty.csv"].startswith("the file is empty (0 bytes)")
    assert "the quoting is broken" in reasons["unterminated.csv"]
    assert "an unescaped quote" in reasons["unescaped.csv"] and "swallowed the rows" in reasons["unescaped.csv"]
    assert reasons["mixed_sheets.xlsx"].startswith("the workbook has 2 sheets with different columns (办件, 说明)")
    sheets = {r.record_key: r.payload["_line"] for r in batch.records if r.record_key in ("WJ16", "WJ17")}
    assert sheets == {"WJ16": "上午!2", "WJ17": "下午!2"}
    assert reasons["more_fields.csv"].startswith("row 3 has 13 fields where the header has 12")
    assert reasons["fewer_fields.csv"].startswith("row 3 has 2 fields where the header has 12")
    assert "NUL bytes" in reasons["utf16.csv"]
    assert reasons["not_text.csv"].startswith("not decodable as utf-8:")
    assert "zip container is damaged" in reasons["damaged.xlsx"]
    assert reasons["broken_xml.xlsx"].startswith("the workbook cannot be parsed")
    assert reasons["entities.xlsx"].startswith("the workbook cannot be parsed")  # defused: no entity expansion
    assert "unpacks to 3145728 bytes" in reasons["bomb.xlsx"]
    skipped = [n for n in batch.notes if "skipped" in n]
    assert len(skipped) == 2 and all("_link.csv" in n or "_passwd.csv" in n for n in skipped)
    assert not any("root:" in json.dumps(r.payload) for r in batch.records)  # /etc/passwd was never read


def test_an_export_over_the_size_cap_is_set_aside_unread(drop):
    batch = source(drop, max_file_bytes=600).fetch_changes(DAY, DAY + dt.timedelta(days=1))
    big = [r.payload["_error"] for r in batch.records if r.payload.get("_file", "").endswith("_b.xlsx")]
    assert len(big) == 1 and "over the 600-byte limit" in big[0]


def test_the_day_still_reconciles(drop):
    """Landed and staged as the pipeline does: every record and every set-aside file is staged or quarantined."""
    batch = source(drop, max_unzipped_bytes=2**20).fetch_changes(DAY, DAY + dt.timedelta(days=1))
    raw = pd.DataFrame(
        {
            "source_system": "health",
            "record_key": [r.record_key for r in batch.records],
            "payload": [json.dumps(r.payload, ensure_ascii=False) for r in batch.records],
        }
    )
    staged, quarantined = stage_partition(raw)
    assert len(staged) + len(quarantined) == len(raw) == 19
    assert sorted(staged["source_record_id"]) == ["WJ1", "WJ16", "WJ17", "WJ2", "WJ3", "WJ4"]
    unreadable = quarantined[quarantined["reason_code"] == "unreadable_file"]
    assert len(unreadable) == 13
    assert unreadable["reason"].str.contains("重新导出").all()
