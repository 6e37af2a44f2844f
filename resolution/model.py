"""The record-resolution model, specified: a Splink (Fellegi–Sunter) model over Chinese-aware features.

A case is the same applicant filing the same item within a few days. The model compares identifier,
name (by characters and by sound), item (by code or by name), submission date, phone, address and the
pair of source systems; their weights, and so the effective date window, are learned from the data
(``training.py``), not hand-set. Pairs above the match threshold link; pairs in the uncertain band go to review;
a reviewer's decision overrides the model.

This module is data and pure functions: the comparison levels as SQL over a pair of records, the comparisons
as lists of levels, the blocking rules, the case definition, the thresholds, and the versioned model file (load,
save, summary, evidence). The SQL is written once, in DuckDB's dialect (:data:`MODEL_DIALECT`); a backend on
another engine translates it (``backends/sql.py``). Nothing here runs a query or imports a backend.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # Splink is imported where the model is built for training, not where it scores
    import splink.comparison_library as cl
    from splink import SettingsCreator

MODEL_PATH = Path(__file__).parent / "model" / "case_model.json"
#: The SQL dialect the levels, blocking rules and the model file are written in (sqlglot's name for it).
MODEL_DIALECT = "duckdb"
MATCH_THRESHOLD = 0.95  # link at or above
REVIEW_THRESHOLD = 0.30  # below the match threshold and at or above this: a person decides


def pair_sql(template: str, style: str) -> str:
    """A SQL snippet over a pair, written with {l}/{r}: ``level`` style (col_l) for comparisons, ``block`` (l.col),
    ``gate`` (l.gate_col: the training copies of the columns, see ``training.train``)."""
    left, right = {"level": ("{}_l", "{}_r"), "block": ("l.{}", "r.{}"), "gate": ("l.gate_{}", "r.gate_{}")}[style]

    class Side(dict):
        def __init__(self, pattern: str) -> None:
            super().__init__()
            self.pattern = pattern

        def __getattr__(self, column: str) -> str:
            return self.pattern.format(column)

    return template.format(l=Side(left), r=Side(right))


def char_jaccard(column: str) -> str:
    return (
        f"(len(list_intersect(string_split({{l.{column}}}, ''), string_split({{r.{column}}}, ''))) / "
        f"greatest(len(list_distinct(list_concat(string_split({{l.{column}}}, ''), "
        f"string_split({{r.{column}}}, '')))), 1))"
    )


# Each character's readings intersect: homophone typos (张伟/张玮) and heteronyms (曾 céng/zēng) agree by sound.
SAME_SOUND = (
    "(len(string_split({l.name_sounds}, ' ')) = len(string_split({r.name_sounds}, ' ')) AND list_bool_and("
    "list_transform(list_zip(string_split({l.name_sounds}, ' '), string_split({r.name_sounds}, ' ')), "
    "lambda p: len(list_intersect(string_split(p[1], '|'), string_split(p[2], '|'))) > 0)))"
)
BOTH_ITEMS_KNOWN = "({l.item_known} AND {r.item_known})"
#: Item names that state actions agree on them, or one states none (a bare 营业执照 is any of its items).
ACTIONS_AGREE = "coalesce({l.item_action} = {r.item_action}, true)"
#: Neither applicant filed several items that day: outside a package, an item name is good evidence.
NO_PACKAGE = "NOT ({l.package_day} OR {r.package_day})"
BY_NAME = f"NOT {BOTH_ITEMS_KNOWN} AND {ACTIONS_AGREE}"
LEVELS = {
    "id_same_valid": "{l.id_norm} = {r.id_norm} AND {l.id_valid} AND {r.id_valid}",
    "id_one_edit": "damerau_levenshtein({l.id_norm}, {r.id_norm}) <= 1",
    "id_two_edits": "damerau_levenshtein({l.id_norm}, {r.id_norm}) <= 2 AND NOT ({l.id_valid} AND {r.id_valid})",
    "name_sound": SAME_SOUND,
    # A clerk's typo changes one character (or keeps the sound): 环保科技 → 环保物流 is a sister company.
    "name_one_char": "levenshtein({l.name_norm}, {r.name_norm}) <= 1",
    "item_same_name": f"{BY_NAME} AND {{l.item_name_norm}} = {{r.item_name_norm}}",
    # Spellings the data shows to be one item (see features.learn_item_classes).
    "item_same_class": f"{BY_NAME} AND {{l.item_class}} = {{r.item_class}}",
    # One object named both ways (营业执照 is how 企业设立登记 is also known; see schemas.items).
    "item_same_object": (
        f"{BY_NAME} AND len(list_intersect(string_split({{l.item_objects}}, '|'), "
        "string_split({r.item_objects}, '|'))) > 0"
    ),
    "item_similar_name": (
        f"{BY_NAME} AND ({char_jaccard('item_name_norm')} >= 0.5 "
        "OR contains({l.item_name_norm}, {r.item_name_norm}) OR contains({r.item_name_norm}, {l.item_name_norm}))"
    ),
    "address_close": (
        char_jaccard("address_norm") + " >= 0.8 OR starts_with({l.address_norm}, {r.address_norm}) "
        "OR starts_with({r.address_norm}, {l.address_norm})"
    ),
}
DAY_GAP = "abs(date_diff('day', {l.submitted_date}, {r.submitted_date}))"
#: The outer bound of "submitted within a few days"; how much each day apart counts is learned.
CASE_WINDOW_DAYS = 10

#: Any match of items by name (not by catalogue code), for the package level.
ITEM_BY_NAME_ANY = " OR ".join(
    f"({LEVELS[name]})" for name in ("item_same_name", "item_same_class", "item_same_object", "item_similar_name")
)


@dataclass(frozen=True)
class Level:
    """One comparison level as data: a condition Splink writes (``null``, ``exact``: on a column; ``else``) or
    ``sql`` over a pair, with {l.col}/{r.col}. The label names the level in charts, in the evidence of a link,
    and for the rules that read levels by meaning (:data:`WEAK_ITEM_LABELS`)."""

    kind: Literal["null", "exact", "sql", "else"]
    arg: str = ""  # the column (null, exact) or the SQL (sql)
    label: str | None = None
    is_null: bool = False  # an sql level that stands for "missing on one side"


def null(column: str) -> Level:
    return Level("null", column)


def exact(column: str, label: str | None = None) -> Level:
    return Level("exact", column, label)


def sql(condition: str, label: str, *, is_null: bool = False) -> Level:
    return Level("sql", condition, label, is_null)


def otherwise(label: str | None = None) -> Level:
    return Level("else", label=label)


def named(name: str, label: str, *, package: bool | None = None) -> Level:
    """A level from :data:`LEVELS`; ``package`` False/True restricts it to pairs outside/inside a package day."""
    # The cheap package test first: DuckDB evaluates the rest of a conjunction only on the rows still in it.
    condition = LEVELS[name] if package is None else ("NOT " if package else "") + f"{NO_PACKAGE} AND ({LEVELS[name]})"
    return sql(condition, label)


def days_apart(limit: int, label: str) -> Level:
    return sql(f"{DAY_GAP} <= {limit}", label)


#: The comparisons, each a list of levels from the most to the least alike. The else level of item, identifier
#: and date, and of name unless the identifiers agree, is outside the definition of a case (see
#: :func:`within_case_definition`).
COMPARISONS: dict[str, list[Level]] = {
    "applicant_id": [
        null("id_norm"),
        named("id_same_valid", "same valid identifier"),
        exact("id_norm", "same identifier, check digit fails"),
        named("id_one_edit", "one typo apart"),
        named("id_two_edits", "two typos apart, not both valid"),
        otherwise("different applicants"),
    ],
    "applicant_name": [
        null("name_norm"),
        exact("name_norm"),
        named("name_sound", "same sound (homophone typo)"),
        named("name_one_char", "one character apart"),
        otherwise("different names"),
    ],
    "item": [
        # Missing when a side has neither a code nor a name (not when one side has only the code).
        sql(
            "({l.item_key} IS NULL AND {l.item_name_norm} IS NULL) "
            "OR ({r.item_key} IS NULL AND {r.item_name_norm} IS NULL)",
            "no item on one side",
            is_null=True,
        ),
        exact("item_key"),
        named("item_same_name", "same item name, code missing or unknown", package=False),
        named("item_same_class", "spellings seen for one item elsewhere in the data", package=False),
        named("item_same_object", "one object named both ways, actions agree", package=False),
        named("item_similar_name", "similar item names, code missing or unknown", package=False),
        sql(
            f"NOT {NO_PACKAGE} AND ({ITEM_BY_NAME_ANY})",
            "item matched by name only, on a day the applicant filed several items (a package)",
        ),
        otherwise("different items"),
    ],
    "submitted_date": [
        null("submitted_date"),
        days_apart(0, "same day"),
        days_apart(1, "1 day apart"),
        days_apart(3, "2-3 days apart"),
        days_apart(CASE_WINDOW_DAYS, f"4-{CASE_WINDOW_DAYS} days apart"),
        otherwise("outside the window"),
    ],
    "contact_phone": [
        null("phone_norm"),
        exact("phone_norm"),
        sql("levenshtein({l.phone_norm}, {r.phone_norm}) <= 1", "one digit apart"),
        otherwise(),
    ],
    "address": [
        null("address_norm"),
        exact("address_norm"),
        named("address_close", "most characters shared, or one is the other without its unit"),
        otherwise(),
    ],
    "source_pair": [
        null("source_system"),
        sql("{l.source_system} <> {r.source_system}", "two systems (re-entry)"),
        otherwise("one system (typed twice?)"),
    ],
}


#: The definition of a case, built in: the same item (by catalogue code, or by name where a code is missing or
#: not in the catalogue); submitted within the window; never two identifiers further apart than a clerk's typo
#: explains (one edit between two valid ones, two otherwise); and the same name, allowing a typo, unless the
#: identifiers agree. Namesakes, sister companies at one address, packages and renewals stay apart.
def within_case_definition(scored: pd.DataFrame) -> pd.Series:
    """On scored pairs, from the comparison levels (gamma: 0 = else level, -1 = null)."""
    id_agrees = scored["gamma_applicant_id"] >= 2  # one typo apart or closer
    return (
        (scored["gamma_item"] != 0)
        & (scored["gamma_applicant_id"] != 0)
        & (scored["gamma_submitted_date"] != 0)
        & ((scored["gamma_applicant_name"] != 0) | id_agrees)
    )


#: The same definition as one SQL condition over a pair, for the training blocks (see ``training.py``).
CASE_GATE = (
    "(({l.item_key} = {r.item_key}) OR ("
    + LEVELS["item_same_class"]
    + ") OR ("
    + LEVELS["item_same_object"]
    + ") OR ("
    + LEVELS["item_similar_name"]
    + ") OR ({l.item_key} IS NULL AND "
    "{r.item_key} IS NULL AND {l.item_name_norm} IS NULL AND {r.item_name_norm} IS NULL))"
    f" AND coalesce({DAY_GAP} <= {CASE_WINDOW_DAYS}, true)"
    " AND coalesce("
    + f"({{l.id_norm}} = {{r.id_norm}}) OR ({LEVELS['id_one_edit']}) OR ({LEVELS['id_two_edits']})"
    + ", true)"
    " AND (coalesce({l.name_norm} = {r.name_norm} OR "
    + LEVELS["name_sound"]
    + " OR "
    + LEVELS["name_one_char"]
    + ", true) OR coalesce("
    + LEVELS["id_one_edit"]
    + ", false))"
)


#: Item levels that say only "maybe the same item" (the object without its action, similar names, a name on a
#: package day), and date levels two days or more apart. Identity fields agree for every case of one applicant,
#: so they cannot tell two of its cases apart: a pair with weak item evidence links on its own only within a day;
#: further apart a person decides (the review queue), however sure the applicant is.
WEAK_ITEM_LABELS = (
    "one object named both ways, actions agree",
    "similar item names, code missing or unknown",
    "item matched by name only, on a day the applicant filed several items (a package)",
)
FAR_DATE_LABELS = ("2-3 days apart", f"4-{CASE_WINDOW_DAYS} days apart")


def _gammas(model: dict, comparison: str, labels: tuple[str, ...]) -> list[int]:
    return [g for g, label in level_labels(model)[comparison].items() if label in labels]


def needs_a_person(scored: pd.DataFrame, model: dict) -> pd.Series:
    """Pairs the model may score high that only a person should link: weak item evidence days apart."""
    weak = scored["gamma_item"].isin(_gammas(model, "item", WEAK_ITEM_LABELS))
    return weak & scored["gamma_submitted_date"].isin(_gammas(model, "submitted_date", FAR_DATE_LABELS))


def _candidates(*columns: str) -> str:
    """A blocking rule: equal on the columns and inside the case window (a year of one common name is millions
    of pairs; within ten days, a few)."""
    window = f"coalesce({pair_sql(DAY_GAP, 'block')} <= {CASE_WINDOW_DAYS}, true)"
    # Pairs of two catalogue items are dropped after scoring, not here: a join filter on strings cost more than
    # scoring the few pairs it would save (measured: 15-16 s against 13-14 s on 500k records).
    return " AND ".join([*(f"l.{c} = r.{c}" for c in columns), window])


#: A name's pinyin is a function of the name (``features.sounds``: one reading per character, null only for no
#: name), so two records with one name have one pinyin: a rule on the name beside the same rule on its pinyin
#: finds no pair of its own. The pinyin rules stand for both (``test_name_rules_add_no_pair_to_pinyin_rules``);
#: each pair a join finds is a row the union must then drop again (at 1.3M records, 3.0M of the 11.9M rows).
BLOCKING_RULES = [
    _candidates("id_sorted"),  # same identifier, or one with two characters swapped
    _candidates("name_py", "item_class"),  # the same name, or a homophone typo, for the same item
    _candidates("name_py", "submitted_date"),  # item spelt in a way nothing else in the data explains
    _candidates("phone_norm", "submitted_date"),
    _candidates("phone_norm", "item_class"),
    _candidates("name_norm", "phone_norm"),
]


def _splink_level(spec: Level):
    """The Splink comparison level for a :class:`Level`."""
    import splink.comparison_level_library as cll

    if spec.kind == "null":
        return cll.NullLevel(spec.arg)
    if spec.kind == "exact":
        built = cll.ExactMatchLevel(spec.arg)
        return built.configure(label_for_charts=spec.label) if spec.label else built
    if spec.kind == "sql":
        built = cll.CustomLevel(pair_sql(spec.arg, "level"), spec.label)
        return built.configure(is_null_level=True) if spec.is_null else built
    built = cll.ElseLevel()
    return built.configure(label_for_charts=spec.label) if spec.label else built


def comparisons() -> list[cl.CustomComparison]:
    import splink.comparison_library as cl

    return [
        cl.CustomComparison(comparison_levels=[_splink_level(spec) for spec in levels], output_column_name=name)
        for name, levels in COMPARISONS.items()
    ]


def settings() -> SettingsCreator:
    """The model before training: what it compares and how candidates are found (in :data:`MODEL_DIALECT`)."""
    from splink import SettingsCreator

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="uid",
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=BLOCKING_RULES,
        retain_intermediate_calculation_columns=True,  # per-field match weights explain every link
        additional_columns_to_retain=["source_system", "source_record_id"],
        probability_two_random_records_match=1e-4,
    )


def for_scoring(model: dict) -> dict:
    """The trained model as scoring uses it. Blocking is how candidates are found, not something learned: the
    code's rules win over the file's."""
    return {
        **model,
        "blocking_rules_to_generate_predictions": [
            {"blocking_rule": rule, "sql_dialect": MODEL_DIALECT} for rule in BLOCKING_RULES
        ],
    }


def load_model(path: Path = MODEL_PATH) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def save_model(model: dict, path: Path = MODEL_PATH) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(model, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def level_labels(model: dict) -> dict[str, dict[int, str]]:
    """Per comparison, gamma value → the level's label (-1 is the null level, 0 the else level)."""
    labels: dict[str, dict[int, str]] = {}
    for comparison in model["comparisons"]:
        levels = comparison["comparison_levels"]
        real = [lvl for lvl in levels if not lvl.get("is_null_level")]
        mapping = {len(real) - 1 - i: lvl.get("label_for_charts", lvl["sql_condition"]) for i, lvl in enumerate(real)}
        mapping[-1] = "missing on one side"
        labels[comparison["output_column_name"]] = mapping
    return labels


def evidence(pairs: pd.DataFrame, model: dict) -> list[str]:
    """Per pair, the per-field story of its score as JSON: the level each field reached and its match weight."""
    labels = level_labels(model)
    fields = [name for name in labels if f"gamma_{name}" in pairs.columns]
    columns = {}
    for name in fields:
        level = pairs[f"gamma_{name}"].map(labels[name])
        weight = pairs[f"mw_{name}"].round(2) if f"mw_{name}" in pairs.columns else pd.Series(None, index=pairs.index)
        columns[name] = list(zip(level, weight, strict=True))
    return [
        json.dumps(
            {name: {"level": columns[name][i][0], "weight": columns[name][i][1]} for name in fields},
            ensure_ascii=False,
            default=float,
        )
        for i in range(len(pairs))
    ]


def model_summary(model: dict) -> pd.DataFrame:
    """The trained model as a table: comparison, level, m, u and the match weight log2(m/u) it contributes."""
    rows = []
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            rows.append(
                {
                    "comparison": comparison["output_column_name"],
                    "level": level.get("label_for_charts", level["sql_condition"])[:60],
                    "m": m,
                    "u": u,
                    "match_weight": float(np.log2(m / u)) if m and u else None,
                }
            )
    return pd.DataFrame(rows)
