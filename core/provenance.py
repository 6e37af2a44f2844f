"""Where a format comes from. Every declaration, field map, profile and code list names its ``source:`` (the
standard or public definition it follows) or says ``assumed:`` and what to confirm, with whom; a part of a sourced
file that is the bridge's own guess says so in ``assumed_parts`` (part → what to confirm).

:class:`Provenance` is the fields and the rule for the YAML declarations (``core.departments``, ``core.feeds``,
``connectors.municipal``); :func:`split` reads the same two things from a code list's ``source`` cell, where a row
writes ``<source>; assumed: <what to confirm>`` or ``assumed: <what to confirm>``. ``core.formats`` collects them
all and ``approval-bridge config check`` warns about each assumed one in production (docs/formats.md).
"""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

ASSUMED = "assumed:"


class Provenance(BaseModel):
    """``source`` or ``assumed`` (exactly one) for the whole file, and the parts of it that are assumed."""

    source: str | None = None  # the standard or public definition the file follows (with its store id or URL)
    assumed: str | None = None  # no public definition: what the file guesses, and what to confirm with whom
    # parts of the file that no source gives (a field, a code map, the connector's path): part -> what to confirm
    assumed_parts: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _says_where_it_comes_from(self) -> Provenance:
        sourced, assumed = bool((self.source or "").strip()), bool((self.assumed or "").strip())
        if sourced == assumed:
            given = "both source and assumed" if sourced else "neither source nor assumed"
            raise ValueError(
                f"{given}: name exactly one, source: (the standard or public definition followed) or assumed: "
                "(what to confirm, with whom)"
            )
        if empty := sorted(part for part, text in self.assumed_parts.items() if not str(text).strip()):
            raise ValueError(f"assumed_parts {empty} say nothing: write what to confirm, with whom")
        return self


def split(text: object) -> tuple[str | None, str | None]:
    """A code list's ``source`` cell → (source, assumed): ``assumed: …`` alone, ``<source>; assumed: …``, or a
    source alone. Blank parts are ``None``."""
    if not isinstance(text, str):
        return None, None
    at = text.find(ASSUMED)
    if at < 0:
        return (text.strip() or None), None
    source = text[:at].strip().rstrip(";,").strip()
    assumed = text[at + len(ASSUMED) :].strip()
    return (source or None), (assumed or None)
