"""The sandbox's own identity numbers (sandbox/identity.py) against what is published, not against the bridge: codes
printed elsewhere (research/standards.md §1–2 lists them with their sources) and python-stdnum, an independent
implementation of GB 32100 and GB 11643."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from stdnum.cn import ric as stdnum_ric
from stdnum.cn import uscc as stdnum_uscc

from sandbox import identity
from sandbox.people import ApplicantFactory

pytestmark = pytest.mark.unit

#: 统一社会信用代码 published elsewhere, each with an old 组织机构代码 or a new MA… body: the stdnum documentation's
#: example, two government test examples, Wujin enterprises (常州嬉戏谷有限公司 and three MA… codes from public
#: repositories), ministries and provincial bodies, a Sichuan 实施主体 and a Shandong one (research notes).
PUBLISHED_USCC = (
    "91110000600037341L",
    "121200004013590816",
    "913205056082348768",
    "9132041258558635XF",
    "91320412MA1MGBN10R",
    "91320412MACUC3CG71",
    "91320412MA1WKD3445",
    "11100000000013338W",
    "11430000006122244L",
    "11330105002500287C",
    "12441500196720244T",
    "11220000013544541J",
    "11370800MB28559184",
    "11511301008778183N",
)
#: A wrong check character; a code in circulation that fails it (a public validator whitelists it); forbidden
#: letters; fabricated mock data.
FAILING_USCC = ("91110000600037341N", "91350203M0001QAY9B", "9111000060003IOZSV", "91320412MA1PZXCV5T")
#: GB 11643's own examples (one born in 1880) and python-stdnum's test numbers.
PUBLISHED_RIC = ("11010519491231002X", "440524188001010014", "360426199101010071", "44011320141005001X")


@pytest.mark.parametrize("code", PUBLISHED_USCC)
def test_published_codes_are_rebuilt_from_their_first_sixteen_characters(code):
    assert identity.make_uscc(code[:8], code[8:16]) == code  # both the GB 11714 and the GB 32100 check
    assert identity.is_valid_uscc(code)
    assert identity.applicant_id_ok(code)


@pytest.mark.parametrize("code", FAILING_USCC)
def test_codes_that_fail_are_refused(code):
    assert not identity.is_valid_uscc(code)
    assert not identity.applicant_id_ok(code)


def test_a_region_code_is_six_digits():
    first17 = "91ABCDEF" + "MA1MGBN10"  # check characters right, region letters
    assert not identity.is_valid_uscc(first17 + identity.uscc_check_char(first17))
    assert not stdnum_uscc.is_valid(first17 + identity.uscc_check_char(first17))


def test_the_uscc_check_agrees_with_python_stdnum():
    rng = random.Random(32100)
    for _ in range(3000):
        first17 = "".join(rng.choice(identity.USCC_CHARS) for _ in range(17))
        assert identity.uscc_check_char(first17) == stdnum_uscc.calc_check_digit(first17), first17


@pytest.mark.parametrize("number", PUBLISHED_RIC)
def test_published_id_numbers_check(number):
    assert identity.ric_check_char(number[:17]) == number[17]
    assert identity.is_valid_ric(number)
    assert identity.applicant_id_ok(number)


def test_the_id_number_check_agrees_with_python_stdnum():
    rng = random.Random(11643)
    for _ in range(3000):
        first17 = f"{rng.randrange(10**16, 10**17):017d}"
        assert identity.ric_check_char(first17) == stdnum_ric.calc_check_digit(first17 + "0"), first17


def test_id_numbers_that_fail():
    assert not identity.is_valid_ric("36042619910102009X")  # wrong check character
    assert not identity.is_valid_ric("360426199113010079")  # month 13
    today = dt.date(2026, 12, 7)
    assert identity.is_valid_ric(identity.make_ric("320412", today, 11), today=today)  # born today
    assert not identity.is_valid_ric(identity.make_ric("320412", today + dt.timedelta(days=2), 11), today=today)


def test_a_receiver_reads_a_number_as_a_clerk_types_it():
    assert identity.applicant_id_ok("１１０１０５１９４９１２３１００２Ｘ")  # full-width
    assert identity.applicant_id_ok("110105 19491231 002x")
    assert identity.applicant_id_ok("9132-0412-MA1M-GBN1-0R")
    assert identity.applicant_id_ok("130503670401001")  # the old 15-digit layout (GB 11643's upgrade example)
    assert not identity.applicant_id_ok("130503671301001")  # month 13
    assert not identity.applicant_id_ok(None)
    assert not identity.applicant_id_ok("")
    assert not identity.applicant_id_ok("91320412MA1MGBN10")  # 17 characters


def test_the_sandboxs_applicants_carry_numbers_stdnum_accepts():
    people = ApplicantFactory(random.Random(5))
    for _ in range(300):
        company, shop = people.company(), people.shop()
        assert stdnum_uscc.is_valid(company.identifier), company
        number = shop.identifier
        assert stdnum_ric.calc_check_digit(number) == number[17], shop
        assert stdnum_ric.get_birth_date(number) < dt.date(2003, 1, 1)  # born 1955–2002


def test_a_business_licence_carries_the_holders_uscc_or_the_shops_own():
    company = "91320412MA1MGBN10R"
    assert identity.business_licence_number(company, "legal_person") == company
    shop = identity.business_licence_number("11010519491231002X", "natural_person")
    assert shop.startswith("92320412") and stdnum_uscc.is_valid(shop)
    assert identity.org_code_check_char(shop[8:16]) == shop[16]
    assert identity.business_licence_number("11010519491231002X", "natural_person") == shop  # stable
    assert identity.business_licence_number("440524188001010014", "natural_person") != shop
