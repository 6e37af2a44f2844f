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
    for name, content in files.items():
        (folder / name).write_bytes(content)
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
    assert loaded == ["WJ1", "WJ2", "WJ3", "WJ4"]
    reasons = {r.payload["_file"].split("_", 3)[3]: r.payload["_error"] for r in batch.records if "_error" in r.payload}
    assert set(reasons) == {"more_fields.csv", "fewer_fields.csv", "utf16.csv", "not_text.csv", "damaged.xlsx",
                            "broken_xml.xlsx", "entities.xlsx", "bomb.xlsx"}  # fmt: skip
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
    assert len(staged) + len(quarantined) == len(raw) == 12
    assert sorted(staged["source_record_id"]) == ["WJ1", "WJ2", "WJ3", "WJ4"]
    unreadable = quarantined[quarantined["reason_code"] == "unreadable_file"]
    assert len(unreadable) == 8
    assert unreadable["reason"].str.contains("重新导出").all()
