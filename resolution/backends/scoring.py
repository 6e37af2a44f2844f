"""The trained model's predictions as one DuckDB query, written from the model file as Splink writes them.

Splink is how the model is specified and trained (``model.py``, ``training.py``), and the model file is its
settings. Scoring needs none of Splink's machinery: the candidate pairs of the blocking rules, per comparison the
level each pair reaches (the levels' SQL from the file, in order), the level's match weight ``log2(m/u)`` and the
prior's, summed, and the probability from the sum. :func:`prediction_sql` writes exactly that, with Splink's
arithmetic (the same weights as Splink computes them from the file, summed in the same order, the same
probability expression and threshold), so the scores are Splink's to the last bit; ``tests/test_resolution.py``
compares the two. What this saves is Splink's work around the query: building the linker parses every level's
SQL with sqlglot, and the package and sqlglot are imported (about 0.6 s a start together).
"""

from __future__ import annotations

import math
import re

#: Splink's constants: an m or u below this counts as this (``comparison_level.M_U_CLAMP_MIN``), and the m and u
#: of a level that training never observed (``constants.LEVEL_NOT_OBSERVED_TEXT``).
M_U_CLAMP_MIN = 1e-300
LEVEL_NOT_OBSERVED_TEXT = "level not observed in training dataset"
NOT_OBSERVED_PROBABILITY = 1e-6


def match_weight_of_probability(probability: float) -> float:
    """``log2(p / (1 - p))``, as Splink's ``prob_to_match_weight``."""
    return math.log2(probability / (1 - probability) if probability != 1 else math.inf)


def _probability(level: dict, key: str) -> float:
    value = level.get(key)
    if value == LEVEL_NOT_OBSERVED_TEXT:
        return NOT_OBSERVED_PROBABILITY
    if value is None:
        raise ValueError(f"the model's level {level.get('label_for_charts', level['sql_condition'])!r} has no {key}")
    return float(value)


def level_weight(level: dict) -> float:
    """A level's match weight as Splink computes it: 0 for the null level, else ``log2(m / u)`` (both clamped)."""
    if level.get("is_null_level"):
        return 0.0
    m = max(_probability(level, "m_probability"), M_U_CLAMP_MIN)
    u = max(_probability(level, "u_probability"), M_U_CLAMP_MIN)
    return math.log2(m / u)


def gammas(comparison: dict) -> list[int]:
    """Per level of a comparison, its value in the comparison vector: -1 for the null level, else counting down
    to 0 for the last (Splink's ``comparison_vector_value``)."""
    levels = comparison["comparison_levels"]
    real = sum(1 for level in levels if not level.get("is_null_level"))
    values, seen = [], 0
    for level in levels:
        if level.get("is_null_level"):
            values.append(-1)
        else:
            values.append(real - 1 - seen)
            seen += 1
    return values


def _when(condition: str) -> str:
    return condition.strip()


def comparison_sql(comparison: dict) -> tuple[str, str]:
    """``CASE … END`` for the comparison's gamma (its levels' conditions in order) and for its match weight."""
    name = comparison["output_column_name"]
    levels = comparison["comparison_levels"]
    values = gammas(comparison)
    gamma_cases, weight_cases = [], []
    for level, value in zip(levels, values, strict=True):
        condition = _when(level["sql_condition"])
        if condition.upper() == "ELSE":
            gamma_cases.append(f"ELSE {value}")
        else:
            gamma_cases.append(f"WHEN {condition} THEN {value}")
        weight_cases.append(f"WHEN gamma_{name} = {value} THEN cast({level_weight(level)} as float8)")
    gamma = "CASE " + " ".join(gamma_cases) + f" END AS gamma_{name}"
    weight = "CASE " + " ".join(weight_cases) + f" END AS mw_{name}"
    return gamma, weight


#: A feature column on one side of a pair in a level's SQL (``id_norm_l``), optionally quoted.
PAIR_COLUMN = re.compile(r'"?\b(\w+)_([lr])\b"?')


def pair_columns(model: dict, columns: list[str]) -> list[str]:
    """The feature columns the levels compare (those of ``columns`` named with ``_l``/``_r`` in a level)."""
    text = " ".join(level["sql_condition"] for c in model["comparisons"] for level in c["comparison_levels"])
    named = {m.group(1) for m in PAIR_COLUMN.finditer(text)}
    return [c for c in columns if c in named]


def blocked_pairs_sql(table: str, rules: list[str], unique_id: str = "uid") -> str:
    """The candidate pairs (``uid_l < uid_r``) any blocking rule finds, each once (Splink's predict keeps a pair
    for the first rule that finds it; which rule did is not part of a score)."""
    joins = [
        f"SELECT l.{unique_id} AS uid_l, r.{unique_id} AS uid_r FROM {table} l JOIN {table} r "
        f"ON ({rule}) WHERE l.{unique_id} < r.{unique_id}"
        for rule in rules
    ]
    return "\nUNION\n".join(joins)


def comparison_columns(comparison: dict, compared: list[str]) -> list[str]:
    """The feature columns a comparison's levels read, of ``compared``."""
    text = " ".join(level["sql_condition"] for level in comparison["comparison_levels"])
    named = {m.group(1) for m in PAIR_COLUMN.finditer(text)}
    return [c for c in compared if c in named]


def prediction_sql(model: dict, table: str, columns: list[str], rules: list[str], threshold: float) -> str:
    """The predictions of ``model`` for the pairs of ``rules`` over ``table`` (whose columns are ``columns``), with
    probability at least ``threshold``: uid_l, uid_r, match_probability, match_weight, and per comparison its
    gamma and match weight (Splink's column names).

    A comparison's level depends only on the values of the columns it reads, and those repeat: an applicant's
    name, identifier and address on all its records, an item's code and name on thousands. So each record gets,
    per comparison, a number for its combination of those values (``values_<comparison>``), the pairs carry
    only these numbers, and each comparison's levels are computed once per distinct pair of numbers, on the
    values, with the levels' own SQL. A pair's level is the same as computed on the pair itself: it reads
    nothing else.
    """
    unique_id = model.get("unique_id_column_name", "uid")
    compared = pair_columns(model, [c for c in columns if c != unique_id])
    names = [c["output_column_name"] for c in model["comparisons"]]
    values, coded, code_joins, levels, level_joins, weights = [], [], [], [], [], []
    for i, comparison in enumerate(model["comparisons"]):
        name, read = comparison["output_column_name"], comparison_columns(comparison, compared)
        gamma, weight = comparison_sql(comparison)
        listed = ", ".join(read)
        distinct = f"SELECT DISTINCT {listed} FROM {table}"
        values.append(f"values_{name} AS (SELECT row_number() OVER () AS code, {listed} FROM ({distinct}))")
        same_values = " AND ".join(f"t.{c} IS NOT DISTINCT FROM v{i}.{c}" for c in read)
        code_joins.append(f"JOIN values_{name} v{i} ON {same_values}")
        coded.append(f"v{i}.code AS code_{name}")
        sides = ", ".join(f"l.{c} AS {c}_l, r.{c} AS {c}_r" for c in read)
        levels.append(
            f"levels_{name} AS (SELECT code_l, code_r, {gamma} FROM (SELECT code_l, code_r, {sides} FROM "
            f"(SELECT DISTINCT code_{name}_l AS code_l, code_{name}_r AS code_r FROM coded_pairs) d "
            f"JOIN values_{name} l ON l.code = d.code_l JOIN values_{name} r ON r.code = d.code_r))"
        )
        level_joins.append(
            f"JOIN levels_{name} g{i} ON g{i}.code_l = p.code_{name}_l AND g{i}.code_r = p.code_{name}_r"
        )
        weights.append(f"gamma_{name}, {weight}")
    prior = match_weight_of_probability(model["probability_two_random_records_match"])
    total = f"cast({prior} as float8) + " + " + ".join(f"mw_{n}" for n in names)
    probability = (
        f"CASE WHEN ({total}) >= 0 THEN 1.0 / (1.0 + POWER(cast(2 as float8), -({total}))) "
        f"ELSE POWER(cast(2 as float8), ({total})) / (1.0 + POWER(cast(2 as float8), ({total}))) END"
    )
    code_sides = ", ".join(f"l.code_{n} AS code_{n}_l, r.code_{n} AS code_{n}_r" for n in names)
    return f"""
        WITH {", ".join(values)},
        codes AS (SELECT t.{unique_id}, {", ".join(coded)} FROM {table} t {" ".join(code_joins)}),
        pairs AS ({blocked_pairs_sql(table, rules, unique_id)}),
        coded_pairs AS (
            SELECT p.uid_l, p.uid_r, {code_sides}
            FROM pairs p JOIN codes l ON l.{unique_id} = p.uid_l JOIN codes r ON r.{unique_id} = p.uid_r
        ),
        {", ".join(levels)},
        vectors AS (
            SELECT p.uid_l, p.uid_r, {", ".join(f"g{i}.gamma_{n}" for i, n in enumerate(names))}
            FROM coded_pairs p {" ".join(level_joins)}
        ),
        weights AS (SELECT uid_l, uid_r, {", ".join(weights)} FROM vectors)
        SELECT uid_l, uid_r, {probability} AS match_probability, {total} AS match_weight,
               {", ".join(f"gamma_{n}, mw_{n}" for n in names)}
        FROM weights
        WHERE ({total}) >= {match_weight_of_probability(threshold)}
    """
