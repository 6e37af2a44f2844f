"""Map raw records onto the canonical case, normalise them, and decide per record: staged or quarantined.

All of it is column-wise pandas: one pass per rule over the whole partition, no per-record Python.
Each quarantined record gets one reason, the first rule it fails, written for the clerk who fixes it.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from core.departments import local_item_codes, system_names
from schemas.case import (
    CASE_COLUMNS,
    CODED_COLUMNS,
    LEGAL_PERSON,
    NATURAL_PERSON,
    TIMESTAMP_COLUMNS,
    items,
)
from schemas.identifiers import (
    ID_KIND_RIC,
    ID_KIND_USCC,
    case_number_problems,
    classify_identifiers,
    normalize_project_code_series,
    project_code_problems,
)
from schemas.items import identify_items
from schemas.text import extract, nfkc, sub
from staging.mappings import SourceMapping, mapping, mappings, national_case_no_systems

TEXT_COLUMNS = [c for c in CASE_COLUMNS if c not in (*TIMESTAMP_COLUMNS, "promised_days", "statutory_days")]


def map_source(raw: pd.DataFrame, declared: SourceMapping) -> pd.DataFrame:
    """Source fields → canonical columns (still as the source wrote the values). ``raw`` has record_key, payload."""
    payloads = pd.DataFrame([json.loads(p) for p in raw["payload"]], index=raw.index)
    mapped = pd.DataFrame(index=raw.index)
    for column in CASE_COLUMNS:
        source_field = declared.fields.get(column)
        if source_field is not None and source_field in payloads:
            mapped[column] = payloads[source_field].astype("string")
        else:
            mapped[column] = pd.Series(pd.NA, index=raw.index, dtype="string")
    mapped["source_system"] = declared.source_system
    mapped["record_key"] = raw["record_key"].to_numpy()
    mapped["file_error"] = payloads["_error"].astype("string") if "_error" in payloads else pd.NA
    return mapped


def clean_text(values: pd.Series) -> pd.Series:
    """NFKC, trimmed; blanks and the spellings of "nothing" become missing."""
    text = nfkc(values).str.strip()
    return text.mask(text.isin(["", "nan", "None", "NULL", "null"]))


def parse_timestamps(values: pd.Series) -> pd.Series:
    """Dates as clerks type them: 2025-03-05 10:00[:00], 2025/3/5, 20250305, 2025年3月5日, 2025.03.05, ISO."""
    text = clean_text(values)
    text = sub(text, r"(\+08:?00|Z)$", "").str.replace("T", " ", regex=False)
    text = sub(text, r"(\d:\d{2})[.,]\d{1,9}$", r"\1")  # fractions of a second, as databases write them
    text = sub(sub(text, r"[年月/.]", "-"), r"[日秒]", "")
    text = sub(text, r"[时分点]", ":").str.rstrip(":")
    # Compact forms: 20250305, 202503051030, 20250305103000.
    text = sub(text, r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$", r"\1-\2-\3 \4:\5:\6")
    text = sub(text, r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})$", r"\1-\2-\3 \4:\5")
    text = sub(text, r"^(\d{4})(\d{2})(\d{2})$", r"\1-\2-\3")
    parts = extract(
        text, r"^(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})-?(?:\s*(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?)?$"
    )
    two = {c: parts[c].mask(parts[c] == "").fillna("0").str.zfill(2) for c in ("mo", "d", "h", "mi", "s")}
    canonical = parts["y"] + "-" + two["mo"] + "-" + two["d"] + " " + two["h"] + ":" + two["mi"] + ":" + two["s"]
    stamp = pd.to_datetime(canonical, format="%Y-%m-%d %H:%M:%S", errors="coerce")
    return stamp.astype("datetime64[us]")


def company_name_key(names: pd.Series) -> pd.Series:
    """A company name without region prefixes and with one spelling of the legal-form suffix."""
    key = sub(names, r"\s", "").str.replace("（", "(").str.replace("）", ")")
    key = sub(key, r"^(江苏省?|常州市?|武进区?)+", "")
    key = sub(key, r"\((江苏|常州|武进)[^)]*\)", "")  # 恒达(常州)科技有限公司
    return key.str.replace("有限责任公司", "有限公司", regex=False)


def normalise(mapped: pd.DataFrame) -> pd.DataFrame:
    """Canonical values plus the evidence the validation needs (``_`` columns)."""
    out = mapped.copy()
    for column in (
        "case_no",
        "source_record_id",
        "item_code",
        "item_name",
        "applicant_name",
        "address",
        "status",
    ):
        out[column] = clean_text(out[column])
    out["applicant_name"] = out["applicant_name"].str.replace(r"\s+", "", regex=True)
    # 经办人: a clerk's name as the system holds it (NFKC, no spaces); a frame mapped before the column existed has none
    handler = out["handler_name"] if "handler_name" in out else pd.Series(pd.NA, index=out.index, dtype="string")
    out["handler_name"] = clean_text(handler).str.replace(r"\s+", "", regex=True)
    out["address"] = out["address"].str.replace(r"\s+", "", regex=True)
    phone = clean_text(out["contact_phone"]).str.replace(r"[^\d\-]", "", regex=True)
    out["contact_phone"] = phone.mask(phone == "")

    ids = classify_identifiers(out["applicant_id"])
    out["_raw_id"] = clean_text(mapped["applicant_id"])
    out["applicant_id"] = ids["id"]
    out["applicant_id_kind"] = ids["kind"]
    out["applicant_id_checksum_ok"] = ids["checksum_ok"].where(ids["id"].notna())
    out["_id_well_formed"] = ids["well_formed"]

    for column in TIMESTAMP_COLUMNS:
        out[f"_raw_{column}"] = clean_text(mapped[column])
        out[column] = parse_timestamps(mapped[column])

    out["_raw_item_code"] = out["item_code"]
    out["_raw_status"] = out["status"]
    identified = identify_items(out["item_code"], out["item_name"], out["source_system"], local_item_codes())
    out["item_code"], out["_item_from_name"] = identified["item_code"], identified["from_name"]
    catalogue = items().set_index("item_code")
    known = out["item_code"].isin(catalogue.index)
    out["item_name"] = out["item_code"].map(catalogue["item_name"]).where(known, out["item_name"])
    out["promised_days"] = out["item_code"].map(catalogue["promised_days"]).astype("Int64")
    out["statutory_days"] = out["item_code"].map(catalogue["statutory_days"]).astype("Int64")
    out["handling_dept"] = out["item_code"].map(catalogue["handling_dept"]).astype("string")
    out["status"], out["applicant_type"] = _codes(out)
    for column in CODED_COLUMNS:  # (a frame mapped before these columns existed has none of them: unknown)
        given = out[column] if column in out else pd.Series(pd.NA, index=out.index, dtype="string")
        out[column] = given
        out[f"_raw_{column}"] = clean_text(given)
        out[column] = _coded(out, column)
    given = out["project_code"] if "project_code" in out else pd.Series(pd.NA, index=out.index, dtype="string")
    code = normalize_project_code_series(given)
    out["_project_code_problem"] = project_code_problems(code)
    out["project_code"] = code.mask(out["_project_code_problem"].notna())
    return out


def _coded(frame: pd.DataFrame, column: str) -> pd.Series:
    """A coded column (申报渠道, 送达方式, 受理地点, 审批方式) through each system's code map: NA where the source gave
    nothing (unknown stays unknown, never a default) and where its code is not in the map (flagged, see
    :func:`quality_flags`)."""
    given = clean_text(frame[column])
    mapped = pd.Series(pd.NA, index=frame.index, dtype="string")
    for source, declared in mappings().items():
        rows = (frame["source_system"] == source).to_numpy()
        if rows.any() and declared.codes.get(column):
            mapped[rows] = given[rows].map(declared.codes[column]).astype("string")
    return mapped


def _codes(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    status = pd.Series(pd.NA, index=frame.index, dtype="string")
    applicant_type = pd.Series(pd.NA, index=frame.index, dtype="string")
    for source, declared in mappings().items():
        rows = frame["source_system"] == source
        if not rows.any():
            continue
        status[rows] = frame.loc[rows, "status"].map(declared.statuses).astype("string")
        given = frame.loc[rows, "applicant_type"].fillna("")
        applicant_type[rows] = given.map(declared.applicant_types).astype("string")
    inferred = frame["applicant_id_kind"].map({ID_KIND_USCC: LEGAL_PERSON, ID_KIND_RIC: NATURAL_PERSON})
    return status, applicant_type.fillna(inferred.astype("string"))


#: Why a department's 办件编号 is refused, for the clerk (schemas.identifiers.case_number_problems): the published
#: rule is GB/T 39046-2020 (办件编号 an..50) and, for a number in the national form, 实施编码 + date + serial.
CASE_NO_REASONS = {
    "blank": "为空：该系统的办件编号即对外的办件编号，不能为空。",
    "too_long": "超过50位：办件编号最长50位（GB/T 39046-2020 政务服务平台基础数据规范）。",
    "characters": "含有字母、数字和“-”以外的字符（如空格、汉字或不可见字符）：办件编号只能由字母、数字和“-”组成，"
    "最长50位。",
    "national_form": "是国家编码规则的43位形式（31位实施编码、8位日期yyyyMMdd、4位流水号），但校验不通过："
    "实施编码须以有效的统一社会信用代码开头，日期须为真实日期，流水号从0001起。",
}


def validate(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(reason_code, reason) per row; NA where the record may be staged. The first failing rule wins."""
    system = frame["source_system"].map(system_names()).fillna(frame["source_system"])
    case_problem = case_number_problems(frame["case_no"])
    rules = [
        (
            frame["file_error"].notna(),
            "unreadable_file",
            "文件无法读取（"
            + frame["file_error"].fillna("")
            + "）。请部门重新导出为 GBK 或 UTF-8 编码的 CSV 或 Excel 后重新投放。",
        ),
        (frame["source_record_id"].isna(), "missing_source_id", "缺少办件编号，无法追溯到" + system + "中的原始记录。"),
        (frame["applicant_name"].isna(), "missing_applicant_name", "申请人名称为空，请在" + system + "中补全。"),
        (
            frame["source_system"].isin(national_case_no_systems()) & case_problem.notna(),
            "malformed_case_no",
            "办件编号（"
            + frame["case_no"].fillna("").str.len().astype("string")
            + "位）"
            + case_problem.map(CASE_NO_REASONS).fillna("")
            + "请在"
            + system
            + "中核对该办件的编号。",
        ),
        (
            frame["item_code"].isna(),
            "unknown_item",
            "事项编码“"
            + frame["_raw_item_code"].fillna("（空）")
            + "”、事项名称“"
            + frame["item_name"].fillna("（空）")
            + "”不在事项目录中：请核对事项，或在该系统的声明文件（item_codes）中补充编码对照。",
        ),
        (
            frame["_raw_id"].notna() & ~frame["_id_well_formed"].astype(bool),
            "invalid_applicant_id",
            "申请人证件号码格式无效（"
            + frame["_raw_id"].fillna("").str.len().astype("string")
            + "位）：应为18位统一社会信用代码或18位/15位居民身份证号码。",
        ),
        (
            frame["submitted_at"].isna(),
            "invalid_submitted_at",
            "申报时间“" + frame["_raw_submitted_at"].fillna("（空）") + "”无法识别，请按 yyyy-MM-dd HH:mm 格式补正。",
        ),
        (
            frame["status"].isna(),
            "unknown_status",
            "办件状态“" + frame["_raw_status"].fillna("（空）") + "”无法对应到标准办件状态。",
        ),
    ]
    return first_failing(frame, rules)


Rule = tuple[pd.Series, str, "pd.Series | str"]  # (fails, reason_code, reason: per row or one text)


def first_failing(frame: pd.DataFrame, rules: list[Rule]) -> tuple[pd.Series, pd.Series]:
    """(reason_code, reason) per row of ``frame``, NA where every rule passes; the first failing rule wins."""
    conditions = [condition.fillna(False).astype(bool).to_numpy() for condition, _, _ in rules]
    reasons = [
        reason.astype(object).to_numpy() if isinstance(reason, pd.Series) else np.full(len(frame), reason, object)
        for _, _, reason in rules
    ]
    codes = np.select(conditions, [code for _, code, _ in rules], default="")
    text = np.select(conditions, reasons, default="")
    code_series = pd.Series(codes, index=frame.index, dtype="string")
    return code_series.mask(code_series == ""), pd.Series(text, index=frame.index, dtype="string")


def quality_flags(frame: pd.DataFrame) -> pd.Series:
    """Warnings on staged records: kept, but visible (a failed check digit is flagged, never dropped)."""
    flags = {
        "id_checksum_failed": frame["applicant_id_checksum_ok"].eq(False).fillna(False),
        "id_missing": frame["applicant_id"].isna(),
        "phone_missing": frame["contact_phone"].isna(),
        "item_from_name": frame["_item_from_name"].astype(bool),
    }
    for column in ("accepted_at", "decided_at", "completed_at"):
        flags[f"{column}_unparsed"] = frame[f"_raw_{column}"].notna() & frame[column].isna()
    for column in CODED_COLUMNS:  # a code the declaration does not list: kept unknown, and said so
        flags[f"{column}_unmapped"] = frame[f"_raw_{column}"].notna() & frame[column].isna()
    flags["approval_mode_not_in_catalogue"] = _mode_not_offered(frame)
    # a 投资项目代码 that fails its check is left out (the case is then offered to review, not linked by it)
    flags["project_code_invalid"] = frame["_project_code_problem"].notna()
    text = pd.Series("", index=frame.index, dtype="string")
    for name, mask in flags.items():
        text = text.where(~mask.to_numpy(), text + name + ";")
    return text.str.rstrip(";").mask(text == "")


def flag_problems(staged: pd.DataFrame, listed: pd.DataFrame, flag: str) -> pd.Series:
    """``staged``'s quality flags with ``flag`` added to each record one of whose listed rows (``listed``: a
    record's pauses, materials …, with source_system, record_key, problem) has a problem."""
    flags = staged["quality_flags"].astype("string")
    if listed.empty:
        return flags
    bad = listed.loc[listed["problem"].notna(), ["source_system", "record_key"]].drop_duplicates()
    hit = pd.MultiIndex.from_frame(staged[["source_system", "record_key"]]).isin(pd.MultiIndex.from_frame(bad))
    return flags.where(~hit, (flags.fillna("") + ";" + flag).str.lstrip(";"))


def _mode_not_offered(frame: pd.DataFrame) -> pd.Series:
    """A mode the source names that the item's catalogue entry does not offer (neither its ``approval_mode`` nor
    one of its ``other_modes`` in items.csv): the source's word is kept (the department knows how it handled the
    case) and flagged, so the catalogue or the record gets checked."""
    catalogue = items().set_index("item_code")
    offered = (catalogue["approval_mode"] + "|" + catalogue["other_modes"]).str.split("|")
    allowed = frame["item_code"].map(offered)
    pairs = zip(frame["approval_mode"], allowed, strict=True)
    hits = [isinstance(mode, str) and isinstance(ok, list) and mode not in ok for mode, ok in pairs]
    return pd.Series(hits, index=frame.index, dtype=bool)


def stage_partition(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``raw``: source_system, record_key, payload (JSON). Returns (staged, quarantined) frames."""
    mapped = [
        map_source(rows, mapping(source)) for source, rows in raw.groupby("source_system", sort=True) if len(rows)
    ]
    if not mapped:
        return pd.DataFrame(), pd.DataFrame()
    frame = normalise(pd.concat(mapped, ignore_index=True))
    reason_code, reason = validate(frame)
    bad = reason_code.notna()
    quarantined = frame.loc[bad, ["source_system", "record_key", "source_record_id"]].assign(
        reason_code=reason_code[bad], reason=reason[bad]
    )
    staged = frame.loc[~bad].copy()
    staged["quality_flags"] = quality_flags(staged)
    keep = [
        "source_system",
        "record_key",
        *CASE_COLUMNS[1:],
        "applicant_id_kind",
        "applicant_id_checksum_ok",
        "quality_flags",
    ]
    return staged[keep].reset_index(drop=True), quarantined.reset_index(drop=True)
