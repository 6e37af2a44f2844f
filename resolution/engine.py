"""The record-resolution engine: a Splink (Fellegi–Sunter) model over Chinese-aware features.

A case is the same applicant filing the same item within a few days. The model compares identifier,
name (by characters and by sound), item (by code or by name), submission date, phone, address and the
pair of source systems; their weights, and so the effective date window, are learned from the data
(u by random sampling, m by expectation maximisation), not hand-set. Pairs above the match threshold
link; pairs in the uncertain band go to review; a reviewer's decision overrides the model.

The backend is a setting: DuckDB on one machine; Splink's Spark backend beyond it. The features are plain
columns prepared in SQL (``features.py``), so they move with it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import Linker, SettingsCreator
from splink.internals.duckdb.database_api import DuckDBAPI

from resolution.clusters import ATTRIBUTES, cluster, pair_conflicts
from resolution.features import load_features, prepare

MODEL_PATH = Path(__file__).parent / "model" / "case_model.json"
DUCKDB_MEMORY_LIMIT = "1500MB"  # spill to disk beyond it; the 2-core host shares memory with Dagster
MATCH_THRESHOLD = 0.95  # link at or above
REVIEW_THRESHOLD = 0.30  # below the match threshold and at or above this: a person decides


def _pair(template: str, style: str) -> str:
    """A SQL snippet over a pair, written with {l}/{r}: ``level`` style (col_l) for comparisons, ``block`` (l.col),
    ``gate`` (l.gate_col: the training copies of the columns, see :func:`train`)."""
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


def _level(name: str, label: str, *, package: bool | None = None) -> cll.CustomLevel:
    """A level from :data:`LEVELS`; ``package`` False/True restricts it to pairs outside/inside a package day."""
    # The cheap package test first: DuckDB evaluates the rest of a conjunction only on the rows still in it.
    sql = LEVELS[name] if package is None else ("NOT " if package else "") + f"{NO_PACKAGE} AND ({LEVELS[name]})"
    return cll.CustomLevel(_pair(sql, "level"), label)


#: Any match of items by name (not by catalogue code), for the package level.
ITEM_BY_NAME_ANY = " OR ".join(
    f"({LEVELS[name]})" for name in ("item_same_name", "item_same_class", "item_same_object", "item_similar_name")
)


def _days(limit: int, label: str) -> cll.CustomLevel:
    return cll.CustomLevel(_pair(DAY_GAP, "level") + f" <= {limit}", label)


def _comparisons() -> list[cl.CustomComparison]:
    """The else level of item, identifier and date, and of name unless the identifiers agree, is outside the
    definition of a case (see :func:`within_case_definition`)."""

    def comparison(name: str, levels: list) -> cl.CustomComparison:
        return cl.CustomComparison(comparison_levels=levels, output_column_name=name)

    return [
        comparison(
            "applicant_id",
            [
                cll.NullLevel("id_norm"),
                _level("id_same_valid", "same valid identifier"),
                cll.ExactMatchLevel("id_norm").configure(label_for_charts="same identifier, check digit fails"),
                _level("id_one_edit", "one typo apart"),
                _level("id_two_edits", "two typos apart, not both valid"),
                cll.ElseLevel().configure(label_for_charts="different applicants"),
            ],
        ),
        comparison(
            "applicant_name",
            [
                cll.NullLevel("name_norm"),
                cll.ExactMatchLevel("name_norm"),
                _level("name_sound", "same sound (homophone typo)"),
                _level("name_one_char", "one character apart"),
                cll.ElseLevel().configure(label_for_charts="different names"),
            ],
        ),
        comparison(
            "item",
            [
                # Missing when a side has neither a code nor a name (not when one side has only the code).
                cll.CustomLevel(
                    "(item_key_l IS NULL AND item_name_norm_l IS NULL) "
                    "OR (item_key_r IS NULL AND item_name_norm_r IS NULL)",
                    "no item on one side",
                ).configure(is_null_level=True),
                cll.ExactMatchLevel("item_key"),
                _level("item_same_name", "same item name, code missing or unknown", package=False),
                _level("item_same_class", "spellings seen for one item elsewhere in the data", package=False),
                _level("item_same_object", "one object named both ways, actions agree", package=False),
                _level("item_similar_name", "similar item names, code missing or unknown", package=False),
                cll.CustomLevel(
                    _pair(f"NOT {NO_PACKAGE} AND ({ITEM_BY_NAME_ANY})", "level"),
                    "item matched by name only, on a day the applicant filed several items (a package)",
                ),
                cll.ElseLevel().configure(label_for_charts="different items"),
            ],
        ),
        comparison(
            "submitted_date",
            [
                cll.NullLevel("submitted_date"),
                _days(0, "same day"),
                _days(1, "1 day apart"),
                _days(3, "2-3 days apart"),
                _days(CASE_WINDOW_DAYS, f"4-{CASE_WINDOW_DAYS} days apart"),
                cll.ElseLevel().configure(label_for_charts="outside the window"),
            ],
        ),
        comparison(
            "contact_phone",
            [
                cll.NullLevel("phone_norm"),
                cll.ExactMatchLevel("phone_norm"),
                cll.CustomLevel("levenshtein(phone_norm_l, phone_norm_r) <= 1", "one digit apart"),
                cll.ElseLevel(),
            ],
        ),
        comparison(
            "address",
            [
                cll.NullLevel("address_norm"),
                cll.ExactMatchLevel("address_norm"),
                _level("address_close", "most characters shared, or one is the other without its unit"),
                cll.ElseLevel(),
            ],
        ),
        comparison(
            "source_pair",
            [
                cll.NullLevel("source_system"),
                cll.CustomLevel("source_system_l <> source_system_r", "two systems (re-entry)"),
                cll.ElseLevel().configure(label_for_charts="one system (typed twice?)"),
            ],
        ),
    ]


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


GATE_COLUMNS = (
    "item_key",
    "item_known",
    "item_class",
    "item_action",
    "item_objects",
    "item_name_norm",
    "submitted_date",
    "id_norm",
    "id_valid",
    "name_norm",
    "name_sounds",
)


def _gated(*columns: str) -> str:
    """An EM training block restricted to pairs inside the case definition. The gate reads copies of the columns
    (``gate_*``): Splink holds every comparison whose columns a training block names fixed, and only the equi-join
    column should be."""
    return " AND ".join([*(f"l.{c} = r.{c}" for c in columns), _pair(CASE_GATE, "gate")])


def _candidates(*columns: str) -> str:
    """A blocking rule: equal on the columns and inside the case window (a year of one common name is millions
    of pairs; within ten days, a few)."""
    window = f"coalesce({_pair(DAY_GAP, 'block')} <= {CASE_WINDOW_DAYS}, true)"
    # Pairs of two catalogue items are dropped after scoring, not here: a join filter on strings cost more than
    # scoring the few pairs it would save (measured: 15-16 s against 13-14 s on 500k records).
    return " AND ".join([*(f"l.{c} = r.{c}" for c in columns), window])


BLOCKING_RULES = [
    _candidates("id_sorted"),  # same identifier, or one with two characters swapped
    _candidates("name_norm", "item_class"),
    _candidates("name_py", "item_class"),  # homophone typos with the identifier missing or mistyped
    _candidates("name_norm", "submitted_date"),  # item spelt in a way nothing else in the data explains
    _candidates("name_py", "submitted_date"),
    _candidates("phone_norm", "submitted_date"),
    _candidates("phone_norm", "item_class"),
    _candidates("name_norm", "phone_norm"),
]


def settings() -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="uid",
        comparisons=_comparisons(),
        blocking_rules_to_generate_predictions=BLOCKING_RULES,
        retain_intermediate_calculation_columns=True,  # per-field match weights explain every link
        additional_columns_to_retain=["source_system", "source_record_id"],
        probability_two_random_records_match=1e-4,
    )


def _linker(con: duckdb.DuckDBPyConnection, table: str, model: dict | SettingsCreator) -> Linker:
    if isinstance(model, dict):
        # Blocking is how candidates are found, not something learned: the code's rules win over the file's.
        model = {
            **model,
            "blocking_rules_to_generate_predictions": [
                {"blocking_rule": rule, "sql_dialect": "duckdb"} for rule in BLOCKING_RULES
            ],
        }
    db_api = DuckDBAPI(connection=con)
    return Linker(db_api.register(table, dataset_display_name="cases"), model, log_level=30)


def train(cases: pd.DataFrame, *, max_pairs: float = 1e6, path: Path | None = MODEL_PATH) -> dict:
    """Estimate the model from unlabelled cases and (optionally) write it to the versioned model file."""
    con = duckdb.connect()
    table = load_features(con, prepare(cases))
    copies = ", ".join(f"{c} AS gate_{c}" for c in GATE_COLUMNS)
    con.execute(f"CREATE OR REPLACE TABLE training_features AS SELECT *, {copies} FROM {table}")
    linker = _linker(con, "training_features", settings())
    linker.training.estimate_probability_two_random_records_match(
        [_gated("id_norm") + " AND abs(date_diff('day', l.gate_submitted_date, r.gate_submitted_date)) <= 3"],
        recall=0.8,
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=7)
    # Each EM session holds one field fixed by its blocking and learns the others. Every session sees only pairs
    # inside the case definition, so the latent "match" class is "same case", not "same applicant".
    for rule in (_gated("id_norm"), _gated("name_norm"), _gated("phone_norm")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule, max_pairs=max_pairs)
    model = smooth(linker.misc.save_model_to_json(None, overwrite=True))
    con.close()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(model, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return model


M_FLOOR = 0.01


def smooth(model: dict) -> dict:
    """Make every level usable on data unlike the training data.

    A level the training never observed among matches gets a neutral weight (m = u): no evidence either way;
    the else level, which the case definition keeps out of training, gets the floor instead. A learned m is
    floored at 1 %: a level that matches never showed in training (a re-entry three days late, a phone typed
    differently) counts against a link but does not veto it with a weight of -60.
    """
    for comparison in model["comparisons"]:
        levels = [lvl for lvl in comparison["comparison_levels"] if not lvl.get("is_null_level")]
        for lvl in levels:
            m, u = lvl.get("m_probability"), lvl.get("u_probability")
            if m is None and lvl["sql_condition"].strip().upper() == "ELSE":
                lvl["m_probability"] = M_FLOOR
            elif m is None and u is None:
                lvl["m_probability"] = lvl["u_probability"] = M_FLOOR
            elif m is None:
                lvl["m_probability"] = u
            elif u is None:
                lvl["u_probability"] = m
            else:
                lvl["m_probability"] = max(m, M_FLOOR)
        total = sum(lvl["m_probability"] for lvl in levels)
        for lvl in levels:
            lvl["m_probability"] /= total
    return model


def load_model(path: Path = MODEL_PATH) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@dataclass
class Resolution:
    """What the engine found for a set of records (row order of the input)."""

    cluster: np.ndarray  # cluster number per input row
    links: pd.DataFrame  # uid_l, uid_r, match_probability, match_weight, gamma_*/mw_* per field (links taken)
    review: pd.DataFrame  # the uncertain pairs and the rejected links (``constraint`` says why), same columns
    seconds: dict[str, float] = field(default_factory=dict)
    #: Links above the match threshold that a cannot-link constraint kept out of a cluster: uid_l, uid_r,
    #: match_probability and ``constraint`` (see ``clusters.CONSTRAINTS``), plus the per-field columns.
    splits: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Scored pairs dropped because the two records break a constraint themselves, by constraint.
    vetoed: dict[str, int] = field(default_factory=dict)


#: Node attributes for the constraints, from the features table (``item_known_key``: the catalogue item, if any).
NODE_SQL = ", ".join(
    [
        "CASE WHEN item_known THEN item_key END AS item_known_key",
        *(a for a in ATTRIBUTES if a != "item_known_key"),
        "state_rank",
    ]
)


class Engine:
    """One resolution run: load records once (the caller may then drop its copy), score, cluster."""

    def __init__(self, model: dict | None = None) -> None:
        self.model = model or load_model()
        self.con = duckdb.connect(
            config={
                "threads": os.cpu_count() or 2,
                "memory_limit": DUCKDB_MEMORY_LIMIT,
                "preserve_insertion_order": False,
            }
        )
        self.keys = pd.DataFrame(columns=["source_system", "source_record_id"])
        self.seconds: dict[str, float] = {}

    def load(self, cases: pd.DataFrame) -> None:
        started = time.perf_counter()
        prepared = prepare(cases)
        self.keys = prepared[["source_system", "source_record_id"]].copy()
        self.table = load_features(self.con, prepared)
        self.nodes = self.con.execute(f"SELECT {NODE_SQL} FROM {self.table} ORDER BY uid").df()
        # What only the constraints read leaves DuckDB: scoring a million records works within its memory limit.
        self.con.execute(f"ALTER TABLE {self.table} DROP COLUMN item_code_id")
        self.con.execute(f"ALTER TABLE {self.table} DROP COLUMN id_kind")
        self.con.execute(f"ALTER TABLE {self.table} DROP COLUMN state_rank")
        self.seconds["features"] = time.perf_counter() - started

    def score(self, review_threshold: float = REVIEW_THRESHOLD) -> pd.DataFrame:
        """Candidate pairs inside the case definition with probability ≥ ``review_threshold``."""
        started = time.perf_counter()
        linker = _linker(self.con, self.table, self.model)
        predictions = linker.inference.predict(threshold_match_probability=review_threshold, warning_mode="never")
        # Only numbers leave DuckDB: pair ids, probability, weight, and per field its level and match weight.
        names = [r[0] for r in self.con.execute(f"DESCRIBE {predictions.physical_name}").fetchall()]
        wanted = ["uid_l", "uid_r", "match_probability", "match_weight"]
        wanted += [n for n in names if n.startswith(("gamma_", "mw_")) and not n.startswith("mw_tf_")]
        scored = self.con.execute(f"SELECT {', '.join(wanted)} FROM {predictions.physical_name}").df()
        predictions.drop_table_from_database_and_remove_from_cache()
        self.seconds["predict"] = time.perf_counter() - started
        return scored[within_case_definition(scored)].reset_index(drop=True)

    def resolve(
        self,
        *,
        decisions: pd.DataFrame | None = None,
        match_threshold: float = MATCH_THRESHOLD,
        review_threshold: float = REVIEW_THRESHOLD,
    ) -> Resolution:
        scored = self.score(review_threshold)
        started = time.perf_counter()
        # Two records that cannot be one case are never a pair, whatever the model says of them.
        conflict = pair_conflicts(scored, self.nodes, CASE_WINDOW_DAYS)
        vetoed = conflict.value_counts().to_dict()
        scored = scored[conflict.isna().to_numpy()].reset_index(drop=True)
        confident = (scored["match_probability"] >= match_threshold) & ~needs_a_person(scored, self.model)
        scored, apart = self._apply_decisions(scored.assign(confident=confident.to_numpy()), decisions)
        forced = scored["forced"].fillna(False).astype(bool) if "forced" in scored else False
        confident = scored["confident"].fillna(False).astype(bool) | forced
        scored = scored.drop(columns="confident")
        linked = scored[confident.to_numpy()].reset_index(drop=True)
        review = scored[~confident.to_numpy()].reset_index(drop=True)
        clustering = cluster(len(self.keys), linked, self.nodes, cannot=apart, window_days=CASE_WINDOW_DAYS)
        pair = ["uid_l", "uid_r"]
        splits = linked.merge(clustering.rejected[[*pair, "constraint"]], on=pair)
        if len(splits):
            taken = linked.merge(splits[pair], on=pair, how="left", indicator=True)["_merge"].eq("left_only")
            linked = linked[taken.to_numpy()].reset_index(drop=True)
            # A split is a judgement: both candidates go to a person, with the constraint that decided it.
            review = pd.concat([review, splits], ignore_index=True)
        self.seconds["cluster"] = time.perf_counter() - started
        return Resolution(
            clustering.cluster,
            linked,
            review,
            dict(self.seconds),
            splits=splits,
            vetoed={str(k): int(v) for k, v in vetoed.items()},
        )

    def _apply_decisions(
        self, scored: pd.DataFrame, decisions: pd.DataFrame | None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """A reviewer's ``same`` links a pair whatever its score (constraints still hold); ``different`` keeps the
        two apart, also through any chain of other links. Returns the scored pairs and the pairs kept apart."""
        apart = pd.DataFrame({"uid_l": pd.Series(dtype=int), "uid_r": pd.Series(dtype=int)})
        if decisions is None or decisions.empty:
            return scored, apart
        uid = self.keys.reset_index(names="uid")
        pairs = decisions.merge(
            uid, left_on=["source_system_l", "source_record_id_l"], right_on=["source_system", "source_record_id"]
        )[["uid", "source_system_r", "source_record_id_r", "decision"]]
        pairs = (
            pairs.rename(columns={"uid": "a"})
            .merge(
                uid, left_on=["source_system_r", "source_record_id_r"], right_on=["source_system", "source_record_id"]
            )
            .rename(columns={"uid": "b"})
        )
        pairs = pairs.assign(uid_l=pairs[["a", "b"]].min(axis=1), uid_r=pairs[["a", "b"]].max(axis=1))
        decided = pairs.drop_duplicates(["uid_l", "uid_r"], keep="last").set_index(["uid_l", "uid_r"])["decision"]
        different = decided[decided == "different"].index
        apart = pd.DataFrame({"uid_l": different.get_level_values(0), "uid_r": different.get_level_values(1)})
        key = pd.MultiIndex.from_arrays([scored["uid_l"], scored["uid_r"]])
        verdict = decided.reindex(key).to_numpy()
        scored = scored.loc[verdict != "different"].copy()
        same = verdict[verdict != "different"] == "same"
        scored.loc[same, "match_probability"] = 1.0
        scored["forced"] = same
        forced = decided[decided == "same"].index.difference(key)
        extra = pd.DataFrame(
            {
                "uid_l": forced.get_level_values(0),
                "uid_r": forced.get_level_values(1),
                "match_probability": 1.0,
                "forced": True,
            }
        )
        return (pd.concat([scored, extra], ignore_index=True) if len(extra) else scored), apart

    def close(self) -> None:
        self.con.close()


BACKENDS = ("duckdb", "spark")


def make_engine(model: dict | None = None, backend: str | None = None) -> Engine:
    """The engine on the configured backend: ``BRIDGE_RESOLUTION_BACKEND`` = duckdb (default) or spark."""
    backend = backend or os.environ.get("BRIDGE_RESOLUTION_BACKEND") or "duckdb"
    if backend == "spark":
        from resolution.spark import SparkEngine

        return SparkEngine(model)
    if backend != "duckdb":
        raise ValueError(f"unknown resolution backend {backend!r}; use one of {', '.join(BACKENDS)}")
    return Engine(model)


def resolve(
    cases: pd.DataFrame,
    *,
    model: dict | None = None,
    decisions: pd.DataFrame | None = None,
    match_threshold: float = MATCH_THRESHOLD,
    review_threshold: float = REVIEW_THRESHOLD,
    backend: str | None = None,
) -> Resolution:
    """Score candidate pairs, link the confident ones, set aside the uncertain ones, cluster.

    ``decisions`` (source_system_l, source_record_id_l, source_system_r, source_record_id_r, decision) are a
    reviewer's verdicts (``same`` / ``different``), respected over the model.
    """
    engine = make_engine(model, backend)
    try:
        engine.load(cases)
        return engine.resolve(decisions=decisions, match_threshold=match_threshold, review_threshold=review_threshold)
    finally:
        engine.close()


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
