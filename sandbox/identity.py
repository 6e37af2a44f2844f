"""The sandbox's own identity numbers: 统一社会信用代码 and 居民身份证号码, made and checked as the standards say.

Written from the standards (DESIGN.md, "Identifier and calendar rules"; research/standards.md §1–2), not from the
bridge's validators, so that the stand-ins and the bridge can disagree: tests/test_sandbox_identity.py holds these
against python-stdnum and against codes published elsewhere.

- 统一社会信用代码 (GB 32100-2015): 18 characters of ``0-9A-HJ-NPQRTUWXY`` (no I, O, S, V, Z): 登记管理部门 and 机构类别
  (2), 登记管理机关行政区划码 (6), 主体标识码 = the 组织机构代码 (9, whose last character is its own GB 11714 check),
  and a check character: the characters' values weighted by 3^i mod 31, check = (31 − Σ mod 31) mod 31.
- 组织机构代码 (GB 11714-1997): 8 characters (digits and capitals, A = 10 … Z = 35), weights 3 7 9 10 5 8 4 2,
  check = 11 − Σ mod 11, written X for 10 and 0 for 11.
- 居民身份证号码 (GB 11643-1999): 地址码 (6) + 出生日期 (8) + 顺序码 (3) + a check character (ISO 7064 MOD 11-2):
  weights 2^(17−i) mod 11, check = "10X98765432"[Σ mod 11]. A 15-digit number of the old layout (no century, no
  check) reads as the 18-digit one with ``19`` inserted and the check appended.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from zoneinfo import ZoneInfo

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))  # 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28
ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
RIC_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
RIC_CHECK = "10X98765432"

#: 登记管理部门 and 机构类别, the region (GB/T 2260: six digits), the 组织机构代码 and the check.
USCC_SHAPE = re.compile(f"[{USCC_CHARS}]{{2}}[0-9]{{6}}[{USCC_CHARS}]{{10}}")
RIC_SHAPE = re.compile(r"\d{17}[\dX]")
OLD_RIC_SHAPE = re.compile(r"\d{15}")
#: The earliest birth year a 身份证号 carries (GB 11643's own example is of 1880).
FIRST_BIRTH_YEAR = 1880
SHANGHAI = ZoneInfo("Asia/Shanghai")

#: 证件类型 of a licence holder's code as the market-regulation registry writes it (GA/T 2000.156):
#: 001 统一社会信用代码, 111 居民身份证.
HOLDER_CODE_TYPE = {"legal_person": "001", "natural_person": "111"}


# ---------------------------------------------------------------- 统一社会信用代码 (GB 32100-2015)
def org_code_check_char(body8: str) -> str:
    """The check character of an 8-character 组织机构代码 body (GB 11714)."""
    total = sum(int(char, 36) * weight for char, weight in zip(body8, ORG_CODE_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_CHARS.index(char) * weight for char, weight in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARS[(31 - total % 31) % 31]


def make_uscc(prefix8: str, org_body8: str) -> str:
    """A code from its first eight characters (登记管理部门, 机构类别, region: ``91320412`` a Wujin enterprise) and
    the 8-character body of its 组织机构代码, both check characters computed."""
    first17 = prefix8 + org_body8 + org_code_check_char(org_body8)
    return first17 + uscc_check_char(first17)


def is_valid_uscc(code: str) -> bool:
    return bool(USCC_SHAPE.fullmatch(code)) and uscc_check_char(code[:17]) == code[17]


# ---------------------------------------------------------------- 居民身份证号码 (GB 11643-1999)
def ric_check_char(first17: str) -> str:
    return RIC_CHECK[sum(int(digit) * weight for digit, weight in zip(first17, RIC_WEIGHTS, strict=True)) % 11]


def make_ric(region: str, birth: dt.date, sequence: int) -> str:
    """A number from its 地址码 (``320412`` 武进区), birth date and 3-digit 顺序码 (odd: a man), check appended."""
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + ric_check_char(first17)


def _birth_date_ok(yyyymmdd: str, today: dt.date | None = None) -> bool:
    """A real date from 1880 up to ``today`` (default: today in Asia/Shanghai): a date no one can be born on is no
    身份证号."""
    try:
        born = dt.datetime.strptime(yyyymmdd, "%Y%m%d").date()
    except ValueError:
        return False
    return dt.date(FIRST_BIRTH_YEAR, 1, 1) <= born <= (today or dt.datetime.now(SHANGHAI).date())


def is_valid_ric(number: str, today: dt.date | None = None) -> bool:
    """A well-formed 身份证号 (GB 11643) of someone born by ``today`` (default: today in Asia/Shanghai)."""
    return (
        bool(RIC_SHAPE.fullmatch(number))
        and _birth_date_ok(number[6:14], today)
        and ric_check_char(number[:17]) == number[17]
    )


# ---------------------------------------------------------------- a receiver's check of an applicant's number
def applicant_id_ok(value: object) -> bool:
    """Whether a receiving platform takes ``value`` as an applicant's 证件号码: the number as a clerk may type it
    (full-width characters, spaces, dashes, a lower-case x) read as what it is, then checked.

    The kind is read from the shape, as a platform that is not told the kind must: 17 digits and a digit or X
    with a birth date a person can have is a 身份证号 (and checked as one); 15 digits is an old 身份证号 (its date
    must be real); anything else of 18 code characters is a 统一社会信用代码."""
    if value is None:
        return False
    number = re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", str(value))).upper()
    if OLD_RIC_SHAPE.fullmatch(number):
        return _birth_date_ok("19" + number[6:12])
    if RIC_SHAPE.fullmatch(number) and _birth_date_ok(number[6:14]):
        return ric_check_char(number[:17]) == number[17]
    return is_valid_uscc(number)


# ---------------------------------------------------------------- 营业执照 numbers
def business_licence_number(holder_code: str, applicant_type: str) -> str:
    """The number the registry prints on a 营业执照: since 三证合一 (2015) the holder's own USCC. An enterprise
    applies under it; a 个体工商户 applies under its operator's 身份证号 and is given a USCC of its own (92…):
    the sandbox's registry derives that one from the operator's number, so the same shop keeps one number from run
    to run (its invention: a real registry assigns it)."""
    if applicant_type == "legal_person":
        return holder_code
    digest = int(hashlib.sha1(holder_code.encode()).hexdigest()[:12], 16)
    return make_uscc("92320412", f"{digest % 10**8:08d}")
