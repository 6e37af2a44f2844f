"""The municipal platform's case document as configuration: a field map file (``connectors/maps/<name>.yaml``).

Each key of the JSON object reads a field of the case facts (:func:`connectors.province.case_facts`: the canonical
case, its 办件编号, its catalogue entry), through a code list where the map says so, or a constant. The same rules
as the province's tables hold: a code with no mapping or a required value missing keeps the version back with a
reason, never a guess; a version without a 办件编号 has nothing for the platform (it is not accepted yet) and is
not sent. The bridge's internal golden id is never part of the document.
"""

from __future__ import annotations

import hashlib
import os
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ConfigDict, Field

from connectors.province import ColumnMap, case_facts, column_values, load_file
from connectors.targets import NOTHING, Delivery, HttpTarget, OutboxMessage
from core.provenance import Provenance

MAPS_DIR = Path(__file__).parent / "maps"
MAP_VARIABLE = "MUNICIPAL_MAP"
DEFAULT_MAP = "municipal"


class DocumentMap(Provenance):
    """A field map; ``source:`` or ``assumed:`` says where its keys and codes come from (docs/formats.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    codes: str  # the code lists' column for this receiver
    case_key: str  # the key that names the case at the receiver (its 办件编号)
    version: str  # the key the outbox version goes under
    fields: dict[str, ColumnMap]


class MapError(ValueError):
    """A map file that cannot be used; the message names the file and the problem."""


@cache
def document_map(name: str, directory: Path = MAPS_DIR) -> DocumentMap:
    chosen = load_file(DocumentMap, directory, name, "field map", MapError)
    if chosen.case_key not in chosen.fields or chosen.fields[chosen.case_key].field != "project_no":
        raise MapError(
            f"{directory / name}.yaml: {chosen.case_key!r} must be a field reading project_no (the 办件编号)"
        )
    return chosen


def municipal_map() -> str:
    """``MUNICIPAL_MAP`` (default ``municipal``), checked: refuses an unknown or broken map, naming the file."""
    name = os.environ.get(MAP_VARIABLE, "").strip() or DEFAULT_MAP
    document_map(name)
    return name


def documents(messages: list[OutboxMessage], chosen: DocumentMap) -> tuple[dict[str, dict], dict[str, str]]:
    """(documents, held) by idempotency key: the JSON object of each version to send, and the reason each version
    kept back has. A version in neither has nothing for the receiver (no 办件编号 yet)."""
    if not messages:
        return {}, {}
    cases = pd.DataFrame(
        [{**m.payload, "golden_case_id": m.idempotency_key, "version": m.version} for m in messages]
    ).set_index(pd.RangeIndex(len(messages)))
    facts = case_facts(cases)
    numbered = facts[facts["project_no"].notna()]
    frame = pd.DataFrame(index=numbered.index)
    problems: list[pd.DataFrame] = []
    for key, how in chosen.fields.items():
        frame[key], found = column_values(numbered, how, chosen.codes, key)
        problems += found
    frame[chosen.version] = numbered["version"].astype(int)
    held: dict[str, str] = {}
    for found in problems:
        for key, reason in zip(found["golden_case_id"], found["reason"], strict=True):
            held.setdefault(key, reason)
    keys = numbered["golden_case_id"]
    return {
        key: _json_ready(row) for key, row in zip(keys, frame.to_dict("records"), strict=True) if key not in held
    }, held


def _json_ready(row: dict[str, Any]) -> dict[str, Any]:
    """Timestamps as ISO text, numpy numbers as Python's, missing values as null."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, pd.Timestamp):
            out[key] = value.isoformat()
        elif value is None or (not isinstance(value, str) and pd.isna(value)):
            out[key] = None
        else:
            out[key] = value.item() if hasattr(value, "item") else value
    return out


class MunicipalTarget(HttpTarget):
    """常州市一体化平台: each case version as the field map's JSON document, signed; a version held back by the
    map's rules is a dead letter with the reason, one without a 办件编号 is not sent."""

    map_name: str = Field(default=DEFAULT_MAP, description="connectors/maps/<name>.yaml (MUNICIPAL_MAP)")

    def format_name(self) -> str:
        return f"field map {self.map_name} (connectors/maps/{self.map_name}.yaml)"

    def prepare(self, messages: list[OutboxMessage]) -> tuple[list[tuple[OutboxMessage, dict]], list[Delivery]]:
        ready_documents, held = documents(messages, document_map(self.map_name))
        ready, settled = [], []
        for m in messages:
            key = m.idempotency_key
            if key in held:
                settled.append(Delivery(key, "rejected", None, "HELD", held[key]))
            elif key in ready_documents:
                ready.append((m, ready_documents[key]))
            else:
                settled.append(Delivery(key, "sent", NOTHING + hashlib.sha256(key.encode()).hexdigest()[:31]))
        return ready, settled
