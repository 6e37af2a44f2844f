"""The model's SQL in a backend's dialect, translated by sqlglot (as Splink translates its own SQL).

Levels, blocking rules and the model file are written once, in DuckDB's dialect (``model.MODEL_DIALECT``).
For another backend each condition is parsed by sqlglot, rewritten on its syntax tree where sqlglot 30 leaves a
gap, and written in the backend's dialect. The gaps, by node type (no text is matched):

- reading DuckDB: ``list_intersect`` is read as an unknown function, and ``len`` as a string's length even of a
  list (DuckDB's ``len`` is the list's length);
- writing Spark: DuckDB's ``list_bool_and``, and ``list_transform`` over ``list_zip`` with a lambda reading the
  pair by position, have no Spark spelling (Spark: ``forall`` and ``zip_with``); ``string_split(x, '')`` (one
  element per character) is written as a split by the quoted empty pattern, which in Spark keeps a trailing
  empty element, so the empty separator is written as Spark's own ``split(x, '')``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from sqlglot import exp, parse_one

from resolution.model import MODEL_DIALECT

Rewrite = Callable[[exp.Expression], exp.Expression]

#: Expressions whose value is a list (DuckDB) / an array (sqlglot), for ``len``.
LIST_VALUED = (
    exp.Array,
    exp.ArrayConcat,
    exp.ArrayDistinct,
    exp.ArrayFilter,
    exp.ArrayIntersect,
    exp.RegexpSplit,
    exp.Split,
    exp.Transform,
)


def _function(node: exp.Expression, name: str) -> bool:
    return isinstance(node, exp.Anonymous) and node.name.lower() == name


def _list_intersect(node: exp.Expression) -> exp.Expression:
    if _function(node, "list_intersect"):
        return exp.ArrayIntersect(expressions=list(node.expressions))
    return node


def _list_length(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Length) and isinstance(node.this, LIST_VALUED):
        return exp.ArraySize(this=node.this)
    return node


def _zip_with(node: exp.Expression) -> exp.Expression:
    """``list_transform(list_zip(a, b), lambda p: f(p[1], p[2]))`` → ``zip_with(a, b, (p_1, p_2) -> f(p_1, p_2))``."""
    if not (isinstance(node, exp.Transform) and _function(node.this, "list_zip") and len(node.this.expressions) == 2):
        return node
    function = node.expression
    if not isinstance(function, exp.Lambda) or len(function.expressions) != 1:
        return node
    pair = function.expressions[0].name
    sides = [exp.to_identifier(f"{pair}_{i}") for i in (1, 2)]

    def element(part: exp.Expression) -> exp.Expression:
        # The tree holds indexes 0-based whatever the dialect (DuckDB's p[1] is 0 here).
        if isinstance(part, exp.Bracket) and part.this.name == pair and len(part.expressions) == 1:
            index = part.expressions[0]
            if index.is_int and int(index.name) in (0, 1):
                return sides[int(index.name)].copy()
        return part

    body = _bottom_up(function.this.copy(), element)
    return exp.Anonymous(
        this="ZIP_WITH", expressions=[*node.this.expressions, exp.Lambda(this=body, expressions=sides)]
    )


def _forall(node: exp.Expression) -> exp.Expression:
    """``list_bool_and(x)`` → ``forall(x, v -> v)``."""
    if _function(node, "list_bool_and") and len(node.expressions) == 1:
        value = exp.to_identifier("v")
        return exp.Anonymous(
            this="FORALL", expressions=[node.expressions[0], exp.Lambda(this=value.copy(), expressions=[value])]
        )
    return node


def _split_by_character(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Split) and isinstance(node.expression, exp.Literal) and node.expression.name == "":
        return exp.RegexpSplit(this=node.this, expression=node.expression)
    return node


#: Applied to every condition read from the model's dialect, in order.
READING = (_list_intersect, _list_length)
#: Applied for the dialect written, in order, after :data:`READING`.
WRITING: dict[str, tuple[Rewrite, ...]] = {"spark": (_zip_with, _forall, _split_by_character)}


def _bottom_up(tree: exp.Expression, rewrite: Rewrite) -> exp.Expression:
    """``rewrite`` applied to every node, children before their parent (a rewritten node's parts are final)."""
    for node in reversed(list(tree.walk(bfs=False))):
        new = rewrite(node)
        if new is not node:
            if node is tree:
                tree = new
            else:
                node.replace(new)
    return tree


def translate(sql: str, dialect: str) -> str:
    """A condition of the model (in :data:`model.MODEL_DIALECT`) in ``dialect``; unchanged in the model's own."""
    if dialect == MODEL_DIALECT or sql.strip().upper() == "ELSE":
        return sql
    tree = parse_one(sql, read=MODEL_DIALECT)
    for rewrite in (*READING, *WRITING.get(dialect, ())):
        tree = _bottom_up(tree, rewrite)
    return tree.sql(dialect=dialect)


def model_in(model: dict, dialect: str) -> dict:
    """The model (levels and blocking rules) in ``dialect``; the weights are the same."""
    if dialect == MODEL_DIALECT:
        return model
    translated = copy.deepcopy(model)
    translated["sql_dialect"] = dialect
    for comparison in translated["comparisons"]:
        for level in comparison["comparison_levels"]:
            level["sql_condition"] = translate(level["sql_condition"], dialect)
    rules = [r["blocking_rule"] if isinstance(r, dict) else r for r in model["blocking_rules_to_generate_predictions"]]
    translated["blocking_rules_to_generate_predictions"] = [
        {"blocking_rule": translate(rule, dialect), "sql_dialect": dialect} for rule in rules
    ]
    return translated
