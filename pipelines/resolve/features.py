"""Chinese-aware comparison features for record resolution, prepared in bulk (pandas string ops and DuckDB SQL).

Every feature is a column, so the same model runs on DuckDB here and on Spark beyond one machine:
- identifiers NFKC-normalised and upper-cased, 15-digit 身份证 upgraded, check digit verified, plus the id's
  characters sorted (a transposition keeps the sorted form, so it still blocks together);
- names without spaces, with one bracket form, companies without region prefixes and with one spelling of the
  legal form; each character's pinyin readings (heteronyms such as 曾 céng/zēng keep all), so homophone typos
  (张伟/张玮) compare equal by sound;
- addresses without the province/city/district prefix; phones as digits;
- items by provincial code, mapped from local codes and from the names clerks type when the code is blank;
- dates parsed from the forms clerks type.
"""

from __future__ import annotations

import unicodedata
from functools import cache

import duckdb
import pandas as pd

from pipelines.stage.normalise import clean_text, company_name_key, parse_timestamps
from schemas.case import LEGAL_PERSON, NATURAL_PERSON, item_name_index, items, local_item_codes
from schemas.identifiers import ID_KIND_USCC, classify_identifiers
from schemas.text import sub

FEATURE_COLUMNS = (
    "uid",
    "source_system",
    "source_record_id",
    "id_norm",
    "id_valid",
    "id_sorted",
    "applicant_kind",
    "name_norm",
    "name_py",
    "name_readings",
    "item_key",
    "item_known",
    "item_name_norm",
    "submitted_date",
    "phone_norm",
    "address_norm",
)
ADDRESS_PREFIX = r"^(江苏省?)?(常州市?)?(武进区?)?"


@cache
def pinyin_tables() -> tuple[dict[int, str], dict[int, str]]:
    """``str.translate`` tables: character → its most common reading, and → all its readings ("ceng|zeng ")."""
    from pypinyin.pinyin_dict import pinyin_dict

    def toneless(reading: str) -> str:
        stripped = "".join(c for c in unicodedata.normalize("NFD", reading) if not unicodedata.combining(c))
        return stripped.replace("ü", "v")

    primary, readings = {}, {}
    for code, text in pinyin_dict.items():
        options = list(dict.fromkeys(toneless(r) for r in text.split(",")))
        primary[code] = options[0]
        readings[code] = "|".join(sorted(options)) + " "
    return primary, readings


def sounds(names: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(primary pinyin, per-character reading groups) for each name; characters without a reading stand for
    themselves. Both are plain strings, computed in C by ``str.translate``."""
    primary, readings = pinyin_tables()
    spaced = sub(names, r"([^\x{3400}-\x{9fff}])", r"\1 ")  # a non-Han character is a group of its own
    return names.str.translate(primary).str.lower(), spaced.str.translate(readings).str.strip()


def _item_keys(codes: pd.Series, names: pd.Series, sources: pd.Series) -> pd.Series:
    """Provincial item code from the code itself, a department's local code, or the item's name; else NA."""
    catalogue = set(items()["item_code"])
    code = codes.str.upper()
    local = local_item_codes().rename(columns={"local_item_code": "code", "item_code": "mapped"})
    pairs = pd.DataFrame({"source_system": sources.fillna("").to_numpy(), "code": code.fillna("").to_numpy()})
    from_local = pd.Series(
        pairs.merge(local, how="left", on=["source_system", "code"])["mapped"].to_numpy(),
        index=code.index,
        dtype="string",
    )
    key = code.where(code.isin(catalogue), from_local)
    from_name = names.str.replace("(", "（").str.replace(")", "）").map(item_name_index()).astype("string")
    # A code the catalogue does not know (another system's numbering) still identifies the item within that system.
    return key.fillna(from_name).fillna(code.where(code.notna() & ~code.isin(catalogue)))


def prepare(cases: pd.DataFrame) -> pd.DataFrame:
    """Canonical cases (values as messy as re-entry makes them) → one row of comparison features per record."""
    ids = classify_identifiers(cases["applicant_id"])
    names = clean_text(cases["applicant_name"]).str.replace(r"\s+", "", regex=True)
    given_type = clean_text(cases["applicant_type"]).replace(
        {
            "法人": LEGAL_PERSON,
            "企业": LEGAL_PERSON,
            "单位": LEGAL_PERSON,
            "1": LEGAL_PERSON,
            "自然人": NATURAL_PERSON,
            "个人": NATURAL_PERSON,
            "个体工商户": NATURAL_PERSON,
            "2": NATURAL_PERSON,
        }
    )
    kind = given_type.where(given_type.isin([LEGAL_PERSON, NATURAL_PERSON]))
    looks_company = names.str.contains(r"(?:公司|厂|中心|合作社|集团|事务所)$", regex=True).fillna(False).astype(bool)
    kind = kind.fillna(ids["kind"].map({ID_KIND_USCC: LEGAL_PERSON}).astype("string"))
    kind = kind.fillna(pd.Series(NATURAL_PERSON, index=kind.index).where(~looks_company, LEGAL_PERSON))
    name_norm = names.where(kind != LEGAL_PERSON, company_name_key(names))
    item_names = clean_text(cases["item_name"]).str.replace(r"\s+", "", regex=True)
    sources = clean_text(cases["source_system"]).fillna("")
    item_key = _item_keys(clean_text(cases["item_code"]), item_names, sources)
    catalogue = set(items()["item_code"])
    phone = clean_text(cases["contact_phone"]).str.replace(r"\D", "", regex=True)
    phone = sub(phone, r"^0?86(1\d{10})$", r"\1")  # +86 138…
    address = (
        clean_text(cases["address"]).str.replace(r"\s+", "", regex=True).str.replace(ADDRESS_PREFIX, "", regex=True)
    )
    name_py, name_sounds = sounds(name_norm)
    return pd.DataFrame(
        {
            "uid": range(len(cases)),
            "source_system": sources,
            "source_record_id": clean_text(cases["source_record_id"]).fillna("").to_numpy(),
            "id_norm": ids["id"].where(ids["well_formed"]),
            "id_valid": ids["checksum_ok"].astype(bool),
            "applicant_kind": kind,
            "name_norm": name_norm,
            "name_py": name_py,
            "name_sounds": name_sounds,
            "item_key": item_key,
            "item_known": item_key.isin(catalogue).to_numpy(),
            "item_name_norm": item_names,
            "submitted_date": parse_timestamps(cases["submitted_at"]).dt.floor("D"),
            "phone_norm": phone.mask(phone.str.len() < 7),
            "address_norm": address.mask(address == ""),
        }
    ).reset_index(drop=True)


def load_features(con: duckdb.DuckDBPyConnection, prepared: pd.DataFrame, table: str = "case_features") -> str:
    """Materialise the features in DuckDB, adding the identifier with its characters sorted."""
    con.register("prepared_cases", prepared)
    con.execute(
        f"""
        CREATE OR REPLACE TABLE {table} AS
        SELECT * EXCLUDE (submitted_date), CAST(submitted_date AS DATE) AS submitted_date,
               CASE WHEN id_norm IS NOT NULL THEN array_to_string(list_sort(string_split(id_norm, '')), '') END
                   AS id_sorted
        FROM prepared_cases
        """
    )
    con.unregister("prepared_cases")
    return table
