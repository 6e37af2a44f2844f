"""REST paging as configuration: page numbers until the total, cursors until none, and never forever.

The department's API is an in-process ``httpx.MockTransport`` (no port): it answers like the systems do,
including a cursor that comes round again and a listing longer than the configured page limit.
"""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest

import connectors.sources as sources
from connectors.sources import RestSource, build_source

pytestmark = pytest.mark.unit

SINCE, UNTIL = dt.datetime(2026, 11, 16), dt.datetime(2026, 11, 17)


def rows(first: int, count: int) -> list[dict]:
    return [{"caseNo": f"C{n:04d}", "updateTime": "2026-11-16 10:00:00"} for n in range(first, first + count)]


@pytest.fixture
def api(monkeypatch):
    """Route the connector's client to ``api.answer(request)``; record what was asked."""

    class Api:
        def __init__(self) -> None:
            self.asked: list[dict] = []

        def answer(self, request: httpx.Request) -> httpx.Response:  # replaced per test
            raise NotImplementedError

    found = Api()

    def client(base_url: str, timeout_seconds: float) -> httpx.Client:
        def handler(request: httpx.Request) -> httpx.Response:
            asked = dict(request.url.params)
            if request.content:
                asked.update(json.loads(request.content))
            found.asked.append(asked)
            return found.answer(request)

        return httpx.Client(base_url=base_url, transport=httpx.MockTransport(handler))

    monkeypatch.setattr(sources, "make_client", client)
    return found


def paged(**settings) -> RestSource:
    base = dict(path="/cases", id_field="caseNo", changed_field="updateTime", page_size=3, app_secret="s" * 32)
    return build_source("rest", {**base, **settings}, endpoint="http://dept.example", app_key="k", app_secret="s" * 32)


def test_page_numbers_until_the_reported_total(api):
    data = rows(1, 7)

    def answer(request):
        page = int(request.url.params["pageNo"])
        return httpx.Response(200, json={"code": "0", "data": {"rows": data[(page - 1) * 3 : page * 3], "total": 7}})

    api.answer = answer
    batch = paged(paging="page").fetch_changes(SINCE, UNTIL)
    assert [r.record_key for r in batch.records] == [f"C{n:04d}" for n in range(1, 8)]
    assert [a["pageNo"] for a in api.asked] == ["1", "2", "3"]
    assert batch.complete and batch.notes == []


def test_cursor_until_the_source_gives_none(api):
    pages = {None: (rows(1, 3), "c2"), "c2": (rows(4, 3), "c3"), "c3": (rows(7, 1), None)}

    def answer(request):
        listed, following = pages[json.loads(request.content).get("cursor")]
        return httpx.Response(200, json={"code": "0", "data": {"list": listed, "nextCursor": following}})

    api.answer = answer
    batch = paged(paging="cursor", method="POST", records_path="data.list").fetch_changes(SINCE, UNTIL)
    assert len(batch.records) == 7 and batch.complete
    assert [a.get("cursor") for a in api.asked] == [None, "c2", "c3"]


def test_a_cursor_that_comes_round_again_stops_the_listing_and_says_so(api):
    following = {None: "c2", "c2": "c3", "c3": "c2"}  # c3 points back at c2: paging would never end

    def answer(request):
        cursor = json.loads(request.content).get("cursor")
        return httpx.Response(200, json={"code": "0", "data": {"list": rows(1, 3), "nextCursor": following[cursor]}})

    api.answer = answer
    batch = paged(paging="cursor", method="POST", records_path="data.list").fetch_changes(SINCE, UNTIL)
    assert len(api.asked) == 3
    assert not batch.complete
    assert batch.notes == ["/cases: the source gave the same cursor twice; stopped after page 3"]


def test_the_page_limit_stops_a_listing_that_does_not_end(api):
    api.answer = lambda request: httpx.Response(200, json={"code": "0", "data": {"rows": rows(1, 3), "total": 10**6}})
    batch = paged(paging="page", max_pages=4).fetch_changes(SINCE, UNTIL)
    assert len(api.asked) == 4 and not batch.complete
    assert batch.notes == ["/cases: stopped at the page limit (4 pages of 3)"]


def test_a_declaration_with_an_unknown_setting_is_refused_when_the_definitions_load():
    from core.departments import DeclarationError, department
    from pipelines.resources import department_resource

    with pytest.raises(ValueError, match="page_sise"):
        paged(page_sise=50)
    declared = department("approval_platform")
    misspelt = declared.model_copy(
        update={"connector": declared.connector.model_copy(update={"page_sise": 50})}, deep=True
    )
    misspelt.connector.model_extra["page_sise"] = 50
    with pytest.raises(DeclarationError, match=r"approval_platform\.yaml \(cases\): page_sise: Extra inputs"):
        department_resource(misspelt)
