"""``approval-bridge review list [--kind pairs|orders|projects]``: everything waiting for a person, by kind
(``reporting.waiting``), oldest first, with what to do and a count line at the end."""

from __future__ import annotations

from cli.screen import hanging, render
from core import clock
from reporting.waiting import KINDS, NOUNS, SINCE, TITLES, WHAT_TO_DO, queue


def waiting_text(warehouse, kinds: list[str] | None = None, limit: int = 20) -> str:
    """Each kind asked for (default all): a heading with its count and what to do, its items (at most ``limit``
    each), then one line counting them all."""
    today = clock.today()
    blocks, counted = [], []
    for kind in kinds or KINDS:
        waiting = queue(warehouse, kind, limit)
        counted.append(f"{NOUNS[kind]} {waiting.total}")
        oldest = f", the oldest {(today - waiting.oldest).days} days" if waiting.oldest else ""
        blocks.append(render(f"{TITLES[kind]}: {waiting.total} waiting{oldest}"))
        if not waiting.total:
            continue
        blocks.append(render(f"to do: {WHAT_TO_DO[kind]}", indent=2))
        blocks.append(render(f"oldest first; the day {SINCE[kind]}, then the item:", indent=2))
        for item in waiting.items.itertuples():
            since = str(item.since) if item.since is not None and str(item.since) != "NaT" else "?"
            blocks.append(hanging(f"{since}  {item.head}", item.detail or None, indent=12, margin=2))
        if waiting.total > len(waiting.items):
            blocks.append(render(f"... and {waiting.total - len(waiting.items)} more (--limit shows more)", indent=2))
        blocks.append("")
    total = sum(int(c.rsplit(" ", 1)[1]) for c in counted)
    blocks.append(f"waiting for a person: {', '.join(counted)}" + (f" ({total} in all)" if len(counted) > 1 else ""))
    return "\n".join(blocks)
