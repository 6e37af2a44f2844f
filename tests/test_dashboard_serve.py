"""The dashboard serves exactly one file (issue 24): its page, at ``/`` and under its own name, over real HTTP on
loopback. The folder it is written to may hold the warehouse itself (``dagster_home/``): no other file of it, no
listing, no path that climbs out, is ever answered."""

from __future__ import annotations

import http.client
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from dashboard.serve import handler_for
from sandbox.instance import free_port

BIN = Path(sys.executable).parent

pytestmark = pytest.mark.integration  # real HTTP on loopback

PAGE = "<!doctype html><title>办件</title><p>一次录入，全程共享</p>"


@pytest.fixture
def served(tmp_path):
    folder = tmp_path / "dagster_home"
    folder.mkdir()
    (folder / "index.html").write_text(PAGE, encoding="utf-8")
    (folder / "warehouse.sqlite").write_bytes(b"SQLite format 3\x00 320412199807296328 13912345678")
    (folder / "sub").mkdir()
    (folder / "sub" / "index.html").write_text("not the page", encoding="utf-8")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_for(folder / "index.html"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.server_address[1]}", timeout=5.0) as client:
            yield client, folder
    finally:
        server.shutdown()
        server.server_close()


def test_the_page_is_served_at_the_root_and_under_its_name(served):
    client, _ = served
    for path in ("/", "/index.html", "/?month=2026-11"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert answer.text == PAGE and answer.headers["content-type"] == "text/html; charset=utf-8"
    head = client.head("/")
    assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 0


@pytest.mark.parametrize(
    "path",
    ["/warehouse.sqlite", "/sub/", "/sub/index.html", "/sub", "/../index.html", "/%2e%2e/warehouse.sqlite",
     "//warehouse.sqlite", "/index.html/", "/index.html/../warehouse.sqlite", "/.", "/dagster.yaml"],
)  # fmt: skip
def test_no_other_file_and_no_listing(served, path):
    client, _ = served
    raw = http.client.HTTPConnection(client.base_url.host, client.base_url.port, timeout=5)  # the path as typed
    try:
        raw.request("GET", path)
        answer = raw.getresponse()
        body = answer.read()
    finally:
        raw.close()
    assert answer.status == 404, path
    assert b"SQLite" not in body and b"320412" not in body and b"Index of" not in body


def test_other_methods_are_refused(served):
    client, _ = served
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        assert client.request(method, "/").status_code == 405, method
    assert client.request("PROPFIND", "/").status_code == 501


def test_a_page_being_rewritten_answers_503_not_a_traceback(served):
    client, folder = served
    (folder / "index.html").unlink()
    answer = client.get("/")
    assert answer.status_code == 503 and "reload" in answer.text


def test_the_command_serves_the_page_and_not_the_warehouse_beside_it(tmp_path, warehouse):
    """``approval-bridge dashboard --output dagster_home/index.html``: the warehouse file in that folder is 404."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "warehouse.sqlite").write_bytes(b"SQLite format 3\x00 320412199807296328")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_DIR", "_APP_KEY", "_APP_SECRET"))}
    env |= {"DAGSTER_HOME": str(home), "BRIDGE_WAREHOUSE_URL": warehouse.engine.url.render_as_string(False)}
    command = [str(BIN / "approval-bridge"), "dashboard", "--port", str(port), "--output", str(home / "index.html")]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5.0) as client:
            for _ in range(600):  # up to a minute for the page to be built
                try:
                    if client.get("/").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, process.communicate()[1]
                threading.Event().wait(0.1)
            assert client.get("/").status_code == 200
            assert client.get("/warehouse.sqlite").status_code == 404
            assert client.get("/dagster_home/").status_code == 404
    finally:
        process.terminate()
        process.communicate(timeout=30)
