"""Every format file of the bridge and where it comes from: the department and feed declarations, the municipal
field maps, the province profiles, the code lists and the code tables, each with its ``source:`` (the standard or
public definition it follows) or ``assumed:`` (what to confirm, with whom), and the parts of a sourced file that
are assumed.

:func:`collect` reads them all; ``approval-bridge config check`` prints one warning per assumed item in the
production profile, and docs/formats.md carries the table :func:`markdown` writes (``python -m core.formats
--write`` rewrites it; a test fails when the page and the files disagree). The declarations and code lists are read
through their own loaders, so a file that names neither a source nor an assumption is refused there in one line;
the connectors' YAML (province profiles, municipal field maps) is read here as YAML, since core does not import
the connectors: a caller that can (the command line) passes the profiles' own ``assumptions()`` as a hook.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from core import departments as declared_departments
from core import feeds as declared_feeds
from core import provenance
from schemas import codelists

REPO_ROOT = Path(__file__).resolve().parent.parent
PROFILES_DIR = REPO_ROOT / "connectors" / "profiles"
MAPS_DIR = REPO_ROOT / "connectors" / "maps"
TABLES_INDEX = REPO_ROOT / "schemas" / "codes" / "tables.csv"
DOC = REPO_ROOT / "docs" / "formats.md"
BEGIN, END = "<!-- formats:begin (python -m core.formats --write) -->", "<!-- formats:end -->"

DEPARTMENT, FEED, MUNICIPAL_MAP, PROVINCE_PROFILE = (
    "department declaration",
    "feed declaration",
    "municipal field map",
    "province profile",
)
CODE_LIST, CODE_TABLE = "code list", "code table"
KINDS = (DEPARTMENT, FEED, PROVINCE_PROFILE, MUNICIPAL_MAP, CODE_LIST, CODE_TABLE)


@dataclass(frozen=True)
class Part:
    """A part of a file that no source gives: which part, and what to confirm."""

    part: str
    assumed: str


@dataclass(frozen=True)
class Format:
    """One format file: its kind, where it is, what reads it, and where it comes from."""

    kind: str
    path: str  # relative to the repository, or absolute for a deployment's own folder
    title: str
    used_by: str
    source: str | None
    assumed: str | None
    parts: tuple[Part, ...] = ()
    problem: str | None = None  # the file says neither (or both): reported, and counted as assumed

    def warnings(self) -> list[str]:
        """One line per assumed item: a file assumed as a whole (or naming no source) is one item, its assumed
        parts counted on that line; in a sourced file each assumed part is one."""
        more = f" ({len(self.parts)} assumed part(s) listed in docs/formats.md)" if self.parts else ""
        if self.problem:
            return [f"{self.path} ({self.kind}): {self.problem}{more}"]
        if self.assumed:
            return [f"{self.path} ({self.kind}): assumed: {self.assumed}{more}"]
        return [f"{self.path} ({self.kind}), {p.part}: assumed: {p.assumed}" for p in self.parts]


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _text(value: object) -> str | None:
    return " ".join(str(value).split()) if isinstance(value, str) and value.strip() else None


def _parts(items: Iterable[tuple[str, str]], besides: str | None = None) -> tuple[Part, ...]:
    """Parts without blanks or repeats (nor a repeat of the file's own assumption)."""
    seen, found = {besides}, []
    for part, text in items:
        text = _text(text)
        if text and text not in seen:
            seen.add(text)
            found.append(Part(part, text))
    return tuple(found)


def _declared(dirs: Iterable[Path]) -> dict[str, Path]:
    """Name → path of the declaration in force (a later folder's file overrides an earlier one of that name)."""
    found: dict[str, Path] = {}
    for folder in dirs:
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else ():
            found[path.stem] = path
    return found


def _declarations(kind: str, declared: dict, dirs: Iterable[Path], used_by: Callable[[str, Any], str]) -> list[Format]:
    """One row per declaration file (a department's system, a feed): read and checked where it is declared, so a
    file naming neither source nor assumed was refused there already."""
    paths = _declared(dirs)
    return [
        Format(
            kind,
            _shown(paths[name]),
            d.title,
            used_by(name, d),
            _text(d.source),
            _text(d.assumed),
            _parts(d.assumed_parts.items(), _text(d.assumed)),
        )
        for name, d in declared.items()
    ]


def _departments() -> list[Format]:
    return _declarations(
        DEPARTMENT,
        declared_departments.departments(),
        declared_departments.declaration_dirs(),
        lambda name, _: f"raw_{name} → staged_cases",
    )


def _feeds() -> list[Format]:
    return _declarations(
        FEED, declared_feeds.feeds(), declared_feeds.declaration_dirs(), lambda name, f: f"raw_{name} → staged {f.kind}"
    )


def _walk(node: object, at: str = "") -> Iterable[tuple[str, str]]:
    """Nested ``assumed:`` keys of a YAML document (a column's, a table's): (where, text)."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            where = f"{at}.{key}" if at else str(key)
            if key == "assumed" and at and isinstance(value, str):
                yield at, value
            elif key == "assumed_parts" and not at and isinstance(value, Mapping):
                yield from ((str(part), str(text)) for part, text in value.items())
            else:
                yield from _walk(value, where)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{at}[{index}]")


def _hooked(result: object) -> list[tuple[str, str]]:
    """Whatever a profile's ``assumptions()`` returns, as (part, text): a mapping, texts, pairs or objects."""
    if result is None:
        return []
    if isinstance(result, Mapping):
        return [(str(part), str(text)) for part, text in result.items()]
    if isinstance(result, str):
        return [("", result)]
    found = []
    for item in result if isinstance(result, Iterable) else [result]:
        if isinstance(item, str):
            found.append(("", item))
        elif isinstance(item, tuple | list) and len(item) == 2:
            found.append((str(item[0]), str(item[1])))
        else:
            part = next((getattr(item, a) for a in ("part", "where", "column", "name") if hasattr(item, a)), "")
            text = next((getattr(item, a) for a in ("assumed", "text", "what") if hasattr(item, a)), str(item))
            found.append((str(part), str(text)))
    return found


def _connector_files(
    kind: str, folder: Path, used_by: str, chosen: str | None, hook: Callable[[str], object] | None
) -> list[Format]:
    formats = []
    for path in sorted(folder.glob("*.yaml")):
        if chosen is not None and path.stem != chosen:
            continue
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            formats.append(
                Format(
                    kind,
                    _shown(path),
                    path.stem,
                    used_by,
                    None,
                    None,
                    problem=f"not readable as YAML ({str(exc).splitlines()[0]})",
                )
            )
            continue
        source, assumed = _text(document.get("source")), _text(document.get("assumed"))
        parts = list(_walk(document))
        if hook is not None:
            method = hook(path.stem)
            parts += _hooked(method() if callable(method) else method)
        problem = None
        if bool(source) == bool(assumed):
            problem = (
                "names both source and assumed: keep one"
                if source
                else "names neither source nor assumed: treat it as assumed until it names its source"
            )
        formats.append(
            Format(
                kind,
                _shown(path),
                _text(document.get("title")) or path.stem,
                used_by.format(name=path.stem),
                source,
                assumed,
                _parts(parts, assumed),
                problem,
            )
        )
    return formats


def _list_users() -> dict[str, list[str]]:
    """Code list → the profiles and field maps that translate through it (``codes: <list>`` in their columns)."""
    users: dict[str, list[str]] = {}

    def visit(node: object, owner: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if key == "codes" and isinstance(value, str) and value in lists and owner not in users.get(value, []):
                    users.setdefault(value, []).append(owner)
                visit(value, owner)
        elif isinstance(node, list):
            for value in node:
                visit(value, owner)

    lists = set(codelists.list_names())
    for folder in (PROFILES_DIR, MAPS_DIR):
        for path in sorted(folder.glob("*.yaml")):
            try:
                document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError):
                continue
            visit({k: v for k, v in document.items() if k != "codes"}, f"{folder.name}/{path.stem}")
    return users


def _code_lists() -> list[Format]:
    lists, users = codelists.DEFAULT, _list_users()
    formats = []
    for name in codelists.list_names():
        source, assumed = lists.provenance(name)
        rows = [(", ".join(values), text) for text, values in lists.assumed_rows(name).items()]
        used_by = ", ".join(users.get(name, [])) or "not translated by any profile or map"
        formats.append(
            Format(
                CODE_LIST,
                _shown(lists.path(name)),
                f"{name} {lists.titles[name]}",
                used_by,
                _text(source),
                _text(assumed),
                _parts(rows, _text(assumed)),
            )
        )
    return formats


def _code_tables() -> list[Format]:
    index = pd.read_csv(TABLES_INDEX, dtype=str, keep_default_na=False)
    formats = []
    for entry in index.itertuples(index=False):
        source, assumed = _text(entry.source), _text(entry.assumed)
        files = sorted(REPO_ROOT.glob(entry.file))
        problem = None
        if not files:
            problem = f"{_shown(TABLES_INDEX)} names {entry.file}, which is not there"
        elif bool(source) == bool(assumed):
            problem = f"{_shown(TABLES_INDEX)}: {'both' if source else 'neither'} source and assumed for {entry.file}"
        parts: dict[str, list[str]] = {}
        for path in files if len(files) == 1 else ():  # rows' own source cells (a folder of years has none)
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
            if "source" not in table.columns:
                continue
            key = table.columns[0]
            for value, cell in zip(table[key], table["source"], strict=True):
                row_source, row_assumed = provenance.split(cell)
                if row_assumed and value not in parts.setdefault(row_assumed, []):
                    parts[row_assumed].append(value)
                elif not row_source:
                    problem = problem or f"rows name no source and no 'assumed: …' ({key} {value})"
        formats.append(
            Format(
                CODE_TABLE,
                entry.file,
                entry.title,
                entry.used_by,
                source,
                assumed,
                _parts([(", ".join(v), t) for t, v in parts.items()], assumed),
                problem,
            )
        )
    return formats


def collect(
    chosen: Mapping[str, str] | None = None, profile_assumptions: Callable[[str], object] | None = None
) -> list[Format]:
    """Every format file with where it comes from. ``chosen``: the province profile and municipal field map in force
    (kind → name; the others of that kind are left out); ``profile_assumptions``: a profile's name → its
    ``assumptions`` method, when the caller can load profiles."""
    chosen = chosen or {}
    return [
        *_departments(),
        *_feeds(),
        *_connector_files(
            PROVINCE_PROFILE,
            PROFILES_DIR,
            "province delivery (BRIDGE_PROVINCE_PROFILE={name})",
            chosen.get(PROVINCE_PROFILE),
            profile_assumptions,
        ),
        *_connector_files(
            MUNICIPAL_MAP, MAPS_DIR, "municipal delivery (MUNICIPAL_MAP={name})", chosen.get(MUNICIPAL_MAP), None
        ),
        *_code_lists(),
        *_code_tables(),
    ]


def warnings(formats: Iterable[Format]) -> list[str]:
    """One line per assumed item, each once."""
    return list(dict.fromkeys(line for f in formats for line in f.warnings()))


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|")


def markdown(formats: Iterable[Format]) -> str:
    """The tables docs/formats.md carries between its markers: every file, then every assumed part."""
    formats = list(formats)
    lines = ["| format | file | used by | source, or **assumed**: what to confirm |", "|---|---|---|---|"]
    for f in formats:
        said = f"**assumed**: {f.assumed}" if f.assumed else (f.source or "")
        if f.problem:
            said = f"**{f.problem}**" + (f" ({said})" if said else "")
        lines.append(f"| {f.kind}: {_cell(f.title)} | `{f.path}` | {_cell(f.used_by)} | {_cell(said)} |")
    lines += [
        "",
        "Parts of these files that no source gives:",
        "",
        "| file | part | **assumed**: what to confirm |",
        "|---|---|---|",
    ]
    for f in formats:
        lines += [f"| `{f.path}` | {_cell(p.part)} | {_cell(p.assumed)} |" for p in f.parts]
    return "\n".join(lines)


def document_with(page: str, formats: Iterable[Format]) -> str:
    """``page`` with the tables between its markers replaced by the current ones."""
    if BEGIN not in page or END not in page:
        raise ValueError(f"{_shown(DOC)} has no {BEGIN} … {END} markers")
    head, rest = page.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{markdown(formats)}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.formats", description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite the tables of {_shown(DOC)}")
    args = parser.parse_args(argv)
    page = DOC.read_text(encoding="utf-8")
    updated = document_with(page, collect())
    if args.write:
        DOC.write_text(updated, encoding="utf-8")
        print(f"{_shown(DOC)}: tables rewritten")
        return 0
    if updated != page:
        print(f"{_shown(DOC)} is out of date: python -m core.formats --write", file=sys.stderr)
        return 1
    print(f"{_shown(DOC)} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
