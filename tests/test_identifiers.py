import pandas as pd
import pytest

from schemas.identifiers import (
    classify_identifiers,
    is_valid_licence_identifier,
    is_valid_ric,
    is_valid_uscc,
    make_licence_identifier,
    make_uscc,
    mask_identifier,
    mask_phone_series,
    mod37_36_check_char,
    upgrade_ric15,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "code",
    [
        "9132041258558635XF",
        "91320412MA1MGBN10R",
        "91320412MACUC3CG71",
        "91110000600037341L",
        "11100000000013338W",
        "913205056082348768",
    ],
)
def test_valid_uscc(code):
    assert is_valid_uscc(code)


@pytest.mark.parametrize(
    "code", ["91110000600037341N", "A1110000600037341L", "9111000060003IOZSV", "91320412MA1PZXCV5T", "913204", None]
)
def test_invalid_uscc(code):
    assert not is_valid_uscc(code)


def test_uscc_full_width_and_lower_case_normalise():
    assert is_valid_uscc("９１３２０４１２５８５５８６３５ｘｆ")


def test_make_uscc_produces_valid_codes():
    assert is_valid_uscc(make_uscc("91320412", "MA1MGBN1"))
    assert make_uscc("91320412", "MA1MGBN1") == "91320412MA1MGBN10R"


@pytest.mark.parametrize(
    "number", ["11010519491231002X", "440524188001010014", "360426199101010071", "44011320141005001X"]
)
def test_valid_ric(number):
    assert is_valid_ric(number)


@pytest.mark.parametrize("number", ["36042619910102009X", "360426199113010079", "1101051949123100", ""])
def test_invalid_ric(number):
    assert not is_valid_ric(number)


def test_fifteen_digit_ric_upgrades():
    assert upgrade_ric15("130503670401001") == "130503196704010016"


def test_classify_in_bulk():
    frame = classify_identifiers(
        pd.Series(
            [
                "９１３２０４１２５８５５８６３５ＸＦ",
                "11010519491231002x",
                "130503670401001",
                "9132041258558635XE",
                "abc",
                None,
            ]
        )
    )
    assert frame["id"].tolist()[:3] == ["9132041258558635XF", "11010519491231002X", "130503196704010016"]
    assert frame["kind"].tolist()[:4] == ["uscc", "ric", "ric", "uscc"]
    assert frame["checksum_ok"].tolist() == [True, True, True, False, False, False]
    assert frame["well_formed"].tolist() == [True, True, True, True, False, False]


@pytest.mark.parametrize(
    "identifier",
    [
        "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
        "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F",
        "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0",
    ],
)
def test_published_licence_identifiers_validate(identifier):
    assert is_valid_licence_identifier(identifier)


def test_licence_identifier_round_trip_and_tamper():
    built = make_licence_identifier("11100000000013338W011", "11430000006122244L", "20230000403")
    assert built.endswith(".001.U")
    assert not is_valid_licence_identifier(built[:-1] + "V")
    assert mod37_36_check_char("0") != mod37_36_check_char("1")


def test_masking_keeps_enterprise_codes_and_hides_people():
    assert mask_identifier("11010519491231002X") == "110105********002X"
    assert mask_identifier("9132041258558635XF") == "9132041258558635XF"
    assert mask_phone_series(pd.Series(["13812345678"], dtype="string")).iloc[0] == "138****5678"
