"""What item (事项) a record is for, from its code or, when the code is blank or foreign, from the name typed.

An item name says two things: the object (企业登记, 食品经营许可, 公共场所卫生许可 …) and the action taken on it
(设立 new, 变更 change, 延续 renew, 注销 cancel, 补办 reissue). The catalogue lists each object–action pair as its
own item (``items.csv``, column ``action``): a company's establishment and its change registration nine days later
are two cases, and so are a food licence and its renewal. A name typed without an action word (营业执照, 食品经营许可证)
names the object alone: it is identified when the catalogue has one item for that object, and otherwise stays an
object, compatible with every action of it.

Names are matched to the catalogue per distinct spelling (a day's records carry a few dozen), in this order:
1. the name or an alias exactly (NFKC, no spaces, one bracket form);
2. the name without bracketed qualifiers and request words (卫生许可证（首次）→ 卫生许可证), when the action a
   qualifier states does not contradict the item's (食品经营许可（变更）is not 食品经营许可);
3. the object and the action: 企业设立 → 企业 + new → 企业设立登记;
4. fuzzily: the closest object in the catalogue by characters (rapidfuzz, by code point), when it is close, its
   action agrees and no other item is as close.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache

import pandas as pd
from rapidfuzz import fuzz, process

from schemas.case import item_name_index, items, name_key
from schemas.text import mapped, per_distinct, sub

#: Action words, by the action they name. A name with words of two actions names none for certain.
ACTION_WORDS: dict[str, tuple[str, ...]] = {
    "new": ("设立", "新办", "新设", "开业", "开办", "首次", "核发", "申领", "注册"),
    "change": ("变更", "更名", "迁址", "迁移"),
    "renew": ("延续", "延期", "换证", "换发", "续期"),
    "cancel": ("注销", "歇业", "终止"),
    "reissue": ("补办", "补发", "补证", "遗失"),
}
ACTIONS = tuple(ACTION_WORDS)
#: Request words that say nothing about the item: 公司设立登记申请 is 公司设立登记.
REQUEST_WORDS = r"(申请书|申请表|申请|办理|申报|手续)$"
#: Spellings of one object: 个体户 is 个体工商户, 公司 is 企业, 许可证 is 许可.
OBJECT_SYNONYMS = (("个体工商户", "个体户"), ("公司", "企业"), ("许可证", "许可"), ("登记", ""))
#: A fuzzy match needs this similarity (0–100) and this lead over the best other item.
FUZZY_MIN_SCORE = 80
FUZZY_MIN_LEAD = 6

_ACTION_PATTERN = {action: "|".join(words) for action, words in ACTION_WORDS.items()}
_ACTION_REGEX = {action: re.compile(pattern) for action, pattern in _ACTION_PATTERN.items()}


def item_core(names: pd.Series) -> pd.Series:
    """An item name without spaces, qualifiers in brackets and request words: 卫生许可证（首次）→ 卫生许可证,
    公司设立登记申请 → 公司设立登记."""

    def core(distinct: pd.Series) -> pd.Series:
        text = sub(sub(sub(distinct, r"\s+", ""), r"[(（][^)）]*[)）]", ""), REQUEST_WORDS, "")
        return text.mask(text == "")

    return per_distinct(names, core)


def item_actions(names: pd.Series) -> pd.Series:
    """The action a name states (qualifiers in brackets included: 食品经营许可（变更）is a change); NA for none,
    or for words of two actions."""
    hits = pd.DataFrame({a: names.str.contains(p, regex=True).fillna(False) for a, p in _ACTION_PATTERN.items()})
    action = hits.idxmax(axis=1).where(hits.sum(axis=1) == 1)
    return action.astype("string")


def _name_action(name: str) -> str | None:
    """:func:`item_actions` of one name."""
    found = [action for action, regex in _ACTION_REGEX.items() if regex.search(name)]
    return found[0] if len(found) == 1 else None


def _object(name: str) -> str:
    """The object a name is about: without qualifiers, request words, action words and spelling variants."""
    text = re.sub(r"[(（][^)）]*[)）]", "", name_key(name))
    text = re.sub(REQUEST_WORDS, "", text)
    for words in ACTION_WORDS.values():
        for word in words:
            text = text.replace(word, "")
    for variant, canonical in OBJECT_SYNONYMS:
        text = text.replace(variant, canonical)
    return text


@cache
def catalogue_entries() -> pd.DataFrame:
    """Every name and alias of every catalogue item with its object and action."""
    rows = []
    for row in items().itertuples():
        for name in [row.item_name, *filter(None, row.aliases.split("|"))]:
            rows.append({"item_code": row.item_code, "action": row.action or None, "object": _object(name)})
    return pd.DataFrame(rows).drop_duplicates()


@cache
def catalogue_actions() -> dict[str, str]:
    return {row.item_code: row.action for row in items().itertuples() if row.action}


def _compatible(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a == b


def _from_name(name: str, action: str | None) -> str | None:
    """The catalogue code one distinct typed name identifies, or None (see the module's order)."""
    index, actions = item_name_index(), catalogue_actions()
    whole = name_key(name)
    if whole in index:
        return index[whole]
    core = re.sub(REQUEST_WORDS, "", re.sub(r"[(（][^)）]*[)）]", "", whole))
    if core in index and _compatible(actions.get(index[core]), action):
        return index[core]
    entries = catalogue_entries()
    obj = _object(name)
    if not obj:
        return None
    same = entries[entries["object"] == obj]
    if action is not None:
        same = same[same["action"].isna() | (same["action"] == action)]
    if same["item_code"].nunique() == 1:
        return same["item_code"].iloc[0]
    if len(same):  # the object is known but not which of its items: the object alone identifies nothing
        return None
    candidates = entries if action is None else entries[entries["action"].isna() | (entries["action"] == action)]
    if candidates.empty:
        return None
    scores = process.extract(obj, candidates["object"].tolist(), scorer=fuzz.ratio, limit=None)
    scored = candidates.iloc[[i for _, _, i in scores]].assign(score=[score for _, score, _ in scores])
    best = scored.groupby("item_code")["score"].max().sort_values(ascending=False)
    if best.iloc[0] < FUZZY_MIN_SCORE or (len(best) > 1 and best.iloc[0] - best.iloc[1] < FUZZY_MIN_LEAD):
        return None
    code = best.index[0]
    closest = scored.loc[(scored["item_code"] == code) & (scored["score"] == best.iloc[0]), "object"]
    if action is None and entries.loc[entries["object"].isin(closest), "item_code"].nunique() > 1:
        return None  # the closest object names several items (企业: 设立, 变更, 注销) and the name says not which
    return code


@cache
def _identify_name(name: str) -> tuple[str | None, str | None, str]:
    action = _name_action(name)
    code = _from_name(name, action)
    return code, catalogue_actions().get(code, action) if code else action, _object(name)


def catalogue_codes(
    codes: pd.Series, sources: pd.Series, local_codes: Mapping[tuple[str, str], str] | None = None
) -> pd.Series:
    """The catalogue code each record's own code stands for: the code itself, or a system's local code
    (``local_codes``: (system, local code) → 基本编码, from the systems' declarations); NA otherwise. Looked up
    once per distinct (system, code)."""
    catalogue = set(items()["item_code"])
    local = local_codes or {}
    combined = sources.fillna("").astype(str) + "\x1f" + codes.str.upper().fillna("").astype(str)

    def look_up(distinct: pd.Series) -> list:
        pairs = (value.split("\x1f", 1) for value in distinct)
        return [code if code in catalogue else local.get((system, code)) for system, code in pairs]

    return per_distinct(combined, look_up).rename(None)


def identify_items(
    codes: pd.Series,
    names: pd.Series,
    sources: pd.Series,
    local_codes: Mapping[tuple[str, str], str] | None = None,
) -> pd.DataFrame:
    """Per record: ``item_code`` (the catalogue's 基本编码: the code itself, a department's local code, or the name
    typed; NA when none identifies it), ``from_name`` (identified by name), ``action`` and ``object`` (from the
    catalogue when identified, else from the name) and ``code_item`` (what the code alone identifies). Names are
    looked up once per distinct spelling."""
    key = catalogue_codes(codes, sources, local_codes)

    def by_name(field: int) -> pd.Series:
        return per_distinct(names, lambda distinct: [_identify_name(str(n))[field] for n in distinct])

    named = by_name(0)
    use_name = key.isna() & named.notna()
    item_code = key.where(~use_name, named)
    objects = catalogue_entries().drop_duplicates("item_code").set_index("item_code")["object"].to_dict()
    action = mapped(item_code, catalogue_actions()).fillna(by_name(1))
    obj = mapped(item_code, objects).fillna(by_name(2))
    return pd.DataFrame(
        {
            "item_code": item_code,
            "from_name": use_name,
            "action": action,
            "object": obj.mask(obj == ""),
            "code_item": key,  # what the record's own code alone stands for
        },
        index=codes.index,
    )
