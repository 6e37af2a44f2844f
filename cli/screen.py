"""Text for an operator's terminal: at most 120 columns, a Chinese character counting two.

Tables and long lines are laid out by rich (a dependency of Dagster's, named in pyproject.toml): it measures
East Asian wide characters as two cells and folds a cell that does not fit rather than widening the table. The
rules are plain ASCII, since box-drawing characters are "ambiguous width" and take two columns in many Chinese
terminals.
"""

from __future__ import annotations

import io

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

WIDTH = 120

#: A header underlined with dashes, no other rules (rich's SIMPLE_HEAD in ASCII).
ASCII_HEAD = box.Box("    \n    \n -  \n    \n    \n    \n    \n    \n", ascii=True)


def width(text: str) -> int:
    """Columns ``text`` takes in a terminal (a Chinese character two)."""
    return cell_len(text)


def clip(text: str, columns: int) -> str:
    """``text`` cut to ``columns`` with ``...`` at the end when longer."""
    if width(text) <= columns:
        return text
    kept = Text(text)
    kept.truncate(max(columns - 3, 0))
    return kept.plain + "..."


def table(*columns: str, right: tuple[str, ...] = ()) -> Table:
    """A table whose cells fold (never widen the page), headers underlined with dashes."""
    laid = Table(box=ASCII_HEAD, show_edge=False, pad_edge=False, expand=False)
    for name in columns:
        laid.add_column(name, overflow="fold", justify="right" if name in right else "left")
    return laid


def render(*parts: object, indent: int = 0) -> str:
    """``parts`` (strings, rich tables) as they print in ``WIDTH`` columns; a string wraps at words, or
    anywhere in Chinese text, and its continuation lines keep ``indent`` spaces."""
    out = Console(
        width=WIDTH - indent,
        file=io.StringIO(),
        no_color=True,
        highlight=False,
        emoji=False,
        markup=False,
        force_terminal=False,
        soft_wrap=False,
    )
    for part in parts:
        out.print(Text(part) if isinstance(part, str) else part)
    lines = out.file.getvalue().rstrip("\n").split("\n")
    return "\n".join((" " * indent + line).rstrip() for line in lines)


def hanging(first: str, rest: str | None, indent: int = 4, margin: int = 0) -> str:
    """A line, then ``rest`` wrapped under it ``indent`` spaces further in (a queue item, a search result); the
    whole ``margin`` spaces from the left."""
    shown = render(first, indent=margin)
    return shown if not rest else shown + "\n" + render(rest, indent=margin + indent)
