"""Chinese-aware comparison features for record resolution, prepared in bulk (pandas string ops and DuckDB SQL).

Every feature is a column, so the same model runs on DuckDB here and on Spark beyond one machine:
- identifiers NFKC-normalised and upper-cased, 15-digit 身份证 upgraded, check digit verified, plus the id's
  characters sorted (a transposition keeps the sorted form, so it still blocks together);
- names without spaces, with one bracket form, companies without region prefixes and with one spelling of the
  legal form; each character's pinyin readings (heteronyms such as 曾 céng/zēng keep all), so homophone typos
  (张伟/张玮) compare equal by sound;
- addresses without the province/city/district prefix; phones as digits;
- items by provincial code, mapped from local codes and from the names clerks type when the code is blank
  (``schemas.items``), with the action a name states (设立, 变更, 延续, 注销) and the object it is about;
- whether the applicant filed several items that day (a package: 套餐), which makes a match by item name weak;
- dates parsed from the forms clerks type.
"""

from __future__ import annotations

import importlib.util
import unicodedata
from functools import cache
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.departments import local_item_codes
from schemas.case import LEGAL_PERSON, NATURAL_PERSON, items
from schemas.identifiers import ID_KIND_USCC, classify_identifiers
from schemas.items import catalogue_entries, identify_items, item_core
from schemas.text import TEXT, mapped, sub
from staging.normalise import clean_text, company_name_key, parse_timestamps

ADDRESS_PREFIX = r"^(江苏省?)?(常州市?)?(武进区?)?"


@cache
def toneless(reading: str) -> str:
    """A pinyin reading without its tone marks, ü as v (about 1,500 distinct readings)."""
    stripped = "".join(c for c in unicodedata.normalize("NFD", reading) if not unicodedata.combining(c))
    return stripped.replace("ü", "v")


def pinyin_tables(characters: set[str]) -> tuple[dict[int, str], dict[int, str]]:
    """``str.translate`` tables for the ``characters`` given (those the names hold; a few thousand, not the
    dictionary's 42,000): character → its most common reading, and → all its readings ("ceng|zeng ")."""
    known = pinyin_dict()
    primary, readings = {}, {}
    for code in map(ord, characters):
        text = known.get(code)
        if text is None:
            continue
        options = list(dict.fromkeys(toneless(r) for r in text.split(",")))
        primary[code] = options[0]
        readings[code] = "|".join(sorted(options)) + " "
    return primary, readings


#: Han characters (the basic block and extension A): each is one group of readings in ``name_sounds``; any other
#: character is a group of its own (followed by a space).
HAN = (0x3400, 0x9FFF)


@cache
def pinyin_dict() -> dict[int, str]:
    """pypinyin's character readings (code point → "zhāng,zhǎng"), read from its ``pinyin_dict`` module alone:
    importing the package (``pypinyin``) loads its phrase dictionary and trains its segmenter, about 0.3 s of CPU
    a start that nothing here uses."""
    location = importlib.util.find_spec("pypinyin")
    path = Path(location.submodule_search_locations[0]) / "pinyin_dict.py" if location else None
    spec = importlib.util.spec_from_file_location("_pypinyin_readings", path) if path and path.exists() else None
    if spec is None or spec.loader is None:  # laid out otherwise: the ordinary import
        from pypinyin.pinyin_dict import pinyin_dict as readings

        return readings
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.pinyin_dict


def sounds(names: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(primary pinyin, per-character reading groups) for each name; characters without a reading stand for
    themselves. Both are computed once per distinct name (common names, 张伟 and 王芳, are read once) by
    ``str.translate`` in C, the distinct names taken out of Arrow at once (a pandas string column hands them to
    Python one by one, slowly)."""
    position, distinct = pd.factorize(names)
    values = pa.array(distinct, type=pa.string()).to_pylist()
    characters = set("".join(values))
    primary, readings = pinyin_tables(characters)
    # A character outside the Han block is a group of its own: its reading (or itself) and a space.
    grouped = {code: readings.get(code, chr(code)) for code in map(ord, characters)}
    grouped.update({code: text + " " for code, text in grouped.items() if not HAN[0] <= code <= HAN[1]})
    py = pc.utf8_lower(pa.array([v.translate(primary) for v in values], type=pa.string()))
    groups = pc.utf8_trim_whitespace(pa.array([v.translate(grouped) for v in values], type=pa.string()))

    def spread(found: pa.Array) -> pd.Series:
        text = pd.arrays.ArrowStringArray(pa.chunked_array([found]))
        return pd.Series(text.take(position, allow_fill=True), index=names.index, dtype=TEXT)

    return spread(py), spread(groups)


def each_distinct(values: pd.Series, compute):
    """``compute`` (a Series → a Series or DataFrame of as many rows, row by row) run once per distinct value and
    spread back to every row, with ``values``' index: a million records repeat their names, identifiers, phones,
    addresses and timestamps (states of one record, re-entries, an applicant's other cases)."""
    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    result = compute(pd.Series(distinct, dtype=values.dtype))
    spread = result.iloc[codes]
    spread.index = values.index
    return spread


def prepare(cases: pd.DataFrame) -> pd.DataFrame:
    """Canonical cases (values as messy as re-entry makes them) → one row of comparison features per record."""
    ids = each_distinct(cases["applicant_id"], classify_identifiers)
    names = each_distinct(cases["applicant_name"], lambda v: sub(clean_text(v), r"\s+", ""))
    given_type = each_distinct(cases["applicant_type"], clean_text).replace(
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
    name_norm = names.where(kind != LEGAL_PERSON, each_distinct(names, company_name_key))
    typed_item_names = each_distinct(cases["item_name"], clean_text)
    item_names = item_core(typed_item_names)
    sources = each_distinct(cases["source_system"], clean_text).fillna("")
    codes = each_distinct(cases["item_code"], lambda v: clean_text(v).str.upper())
    catalogue = set(items()["item_code"])
    identified = identify_items(codes, typed_item_names, sources, local_item_codes())
    # A code the catalogue does not know (another system's numbering) still identifies the item within that system.
    item_key = identified["item_code"].fillna(codes.where(codes.notna() & ~codes.isin(catalogue)))
    # A catalogue item's name is known even where the record gave only the code.
    item_names = item_names.fillna(mapped(item_key, items().set_index("item_code")["item_name"].to_dict()))
    # Every object a catalogue item is known by (企业设立登记: 企业, 营业执照), else the object the name is about.
    objects = catalogue_entries().groupby("item_code")["object"].agg(lambda o: "|".join(sorted(set(o)))).to_dict()
    item_objects = mapped(item_key, objects).fillna(identified["object"])
    # +86 138…
    phone = each_distinct(
        cases["contact_phone"], lambda v: sub(sub(clean_text(v), r"\D", ""), r"^0?86(1\d{10})$", r"\1")
    )
    address = each_distinct(cases["address"], lambda v: sub(sub(clean_text(v), r"\s+", ""), ADDRESS_PREFIX, ""))
    name_py, name_sounds = sounds(name_norm)
    # Which state of a source record is newest (a record pulled again on a later day changed): the pipeline
    # passes the partition day; a file of cases has one state per record.
    if "partition_date" in cases:
        state_rank = pd.to_datetime(cases["partition_date"]).rank(method="dense").fillna(0).astype(int).to_numpy()
    else:
        state_rank = np.zeros(len(cases), dtype=int)
    return pd.DataFrame(
        {
            "uid": range(len(cases)),
            "source_system": sources,
            "source_record_id": clean_text(cases["source_record_id"]).fillna("").to_numpy(),
            "id_norm": ids["id"].where(ids["well_formed"]),
            "id_valid": ids["checksum_ok"].astype(bool),
            "id_kind": ids["kind"],
            "applicant_kind": kind,
            "name_norm": name_norm,
            "name_py": name_py,
            "name_sounds": name_sounds,
            "item_key": item_key,
            "item_known": item_key.isin(catalogue).to_numpy(),
            "item_name_norm": item_names,
            # The item as the record's own code says (a catalogue code, or the system's own): one system never
            # files one case under two codes.
            "item_code_id": identified["code_item"].fillna(codes),
            "item_action": identified["action"],
            "item_objects": item_objects,
            "submitted_date": each_distinct(cases["submitted_at"], parse_timestamps).dt.floor("D"),
            "phone_norm": phone.mask(phone.str.len() < 7),
            "address_norm": address.mask(address == ""),
            "state_rank": state_rank,
        }
    ).reset_index(drop=True)


def load_features(con: duckdb.DuckDBPyConnection, prepared: pd.DataFrame, table: str = "case_features") -> str:
    """Materialise the features in DuckDB, adding the identifier with its characters sorted."""
    # Sorted once per distinct identifier, in Python (SQL list functions per row cost five times as much), the
    # values taken out of Arrow at once (a pandas string column yields them one by one, slowly).
    id_sorted = each_distinct(
        prepared["id_norm"],
        lambda ids: pd.Series(
            [v if v is None else "".join(sorted(v)) for v in pa.Array.from_pandas(ids).to_pylist()], dtype=ids.dtype
        ),
    )
    # DuckDB reads an Arrow table directly, faster than the DataFrame's columns; the item classes are learned
    # from the Arrow table itself, and the table is written once, with its class and package day.
    con.register("prepared_arrow", pa.Table.from_pandas(prepared.assign(id_sorted=id_sorted), preserve_index=False))
    try:
        con.execute(
            """
            CREATE OR REPLACE TEMP VIEW prepared_cases AS
            SELECT * EXCLUDE (submitted_date, id_sorted), CAST(submitted_date AS DATE) AS submitted_date, id_sorted
            FROM prepared_arrow
            """
        )
        classes = learn_item_classes(con, "prepared_cases")
        con.register("item_classes", classes)
        # Only the columns the package days need go through the classing twice (a common table expression read
        # twice is materialised whole: every column of a million records written and read again).
        con.execute(
            f"""
            CREATE OR REPLACE TABLE {table} AS
            WITH tokened AS (
                SELECT *, coalesce(item_key, 'name:' || item_name_norm) AS item_token FROM prepared_cases
            ), classed AS (
                SELECT f.source_system, f.submitted_date, f.id_valid, f.id_norm, f.name_norm,
                       coalesce(c.item_class, f.item_token) AS item_class
                FROM tokened f LEFT JOIN item_classes c ON c.item_token = f.item_token
            ), {package_days_sql("classed")}
            SELECT f.*, coalesce(c.item_class, f.item_token) AS item_class,
                   (by_id.items IS NOT NULL OR by_name.items IS NOT NULL) AS package_day
            FROM tokened f
            LEFT JOIN item_classes c ON c.item_token = f.item_token
            LEFT JOIN day_items by_id ON f.id_valid AND by_id.applicant = f.id_norm
                                     AND by_id.submitted_date = f.submitted_date
            LEFT JOIN day_items by_name ON by_name.applicant = 'name:' || f.name_norm
                                       AND by_name.submitted_date = f.submitted_date
            """
        )
    finally:
        con.execute("DROP VIEW IF EXISTS prepared_cases")
        con.unregister("prepared_arrow")
        con.unregister("item_classes")  # unregistering what was never registered is no error
    return table


def package_days_sql(table: str) -> str:
    """``day_items``: (applicant, day) where the applicant (by valid identifier, or by name) filed two or more
    different items in one system (``package_day``). Several items on one day are a package (套餐) of several
    cases, so there a match on the item's name alone is weak evidence of one case."""
    return f"""
        applicants AS (
            SELECT source_system, submitted_date, item_class, id_norm AS applicant FROM {table}
            WHERE id_valid AND id_norm IS NOT NULL
            UNION ALL
            SELECT source_system, submitted_date, item_class, 'name:' || name_norm FROM {table}
            WHERE name_norm IS NOT NULL
        ), per_system AS (
            SELECT applicant, submitted_date, count(DISTINCT item_class) AS items FROM applicants
            WHERE submitted_date IS NOT NULL AND item_class IS NOT NULL
            GROUP BY applicant, submitted_date, source_system
        ), day_items AS (
            SELECT applicant, submitted_date, max(items) AS items FROM per_system GROUP BY ALL HAVING max(items) >= 2
        )
    """


#: How often two item spellings must be seen on the same case before they count as one item.
MIN_ITEM_SUPPORT = 2
MIN_ITEM_PURITY = 0.5


def learn_item_classes(con: duckdb.DuckDBPyConnection, table: str) -> pd.DataFrame:
    """Learn which item codes and names the systems use for the same item, from the data itself.

    Department systems number items their own way and clerks type names the catalogue does not know
    (环评审批 for 建设项目环境影响评价文件审批). Evidence that two spellings are one item: an applicant with a
    valid identifier has exactly one item around a day in one system and exactly one in another. Days with
    several items in a system (packages) teach nothing. A spelling joins a class when the pairing recurs
    (support) and accounts for at least half of that spelling's such pairings (purity).
    """
    pairs = con.execute(
        f"""
        WITH tokens AS (
            SELECT uid, source_system, id_norm, submitted_date,
                   coalesce(item_key, 'name:' || item_name_norm) AS token
            FROM {table}
            WHERE id_valid AND id_norm IS NOT NULL AND submitted_date IS NOT NULL
              AND coalesce(item_key, item_name_norm) IS NOT NULL
        ), lonely AS (  -- records whose system holds no other item of the applicant within a day
            SELECT a.* FROM tokens a
            WHERE NOT EXISTS (
                SELECT 1 FROM tokens b
                WHERE b.id_norm = a.id_norm AND b.source_system = a.source_system AND b.token <> a.token
                  AND abs(date_diff('day', a.submitted_date, b.submitted_date)) <= 1)
        ), anchored AS (
            SELECT a.token AS token_a, b.token AS token_b
            FROM lonely a JOIN lonely b
              ON a.id_norm = b.id_norm AND a.source_system < b.source_system
             AND abs(date_diff('day', a.submitted_date, b.submitted_date)) <= 1
        ), both_ways AS (
            SELECT token_a, token_b FROM anchored UNION ALL SELECT token_b, token_a FROM anchored
        ), totals AS (SELECT token_a, count(*) AS total FROM both_ways GROUP BY token_a)
        SELECT w.token_a, w.token_b, count(*) AS support, any_value(t.total) AS total
        FROM both_ways w JOIN totals t USING (token_a)
        WHERE w.token_a <> w.token_b
        GROUP BY w.token_a, w.token_b
        HAVING count(*) >= {MIN_ITEM_SUPPORT} AND count(*) >= {MIN_ITEM_PURITY} * any_value(t.total)
        """
    ).df()
    if pairs.empty:
        return pd.DataFrame({"item_token": pd.Series(dtype=str), "item_class": pd.Series(dtype=str)})
    tokens = con.execute(
        f"""
        SELECT coalesce(item_key, 'name:' || item_name_norm) AS token, bool_or(item_known) AS known,
               mode(item_action) AS action
        FROM {table} WHERE coalesce(item_key, item_name_norm) IS NOT NULL GROUP BY ALL
        """
    ).df()
    return _constrained_classes(pairs, tokens.set_index("token"))


def _constrained_classes(pairs: pd.DataFrame, tokens: pd.DataFrame) -> pd.DataFrame:
    """Join spellings into classes, strongest evidence first, never joining two catalogue items or two actions.

    Connected components would let a chain (企业设立登记 ↔ a department's own code ↔ 企业变更登记) make one item of
    two; here a pair whose classes already hold different catalogue items or actions stays apart. The pairs are
    spellings, not records (a few hundred), so this loop is small whatever the number of records.
    """
    parent: dict[str, str] = {}
    known: dict[str, set[str]] = {}
    actions: dict[str, set[str]] = {}

    def root(token: str) -> str:
        if token not in parent:
            parent[token] = token
            is_known = token in tokens.index and bool(tokens.at[token, "known"])
            action = tokens.at[token, "action"] if token in tokens.index else None
            known[token] = {token} if is_known else set()
            actions[token] = {action} if isinstance(action, str) else set()
        while parent[token] != token:
            parent[token] = parent[parent[token]]
            token = parent[token]
        return token

    ordered = pairs.assign(
        first=pairs[["token_a", "token_b"]].min(axis=1), second=pairs[["token_a", "token_b"]].max(axis=1)
    )
    ordered = ordered.sort_values(["support", "first", "second"], ascending=[False, True, True])
    for a, b in zip(ordered["first"], ordered["second"], strict=True):
        ra, rb = root(a), root(b)
        if ra == rb or len(known[ra] | known[rb]) > 1 or len(actions[ra] | actions[rb]) > 1:
            continue
        small, large = sorted((ra, rb))
        parent[large] = small
        known[small] |= known.pop(large)
        actions[small] |= actions.pop(large)
    classes = pd.DataFrame({"item_token": list(parent)}, dtype=str)
    classes["root"] = [root(token) for token in classes["item_token"]]
    # A class is named after its smallest spelling, so the same data always gives the same classes.
    classes["item_class"] = "class:" + classes.groupby("root")["item_token"].transform("min")
    return classes[["item_token", "item_class"]]
