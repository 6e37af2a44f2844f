"""A plain rule pipeline for record resolution (pandas + rapidfuzz): the yardstick ``benchmarks/resolution.py``
runs the engine beside. It imports nothing of the bridge: it is what a careful analyst writes by hand.

    .venv/bin/python benchmarks/rule_pipeline.py --input cases.csv --output clusters.csv

Input: the ``dedup`` command's CSV (source_system, source_record_id, item_code, item_name, applicant_type,
applicant_name, applicant_id, contact_phone, address, submitted_at, …). Output: one row per input row, in input
order: source_system, source_record_id, cluster_id.

How, tuned in good faith (everything per unique value or per pair array, no Python loop over records or pairs):

1. Normalise once per distinct value: identifiers NFKC and upper-cased, with their check character verified
   (GB 11643 身份证, GB 32100 统一社会信用代码); names without spaces, brackets unified, company names without the
   region prefix; each name's pinyin (pypinyin, per distinct character); phones as digits (+86 and the area code
   dropped); dates from the forms clerks type (2025-01-07, 20250107, 2025年01月07日, 2025/01/07 …); item names
   without the clerk's suffixes (（新办）, 申请, 办理, 证核发).
2. Block on the identifier, the phone and the name's pinyin, each within the case window: a key joins itself in
   the same 11-day bucket and in the next, so every pair within ten days is found once, and a common name's year
   of filings is never paired with itself.
3. Score each candidate pair with rapidfuzz (``process.cpdist``, pair by pair, on all cores): identifier edit
   distance, name and item-name similarity; plus equal phone, day gap, same source record.
4. Rules: a pair is one case when the items agree (the same code in one system, or similar names) within the
   window, and the applicant agrees (the same identifier or one typo apart, or the same name by characters or
   sound with a phone or address in common); two different valid identifiers never match. Clusters are the
   connected components of the matched pairs (scipy).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
from pypinyin import Style, lazy_pinyin
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

WINDOW_DAYS = 10
REGION_PREFIX = re.compile(r"^(江苏省?)?(常州市?)?(武进区?)?")
ITEM_SUFFIX = re.compile(r"(（[^）]*）|\([^)]*\))$|(申请|办理|核发|证核发|证)$")
#: Item families by keyword, first match wins (the analyst's reading of the names clerks type); 执照 (a business
#: licence) and a bare 登记 are either registration.
FAMILIES = [
    ("小餐饮", "小餐饮|小型餐饮"),
    ("食品", "食品"),
    ("个体", "个体"),
    ("企业", "企业设立|企业开办|企业变更|企业注销|公司"),
    ("执照", "营业执照|^(?:设立|变更|注销)登记"),
    ("卫生", "卫生许可"),
    ("施工", "施工"),
    ("医疗", "诊所|医疗机构"),
    ("预售", "预售"),
    ("投资", "投资项目"),
    ("货运", "货运|货物运输"),
    ("排污", "排污"),
    ("环评", "环评|环境影响"),
    ("药品", "药"),
]
REGISTRATIONS = ("个体", "企业", "执照")
ACTIONS = [("变更", "变更"), ("注销", "注销"), ("延续", "延续|换证|到期")]
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
ID_CHECK = "10X98765432"
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28])


def per_unique(values: pd.Series, function) -> pd.Series:
    """``function`` over the distinct values of ``values`` (a Series in, a Series out), mapped back."""
    codes, uniques = pd.factorize(values)
    done = function(pd.Series(uniques, dtype=object)).to_numpy(object)
    out = np.where(codes >= 0, done[np.clip(codes, 0, None)], None)
    return pd.Series(out, index=values.index, dtype=object)


def nfkc(values: pd.Series) -> pd.Series:
    return values.map(lambda v: unicodedata.normalize("NFKC", v).strip())


def valid_identifier(ids: pd.Series) -> pd.Series:
    """Check character of an 18-character 身份证 or 统一社会信用代码 (vectorised over the distinct values)."""
    ok = pd.Series(False, index=ids.index)
    ids = ids.fillna("")
    shaped = ids.str.fullmatch(r"\d{17}[\dX]")
    if shaped.any():
        digits = np.array([list(map(int, s[:17])) for s in ids[shaped]], dtype=int).reshape(-1, 17)
        expected = np.array(list(ID_CHECK))[(digits @ ID_WEIGHTS) % 11]
        ok[shaped] = expected == ids[shaped].str[17].to_numpy()
    uscc = ids.str.fullmatch(f"[{USCC_CHARS}]{{18}}") & ~shaped
    if uscc.any():
        index = {c: i for i, c in enumerate(USCC_CHARS)}
        values = np.array([[index[c] for c in s] for s in ids[uscc]], dtype=int).reshape(-1, 18)
        check = (31 - (values[:, :17] @ USCC_WEIGHTS) % 31) % 31
        ok[uscc] = check == values[:, 17]
    return ok


def pinyin(names: pd.Series) -> pd.Series:
    """Toneless pinyin of each name, read character by character (pypinyin once per distinct character)."""
    chars = sorted(set("".join(names.dropna())))
    table = {ord(c): "".join(lazy_pinyin(c, style=Style.NORMAL)) for c in chars}
    return names.str.translate(table).str.lower()


def parse_days(values: pd.Series) -> pd.Series:
    """Day number (days since 1970) from the forms clerks type; NaN when unreadable."""
    parts = values.str.extract(r"(\d{4})\D{0,2}(\d{1,2})\D{0,2}(\d{1,2})")
    dates = pd.to_datetime({"year": parts[0], "month": parts[1], "day": parts[2]}, errors="coerce").astype(
        "datetime64[s]"
    )
    days = dates.to_numpy().astype("datetime64[D]").astype("float64")
    days[dates.isna().to_numpy()] = np.nan
    return pd.Series(days, index=values.index)


def item_families(names: pd.Series) -> pd.DataFrame:
    """Family and action (设立 unless the name says 变更, 注销 or 延续) of each item name."""
    family = pd.Series(None, index=names.index, dtype=object)
    for name, pattern in FAMILIES:
        family = family.where(family.notna() | ~names.str.contains(pattern, na=False), name)
    action = pd.Series("设立", index=names.index, dtype=object)
    for name, pattern in reversed(ACTIONS):
        action = action.where(~names.str.contains(pattern, na=False), name)
    return pd.DataFrame({"family": family, "action": action.where(names.notna())})


def normalise(cases: pd.DataFrame) -> pd.DataFrame:
    def text(column: str) -> pd.Series:
        return per_unique(cases[column], lambda u: nfkc(u).str.replace(r"\s+", "", regex=True)).replace("", None)

    ids = text("applicant_id").str.upper()
    names = text("applicant_name").str.replace("(", "（").str.replace(")", "）")
    company = names.str.contains(r"(?:公司|厂|中心|合作社|集团|事务所)$", na=False)
    names = names.where(
        ~company, per_unique(names.where(company), lambda u: u.str.replace(REGION_PREFIX, "", regex=True))
    )
    phone = per_unique(
        cases["contact_phone"],
        lambda u: (
            nfkc(u)
            .str.replace(r"\D", "", regex=True)
            .str.replace(r"^0?86(1\d{10})$", r"\1", regex=True)
            .str.replace(r"^0519(\d{8})$", r"\1", regex=True)
        ),
    )
    item_names = per_unique(
        cases["item_name"],
        lambda u: nfkc(u).str.replace(r"\s+", "", regex=True).str.replace(ITEM_SUFFIX, "", regex=True),
    )
    families = per_unique(item_names, lambda u: item_families(u).agg(lambda row: row.tolist(), axis=1))
    return pd.DataFrame(
        {
            "uid": np.arange(len(cases)),
            "record": pd.factorize(cases["source_system"] + "\x1f" + cases["source_record_id"])[0],
            "system": pd.factorize(cases["source_system"])[0],
            "id": ids,
            "id_valid": per_unique(ids, valid_identifier).fillna(False).astype(bool).to_numpy(),
            "name": names,
            "name_py": per_unique(names, pinyin),
            "phone": phone.where(phone.str.len() >= 7),
            "address": per_unique(text("address"), lambda u: u.str.replace(REGION_PREFIX, "", regex=True)),
            "item_code": text("item_code").str.upper(),
            "item_name": item_names.replace("", None),
            "family": families.str[0],
            "action": families.str[1],
            "day": per_unique(cases["submitted_at"], parse_days).astype(float).to_numpy(),
        }
    )


def candidates(records: pd.DataFrame, key: str) -> pd.DataFrame:
    """Pairs (l < r) with the same ``key`` submitted within the window (or a date missing on either side)."""
    block = records.loc[records[key].notna(), ["uid", key, "day"]]
    block = block.assign(key=pd.factorize(block[key])[0], bucket=(block["day"] // (WINDOW_DAYS + 1)).fillna(-1))
    frames = []
    for shift in (0, 1):  # the same bucket, and the next one
        right = block.assign(bucket=block["bucket"] - shift) if shift else block
        pairs = block.merge(right, on=["key", "bucket"], suffixes=("_l", "_r"))
        keep = pairs["uid_l"] < pairs["uid_r"] if shift == 0 else pairs["uid_l"] != pairs["uid_r"]
        pairs = pairs[keep.to_numpy()]
        frames.append(pd.DataFrame({"l": pairs["uid_l"].to_numpy(), "r": pairs["uid_r"].to_numpy()}))
    undated = block.loc[block["day"].isna(), ["uid", "key"]]
    if len(undated):  # a record without a date pairs with every record of its key
        pairs = undated.merge(block[["uid", "key"]], on="key", suffixes=("_l", "_r"))
        frames.append(pd.DataFrame({"l": pairs["uid_l"].to_numpy(), "r": pairs["uid_r"].to_numpy()}))
    pairs = pd.concat(frames, ignore_index=True)
    low, high = pairs[["l", "r"]].min(axis=1).to_numpy(), pairs[["l", "r"]].max(axis=1).to_numpy()
    return pd.DataFrame({"l": low[low != high], "r": high[low != high]})


def similarity(left: np.ndarray, right: np.ndarray, scorer, **kwargs) -> np.ndarray:
    """rapidfuzz scorer pair by pair (NaN where a side is missing), each distinct pair of strings scored once."""
    present = pd.notna(left) & pd.notna(right)
    out = np.full(len(left), np.nan)
    if present.any():
        pairs = pd.DataFrame({"a": left[present], "b": right[present]})
        codes, uniques = pd.factorize(pd.MultiIndex.from_frame(pairs))
        a = uniques.get_level_values(0).tolist()
        b = uniques.get_level_values(1).tolist()
        scores = process.cpdist(a, b, scorer=scorer, workers=-1, **kwargs)
        out[present] = scores[codes]
    return out


def score(records: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    left, right = records.iloc[pairs["l"].to_numpy()], records.iloc[pairs["r"].to_numpy()]

    def side(frame: pd.DataFrame, column: str) -> np.ndarray:
        return frame[column].to_numpy(object) if frame[column].dtype == object else frame[column].to_numpy()

    def equal(column: str) -> np.ndarray:
        a, b = side(left, column), side(right, column)
        return pd.notna(a) & pd.notna(b) & (a == b)

    return pairs.assign(
        same_record=equal("record"),
        same_system=equal("system"),
        id_present=pd.notna(side(left, "id")) & pd.notna(side(right, "id")),
        id_long=pd.Series(side(left, "id")).str.len().ge(15).to_numpy(),
        id_distance=similarity(side(left, "id"), side(right, "id"), Levenshtein.distance),
        both_valid=side(left, "id_valid") & side(right, "id_valid"),
        name_ratio=similarity(side(left, "name"), side(right, "name"), fuzz.ratio),
        same_sound=equal("name_py"),
        same_phone=equal("phone"),
        address_ratio=similarity(side(left, "address"), side(right, "address"), fuzz.ratio),
        same_code=equal("item_code"),
        same_action=equal("action"),
        same_family=equal("family"),
        registrations=np.isin(side(left, "family"), REGISTRATIONS)
        & np.isin(side(right, "family"), REGISTRATIONS)
        & ((side(left, "family") == "执照") | (side(right, "family") == "执照")),
        families_known=pd.notna(side(left, "family")) & pd.notna(side(right, "family")),
        item_ratio=similarity(side(left, "item_name"), side(right, "item_name"), fuzz.partial_ratio),
        gap=np.abs(side(left, "day") - side(right, "day")),
    )


def rules(scored: pd.DataFrame) -> np.ndarray:
    """Which scored pairs are one case."""
    gap = scored["gap"].fillna(0).to_numpy()
    by_family = (scored["same_family"] | scored["registrations"]) & scored["same_action"]
    by_name = ~scored["families_known"] & scored["item_ratio"].fillna(0).ge(85)
    same_item = (scored["same_code"] & scored["same_system"]) | by_family | by_name
    id_same = scored["id_distance"].eq(0) & scored["id_long"]
    id_typo = scored["id_distance"].eq(1) | (scored["id_distance"].eq(2) & ~scored["both_valid"])
    name_same = scored["name_ratio"].fillna(0).ge(90) | scored["same_sound"]
    contact = scored["same_phone"] | scored["address_ratio"].fillna(0).ge(85)
    applicant = id_same | (id_typo & name_same) | (~scored["id_present"] & name_same & contact)
    applicant |= name_same & scored["same_phone"] & id_typo
    different_ids = scored["id_present"] & scored["both_valid"] & ~id_same
    return scored["same_record"].to_numpy() | (same_item & applicant & ~different_ids & (gap <= WINDOW_DAYS)).to_numpy()


def resolve(cases: pd.DataFrame) -> tuple[np.ndarray, dict[str, float]]:
    seconds, started = {}, time.perf_counter()
    records = normalise(cases)
    seconds["normalise"] = time.perf_counter() - started
    started = time.perf_counter()
    pairs = pd.concat([candidates(records, key) for key in ("id", "phone", "name_py")], ignore_index=True)
    pairs = pairs.drop_duplicates(ignore_index=True)
    seconds["blocking"] = time.perf_counter() - started
    started = time.perf_counter()
    scored = score(records, pairs)
    matched = scored[rules(scored)]
    seconds["scoring"] = time.perf_counter() - started
    started = time.perf_counter()
    n = len(records)
    graph = coo_matrix((np.ones(len(matched)), (matched["l"], matched["r"])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    seconds["clusters"] = time.perf_counter() - started
    seconds["pairs"] = len(pairs)
    seconds["matched"] = len(matched)
    return component, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    cases = pd.read_csv(args.input, dtype=str, keep_default_na=False, engine="pyarrow")
    read = time.perf_counter() - started
    component, seconds = resolve(cases)
    pd.DataFrame(
        {
            "source_system": cases["source_system"],
            "source_record_id": cases["source_record_id"],
            "cluster_id": component,
        }
    ).to_csv(args.output, index=False)
    print(
        f"{len(cases)} records → {len(np.unique(component))} clusters; {seconds.pop('pairs')} candidate pairs, "
        f"{seconds.pop('matched')} matched; {time.perf_counter() - started:.1f}s (read {read:.1f}s, "
        + ", ".join(f"{k} {v:.1f}s" for k, v in seconds.items())
        + ")",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
