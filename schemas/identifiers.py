"""Chinese identifier rules: 统一社会信用代码 (GB 32100), 居民身份证号码 (GB 11643), 证照标识 (GB/T 36904).

Scalar functions serve single values (the sandbox, tests); the ``*_series`` functions are vectorised
with numpy for the staging hot path, where a per-row Python loop would dominate at a million rows.
A failed check digit is reported, never fatal: real registers contain codes that fail it.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import numpy as np
import pandas as pd

from core import clock
from schemas.text import nfkc

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = np.array([pow(3, i, 31) for i in range(17)], dtype=np.int64)
ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
USCC_PATTERN = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")

RIC_WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)], dtype=np.int64)
RIC_CHECK = "10X98765432"
RIC_PATTERN = re.compile(r"^\d{17}[\dX]$")

ZZBS_ROOT = "1.2.156.3005.2"
_MOD3736_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# Lookup table from ASCII code point to USCC character value (-1 = not allowed).
_USCC_VALUE = np.full(128, -1, dtype=np.int64)
for _i, _c in enumerate(USCC_ALPHABET):
    _USCC_VALUE[ord(_c)] = _i


def normalize_code(value: object) -> str | None:
    """NFKC (full-width to half-width), drop spaces and dashes, upper-case; None for blanks."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    text = unicodedata.normalize("NFKC", str(value))
    text = re.sub(r"[\s\-]", "", text).upper()
    return text or None


def normalize_code_series(values: pd.Series) -> pd.Series:
    """Vectorised :func:`normalize_code`."""
    text = nfkc(values).str.replace(r"[\s\-]", "", regex=True).str.upper()
    return text.mask(text == "")


# ---------------------------------------------------------------- 统一社会信用代码
def uscc_check_char(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * int(w) for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def org_code_check_char(body8: str) -> str:
    total = sum(int(c, 36) * w for c, w in zip(body8, ORG_CODE_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def make_uscc(prefix8: str, org_body8: str) -> str:
    """Build a code from registration prefix (e.g. ``91320412``) and an 8-character organisation body."""
    first17 = prefix8 + org_body8 + org_code_check_char(org_body8)
    return first17 + uscc_check_char(first17)


def is_valid_uscc(code: str | None) -> bool:
    code = normalize_code(code)
    return bool(code and USCC_PATTERN.match(code) and uscc_check_char(code[:17]) == code[17])


# ---------------------------------------------------------------- 居民身份证号码
def ric_check_char(first17: str) -> str:
    return RIC_CHECK[sum(int(c) * int(w) for c, w in zip(first17, RIC_WEIGHTS, strict=True)) % 11]


def upgrade_ric15(number: str) -> str:
    """Old 15-digit numbers: insert the century ``19`` and append the check character."""
    first17 = number[:6] + "19" + number[6:]
    return first17 + ric_check_char(first17)


def is_valid_ric(number: str | None) -> bool:
    number = normalize_code(number)
    if not number or not RIC_PATTERN.match(number):
        return False
    return _valid_birth_dates(pd.Series([number[6:14]])).iloc[0] and ric_check_char(number[:17]) == number[17]


def _valid_birth_dates(yyyymmdd: pd.Series) -> pd.Series:
    parsed = pd.to_datetime(yyyymmdd, format="%Y%m%d", errors="coerce")
    return parsed.notna() & (parsed >= pd.Timestamp("1880-01-01")) & (parsed <= pd.Timestamp(clock.today()))


# ---------------------------------------------------------------- vectorised classification
ID_KIND_USCC = "uscc"
ID_KIND_RIC = "ric"


def classify_identifiers(values: pd.Series) -> pd.DataFrame:
    """Normalise and classify applicant identifiers in bulk.

    Returns columns ``id`` (normalised, 15-digit ID numbers upgraded), ``kind`` (``uscc``/``ric``/NA),
    ``well_formed`` (length, alphabet and birth date right) and ``checksum_ok``.
    """
    ids = normalize_code_series(values)
    is15 = ids.str.fullmatch(r"\d{15}").fillna(False).astype(bool)
    if is15.any():
        ids = ids.where(~is15, ids[is15].map(upgrade_ric15))
    # Both patterns admit some strings (18 digits, or 17 digits + X); a plausible birth date decides.
    shaped_ric = ids.str.fullmatch(RIC_PATTERN.pattern).fillna(False).astype(bool)
    birth_ok = pd.Series(False, index=ids.index)
    if shaped_ric.any():
        birth_ok[shaped_ric] = _valid_birth_dates(ids[shaped_ric].str.slice(6, 14)).to_numpy()
    looks_ric = shaped_ric & birth_ok
    looks_uscc = ids.str.fullmatch(USCC_PATTERN.pattern).fillna(False).astype(bool) & ~looks_ric

    checksum = pd.Series(False, index=ids.index)
    if looks_uscc.any():
        checksum[looks_uscc] = _uscc_checksums_ok(ids[looks_uscc])
    if looks_ric.any():
        checksum[looks_ric] = _ric_checksums_ok(ids[looks_ric])

    kind = pd.Series(pd.NA, index=ids.index, dtype="string")
    kind[looks_uscc] = ID_KIND_USCC
    kind[looks_ric] = ID_KIND_RIC
    well_formed = looks_uscc | looks_ric
    return pd.DataFrame({"id": ids, "kind": kind, "well_formed": well_formed, "checksum_ok": checksum})


def _as_code_matrix(codes: pd.Series) -> np.ndarray:
    joined = "".join(codes.to_list()).encode("ascii")
    return np.frombuffer(joined, dtype=np.uint8).reshape(len(codes), 18).astype(np.int64)


def _uscc_checksums_ok(codes: pd.Series) -> np.ndarray:
    values = _USCC_VALUE[_as_code_matrix(codes)]
    expected = (31 - (values[:, :17] @ USCC_WEIGHTS) % 31) % 31
    return expected == values[:, 17]


def _ric_checksums_ok(codes: pd.Series) -> np.ndarray:
    matrix = _as_code_matrix(codes)
    digits = matrix[:, :17] - ord("0")
    expected = np.frombuffer(RIC_CHECK.encode("ascii"), dtype=np.uint8)[(digits @ RIC_WEIGHTS) % 11]
    return expected == matrix[:, 17]


# ---------------------------------------------------------------- 证照标识 (GB/T 36904)
def mod37_36_check_char(payload: str) -> str:
    """ISO/IEC 7064 MOD 37,36 check character over an upper-case alphanumeric string."""
    modulus, radix = 36, 37
    check = modulus // 2
    for char in payload:
        check = (((check or modulus) * 2) % radix + _MOD3736_ALPHABET.index(char)) % modulus
    return _MOD3736_ALPHABET[(1 - ((check or modulus) * 2) % radix) % modulus]


def make_licence_identifier(type_code: str, issuer_uscc: str, serial: str, version: int = 1) -> str:
    """``1.2.156.3005.2.<type code>.<issuer USCC>.<serial>.<version>.<check>``."""
    version_text = f"{version:03d}"
    check = mod37_36_check_char(type_code + issuer_uscc + serial + version_text)
    return ".".join([ZZBS_ROOT, type_code, issuer_uscc, serial, version_text, check])


def is_valid_licence_identifier(identifier: str) -> bool:
    if not identifier.startswith(ZZBS_ROOT + "."):
        return False
    parts = identifier[len(ZZBS_ROOT) + 1 :].split(".")
    if len(parts) != 5 or not re.fullmatch(r"\d{3}", parts[3]):
        return False
    return mod37_36_check_char("".join(parts[:4])) == parts[4]


# ---------------------------------------------------------------- masking of personal information
def mask_code(code: str | None) -> str | None:
    """A code masked as a 身份证号 (region and last four kept), whatever its shape: for a code the caller's type
    decides is personal (a mistyped number, or one that happens to pass the USCC check, stays hidden). Masking a
    masked code gives it back unchanged, so a masked value and a raw one compare by masking both."""
    if not code:
        return code
    return code[:6] + "********" + code[-4:]


def mask_code_series(codes: pd.Series) -> pd.Series:
    """:func:`mask_code` of each value."""
    return codes.str.slice(0, 6) + "********" + codes.str.slice(-4)


def mask_identifier_series(ids: pd.Series, kinds: pd.Series) -> pd.Series:
    """Mask 身份证号 (keep region and last 4); an enterprise's USCC is public and stays readable."""
    return ids.where(kinds != ID_KIND_RIC, mask_code_series(ids))


def mask_phone_series(phones: pd.Series) -> pd.Series:
    return phones.str.replace(r"^(\d{3})\d+(\d{4})$", r"\1****\2", regex=True)


def mask_identifier(value: str | None) -> str | None:
    if not value:
        return value
    classified = classify_identifiers(pd.Series([value], dtype="string"))
    return mask_identifier_series(classified["id"].fillna(value), classified["kind"]).iloc[0]


def fold_digits(text: str) -> str:
    """``text`` after NFKC with every decimal digit of any script (Arabic-Indic ٣, Devanagari ३ …, which NFKC
    leaves alone) written as its ASCII digit."""
    text = unicodedata.normalize("NFKC", text)
    if text.isascii():
        return text
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() and not ch.isascii() else ch for ch in text)


def mask_numbers_in_text(text: str) -> str:
    """Free text (a parameter a caller sent, a reason) with every run of eleven or more digits masked, spaces
    or dashes between them included: a 身份证号 keeps its region and last four (as :func:`mask_identifier`), a
    phone number its first three and last four. Full-width digits and digits of other scripts count once folded
    (:func:`fold_digits`)."""

    def masked(match: re.Match[str]) -> str:
        run = re.sub(r"[ \-]", "", match.group())
        head = 6 if len(run) >= 15 else 3
        return run[:head] + "*" * (len(run) - head - 4) + run[-4:]

    return _DIGIT_RUN.sub(masked, fold_digits(text))


def mask_code_in_text(text: str) -> str | None:
    """A value that stands for one identifier (a holder code a caller sent, well-formed or not), masked as
    :func:`mask_numbers_in_text` masks a run whatever separates its digits (dots, slashes, underscores …):
    ``320412.19980729.6328`` gives ``320412********6328``. None for a value without eleven digits: nothing to mask."""
    compact = re.sub(r"[^0-9A-Za-z]", "", fold_digits(text))
    return mask_numbers_in_text(compact) if re.search(r"[0-9]{11,}", compact) else None


_DIGIT_RUN = re.compile(r"[0-9](?:[ \-]?[0-9]){10,}(?:[ \-]?[Xx])?")


# ---------------------------------------------------------------- 办件编号 (national case number)
#: 实施编码 (31: the implementing body's USCC, then 13 characters for the item) + yyyyMMdd + a 4-digit serial
#: per 实施编码 and day from 0001: 43 characters (see docs/licence_api.md and the research notes, §3.1).
NATIONAL_CASE_NO = re.compile(r"(?P<body>[0-9A-HJ-NPQRTUWXY]{18})(?P<item>[0-9A-Z]{13})(?P<day>\d{8})(?P<serial>\d{4})")


def is_national_case_no(text: str | None) -> bool:
    """The national 办件编号's shape: a valid USCC (not a 身份证号) leading the 实施编码, a real date, a serial
    from 0001. One value, in plain Python (the sharing API checks one per request); frames go through
    :func:`national_case_numbers`, the same rule vectorised (a test holds them equal)."""
    found = NATIONAL_CASE_NO.fullmatch(text or "")
    if not found or found["serial"] == "0000" or not is_valid_uscc(found["body"]):
        return False
    body = found["body"]
    if body[:17].isdigit() and ric_check_char(body[:17]) == body[17] and _is_date(body[6:14], birth=True):
        return False  # a 身份证号 where the implementing body's USCC belongs
    return _is_date(found["day"])


def _is_date(yyyymmdd: str, birth: bool = False) -> bool:
    try:
        day = dt.datetime.strptime(yyyymmdd, "%Y%m%d").date()
    except ValueError:
        return False
    return not birth or dt.date(1880, 1, 1) <= day <= clock.today()


def national_case_numbers(values: pd.Series) -> pd.Series:
    """Vectorised :func:`is_national_case_no`: True where the value is a well-formed national 办件编号."""
    values = values.astype("string")
    parts = values.str.extract(NATIONAL_CASE_NO.pattern.join(("^", "$")))
    ok = parts["body"].notna() & (parts["serial"] != "0000")
    if ok.any():
        body = parts.loc[ok, "body"]
        uscc = _uscc_checksums_ok(body)
        ric = np.zeros(len(body), dtype=bool)
        digits = body.str.fullmatch(r"\d{17}[\dX]").to_numpy(dtype=bool)
        if digits.any():
            ric[digits] = _ric_checksums_ok(body[digits]) & _valid_birth_dates(body[digits].str.slice(6, 14)).to_numpy()
        day = pd.to_datetime(parts.loc[ok, "day"], format="%Y%m%d", errors="coerce").notna().to_numpy()
        ok.loc[ok] = uscc & ~ric & day
    return ok.fillna(False).astype(bool)


# ---------------------------------------------------------------- 办件编号: what the published definitions allow
#: 办件编号 as published: GB/T 39046-2020 gives it as 字符型 ``an..50`` wherever a case is named (表5 办事申请, 表6
#: 事项受理, 表7 事项办理, 表8 事项办结: up to 50 字母数字字符, 表3); the national sharing tables' DDL has ``project_no
#: varchar(50) NOT NULL`` (research exchange-formats §1.2, store id 35927674781); national test payloads number
#: cases with UUIDs, dashes and all (store id 37081135280); one vendor's service lets the daily serial grow past
#: four digits (store id 4811264213). So a valid 办件编号 is 1 to 50 characters, each an ASCII letter, a digit or
#: ``-`` (the UUIDs' dash: the standard writes ``an`` for telephone numbers and web addresses too, so it does not
#: mean letters and digits only); no blank, no control character, nothing else. The 43-character national form
#: (31-character 实施编码 + yyyyMMdd + 4-digit serial, :data:`NATIONAL_CASE_NO`) is one valid form among them: a
#: number in its shape (43 characters, upper-case letters and digits ending in 12 digits) is checked in depth, and
#: one that fails (an impossible date, serial 0000, a 实施编码 not led by a valid USCC) is malformed.
CASE_NO = re.compile(r"[0-9A-Za-z-]{1,50}")
CASE_NO_MAX_LENGTH = 50
#: The national form's shape, before its parts are checked: what makes a number be read as one.
NATIONAL_SHAPE = re.compile(r"[0-9A-Z]{31}[0-9]{12}")
#: Why a number is not a valid 办件编号 (:func:`case_number_problems`).
CASE_NO_PROBLEMS = ("blank", "too_long", "characters", "national_form")


def case_number_problems(values: pd.Series) -> pd.Series:
    """Vectorised, per value: NA where it is a valid 办件编号 (:data:`CASE_NO`), else why not: ``blank`` (missing
    or empty), ``too_long`` (over 50 characters), ``characters`` (a blank, a control character or anything but
    letters, digits and ``-``), ``national_form`` (in the 43-character national shape but failing its checks:
    :func:`national_case_numbers`)."""
    text = values.astype("string")
    blank = text.isna() | (text.str.len() == 0)
    too_long = ~blank & (text.str.len() > CASE_NO_MAX_LENGTH)
    characters = ~blank & ~too_long & ~text.str.fullmatch(CASE_NO.pattern).fillna(False).astype(bool)
    shaped = ~blank & text.str.fullmatch(NATIONAL_SHAPE.pattern).fillna(False).astype(bool)
    national = pd.Series(False, index=text.index)
    if shaped.any():
        national[shaped] = national_case_numbers(text[shaped]).to_numpy()
    problems = np.select(
        [blank.fillna(True).to_numpy(dtype=bool), too_long.fillna(False).to_numpy(dtype=bool),
         characters.fillna(False).to_numpy(dtype=bool), (shaped & ~national).to_numpy(dtype=bool)],
        list(CASE_NO_PROBLEMS),
        default="",
    )  # fmt: skip
    out = pd.Series(problems, index=values.index, dtype="string")
    return out.mask(out == "")


def is_valid_case_no(text: str | None) -> bool:
    """One value: a valid 办件编号 by :func:`case_number_problems`."""
    return bool(case_number_problems(pd.Series([text], dtype="string")).isna().iloc[0])


def national_shaped(values: pd.Series) -> pd.Series:
    """True where a value has the national form's shape (43 characters, ending in a date and a serial): its
    实施编码, date and serial can be read from it (and, if it is valid, are right)."""
    return values.astype("string").str.fullmatch(NATIONAL_SHAPE.pattern).fillna(False).astype(bool)


# ---------------------------------------------------------------- 投资项目代码
#: 投资项目(统一)代码: 年份代码-地区(部门)代码-行业代码-项目类型代码-流水号, 4-6-2-2-6 digits (24 characters with the
#: dashes; research exchange-formats §3.3). python-stdnum (2.2) has no module for it. No check character is
#: published: the code is checked for its shape, a year code that is a year (or, in newer codes, YYMM), a region
#: code whose province part is a province, and a serial from 000001.
PROJECT_CODE = re.compile(r"(?P<year>\d{4})-(?P<region>\d{6})-(?P<industry>\d{2})-(?P<kind>\d{2})-(?P<serial>\d{6})")
#: GB/T 2260 province codes (the first two digits of a region code).
PROVINCE_CODES = frozenset(
    [*range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47), *range(50, 55), *range(61, 66), 71, 81, 82]
)
#: The first year the codes were issued (在线平台 赋码 from 2014; 全国投资项目在线审批监管平台).
PROJECT_CODE_FIRST_YEAR = 2014


def normalize_project_code_series(values: pd.Series) -> pd.Series:
    """NFKC (full-width digits and dashes to half-width), spaces and every dash-like character to ``-``; 20 digits
    typed without dashes get them back in the 4-6-2-2-6 places. NA for blanks."""
    text = nfkc(values.astype("string")).str.replace(r"\s+", "", regex=True)
    text = text.str.replace(r"[‐‑‒–—―－﹣_]", "-", regex=True)
    bare = text.str.fullmatch(r"\d{20}").fillna(False).astype(bool)
    groups = [text.str.slice(a, b) for a, b in ((0, 4), (4, 10), (10, 12), (12, 14), (14, 20))]
    text = text.mask(bare, groups[0].str.cat(groups[1:], sep="-"))
    return text.mask(text == "")


def project_code_problems(values: pd.Series) -> pd.Series:
    """Vectorised: per value (as :func:`normalize_project_code_series` gives it) what is wrong with it as a
    投资项目代码, or NA when it is well formed: ``format`` (not 4-6-2-2-6 digits), ``year`` (a year code that is
    neither a year from 2014 to next year nor a YYMM of those years), ``region`` (no province starts it),
    ``serial`` (000000)."""
    text = values.astype("string")
    parts = text.str.extract("^" + PROJECT_CODE.pattern + "$")
    shaped = parts["year"].notna()
    year = pd.to_numeric(parts["year"], errors="coerce")
    last = clock.today().year + 1
    as_year = year.between(PROJECT_CODE_FIRST_YEAR, last)
    as_yymm = (year // 100 + 2000).between(PROJECT_CODE_FIRST_YEAR, last) & (year % 100).between(1, 12)
    province = pd.to_numeric(parts["region"].str.slice(0, 2), errors="coerce").isin(PROVINCE_CODES)
    problems = np.select(
        [
            ~shaped.to_numpy(dtype=bool),
            ~(as_year | as_yymm).fillna(False).to_numpy(dtype=bool),
            ~province.fillna(False).to_numpy(dtype=bool),
            (parts["serial"] == "000000").fillna(False).to_numpy(dtype=bool),
        ],
        ["format", "year", "region", "serial"],
        default="",
    )
    out = pd.Series(problems, index=values.index, dtype="string")
    return out.mask((out == "") | text.isna())


def is_valid_project_code(code: str | None) -> bool:
    """One value (the sandbox, tests): True where :func:`project_code_problems` finds nothing."""
    if code is None:
        return False
    value = normalize_project_code_series(pd.Series([code]))
    return bool(value.notna().iloc[0]) and bool(project_code_problems(value).isna().iloc[0])
