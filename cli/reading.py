"""The warehouse a command reads: named in its first line, refused when it was never loaded, errors in one line.

``open_warehouse`` prints ``warehouse <URL without credentials> (<what it holds>)`` and refuses, in one line and
with exit code 2, a warehouse that was never loaded (``core.warehouse_state``: no file, no bridge tables, no pull
finished) unless the command was given ``--allow-empty``; then it goes on with an empty one, creating nothing to
read it (a missing SQLite file stays missing). A warehouse that cannot be read at all is refused with exit code 1
and the driver's reason. :func:`one_line` turns a command's refusals, and a read the database refuses half-way,
into one line on stderr instead of a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from core import settings

if TYPE_CHECKING:
    from core.warehouse import Warehouse

PROGRAM = "approval-bridge"
ALLOW_EMPTY = "--allow-empty"


class Refused(Exception):
    """A command's answer when it cannot go on: printed as one line, ``code`` the exit code."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def add_allow_empty(parser) -> None:
    parser.add_argument(
        ALLOW_EMPTY,
        action="store_true",
        help="go on with a warehouse that was never loaded (no file, no tables, no pull finished) instead of refusing",
    )


def how_many(text: str) -> int:
    """A ``--limit``: a whole number from 1, or a one-line refusal (argparse prints it and exits 2)."""
    import argparse

    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of items; give 1 or more, e.g. 20")
    return int(text)


def warehouse_url() -> str:
    try:
        return settings.warehouse_url()
    except settings.ConfigurationError as exc:
        raise Refused(str(exc)) from None


def open_warehouse(allow_empty: bool, *, writes: bool = False) -> Warehouse:
    """The configured warehouse, named on stdout; refused when never loaded (unless ``allow_empty``) or unreadable.
    A read of a warehouse without file or tables goes to an empty one in memory: reading creates nothing.
    ``writes``: the command writes (``review decide``), so with ``allow_empty`` the warehouse is created."""
    from core.warehouse import Warehouse
    from core.warehouse_state import MISSING, NO_TABLES, UNREADABLE, UnreadableURL, state_of

    url = warehouse_url()
    try:
        found = state_of(url)
    except UnreadableURL as exc:
        raise Refused(f"{settings.WAREHOUSE.name}: {exc}") from None
    if found.state == UNREADABLE:
        raise Refused(f"the warehouse {found.shown} cannot be read: {found.problem}", code=1)
    if found.never_loaded and not allow_empty:
        raise Refused(
            f"the warehouse {found.shown} was {found.why()}; check DAGSTER_HOME and {settings.WAREHOUSE.name}, or "
            f"give {ALLOW_EMPTY} to go on with it empty"
        )
    from cli.screen import WIDTH, render, width

    named = f"warehouse {found.shown}"
    held = f"({found.why()}{', read as empty' if found.never_loaded else ''})"
    # one line when it fits; else what it holds on the next, indented (a URL is never broken)
    print(f"{named} {held}" if width(f"{named} {held}") <= WIDTH else f"{named}\n{render(held, indent=2)}")
    if found.state in (MISSING, NO_TABLES) and not writes:
        return Warehouse(url="sqlite://")  # the bridge's tables, empty, in memory: nothing created at the URL
    return Warehouse(url=url)


def name_warehouse() -> None:
    """Print which warehouse a command reads, without credentials, and nothing else (a command that does not
    refuse an empty one: ``dashboard``, ``deliver``); a URL that is missing or unreadable is left to the command."""
    from core.warehouse_state import UnreadableURL, shown_url

    with contextlib.suppress(UnreadableURL, settings.ConfigurationError):
        print(f"warehouse {shown_url(settings.warehouse_url())}", flush=True)


def one_line(command: str) -> Callable[[Callable[..., int]], Callable[..., int]]:
    """A command whose refusals (:class:`Refused`) and failed reads end in one line on stderr: ``approval-bridge
    <command>: <why>``, with the refusal's exit code (1 for a read the database refused)."""

    def wrap(run: Callable[..., int]) -> Callable[..., int]:
        @functools.wraps(run)
        def guarded(*args, **kwargs) -> int:
            import sqlalchemy as sa  # here, not at the top: `approval-bridge --help` stays quick

            try:
                return run(*args, **kwargs)
            except Refused as refusal:
                print(f"{PROGRAM} {command}: {refusal}", file=sys.stderr)
                return refusal.code
            except sa.exc.SQLAlchemyError as exc:
                lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
                reason = lines[0] if lines else type(exc).__name__
                print(f"{PROGRAM} {command}: the warehouse refused a read: {reason}", file=sys.stderr)
                return 1

        return guarded

    return wrap
