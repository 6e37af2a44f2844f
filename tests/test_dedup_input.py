"""``approval-bridge dedup`` on the files clerks really hand it: GBK exports work; unreadable ones end in one line
and exit code 2; what it writes opens in Excel without running anything. In-process, no subprocess."""

from __future__ import annotations

import pandas as pd
import pytest

from cli.main import main

pytestmark = pytest.mark.unit

HEADER = "source_system,source_record_id,item_code,item_name,applicant_name,applicant_id,submitted_at"
ROWS = [
    "market_regulation,MR-1,SCJG-QYSL,企业设立登记,常州恒达科技有限公司,9132041258558635XF,2026-11-16 09:00",
    "approval_platform,AP-1,,企业设立登记,恒达科技有限公司,9132041258558635XF,2026/11/17",
    'approval_platform,=HYPERLINK("http://x"),,食品经营许可,@SUM(A1),,2026-11-16',
    "approval_platform,+86-1,,食品经营许可,-2+3,,2026-11-16",
]


def run(tmp_path, content: bytes, capsys) -> tuple[int, str, str]:
    source, out = tmp_path / "cases.csv", tmp_path / "clusters.csv"
    source.write_bytes(content)
    code = main(["dedup", "--input", str(source), "--output", str(out)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_gbk_export_is_read_and_formula_cells_are_written_as_text(tmp_path, capsys):
    code, out, err = run(tmp_path, ("\r\n".join([HEADER, *ROWS]) + "\r\n").encode("gbk"), capsys)
    assert code == 0, err
    assert "4 records → 3 clusters" in out
    written = pd.read_csv(tmp_path / "clusters.csv", dtype=str, keep_default_na=False)
    assert written["source_record_id"].tolist() == ["MR-1", "AP-1", '\'=HYPERLINK("http://x")', "'+86-1"]
    raw = (tmp_path / "clusters.csv").read_text(encoding="utf-8")
    assert not any(cell.startswith(("=", "+", "-", "@")) for line in raw.splitlines() for cell in line.split(","))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ((HEADER + "\n" + ROWS[0] + "\n").encode("utf-16"), "holds NUL bytes"),
        (b"source_system,source_record_id\n\xff\xfe\xfa,1\n", "not decodable as utf-8"),
        ((HEADER + "\n" + ROWS[0] + ",extra\n").encode(), "row 2 has 8 fields where the header has 7"),
        ((HEADER + "\n" + ROWS[0] + "\nmarket_regulation,MR-2\n").encode(), "row 3 has 2 fields where the header"),
        (b"", "empty; expected a header line"),
        (b"   \r\n", "empty; expected a header line"),
        ("系统,编号\nmarket_regulation,MR-1\n".encode("gbk"), "missing column(s) source_system, source_record_id"),
    ],
)
def test_unreadable_input_is_one_line_and_exit_code_2(tmp_path, capsys, content, message):
    code, out, err = run(tmp_path, content, capsys)
    assert code == 2
    assert err.startswith("dedup: ") and message in err and err.count("\n") == 1
    assert "Traceback" not in err + out
    assert not (tmp_path / "clusters.csv").exists()


def test_a_missing_input_file_is_named(tmp_path, capsys):
    code = main(["dedup", "--input", str(tmp_path / "nowhere.csv"), "--output", str(tmp_path / "o.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "nowhere.csv: cannot be read (No such file or directory)" in err


@pytest.mark.parametrize(
    "content",
    [
        ("\ufeff" + "\r\n".join([HEADER, *ROWS]) + "\r\n").encode("utf-8"),
        (HEADER + "\n" + 'health,"H-1","","诊所执业备案","王芳, 个体","",2026-11-16\n\n' + ROWS[1] + "\n").encode(),
        (HEADER + "\n" + 'health,H-2,,"多行\n名称",张伟,,2026-11-16\n').encode(),
    ],
)
def test_a_utf8_export_read_from_bytes_is_what_the_checked_reading_gives(tmp_path, content):
    from resolution.dedup import _read_checked, _read_utf8

    fast = _read_utf8(content)
    assert fast is not None
    pd.testing.assert_frame_equal(fast, _read_checked(tmp_path / "cases.csv", content))
