"""No credential is ever printed (issue 24): ``config check`` and every command that names the warehouse show a
URL with its password, its secret-named query parameters and an ODBC string's ``PWD=`` removed, and a secret only
as its length, whatever it looks like (one containing ``://`` was printed in clear)."""

from __future__ import annotations

import urllib.parse

import pytest

from core import settings
from core.redact import NotAURL, redacted_url
from core.warehouse_state import UnreadableURL, shown_url

pytestmark = pytest.mark.unit

ODBC = "DRIVER={ODBC Driver 18 for SQL Server};SERVER=db;UID=bridge;PWD={s3c;ret};Encrypt=yes"
URLS = [
    ("postgresql+psycopg2://bridge:s3cret@db:5432/bridge", ["s3cret"], ["bridge:***@db:5432/bridge"]),
    ("postgresql+psycopg2://bridge@db/bridge?password=t0p&sslmode=require", ["t0p"], ["sslmode=require"]),
    ("postgresql+psycopg2://db/bridge?sslpassword=k3y&sslkey=/etc/key.pem", ["k3y", "key.pem"], ["sslpassword=***"]),
    ("mysql+pymysql://db/bridge?api_key=abc123&charset=utf8mb4", ["abc123"], ["charset=utf8mb4"]),
    ("https://platform.example/api?access_token=tok987&page=2", ["tok987"], ["page=2"]),
    ("https://platform.example/api?Secret=zz9&PWD=pw1", ["zz9", "pw1"], ["Secret=***"]),
    ("mssql+pyodbc:///?odbc_connect=" + urllib.parse.quote_plus(ODBC), ["s3c", "ret}"], ["SERVER%3Ddb"]),
]


@pytest.mark.parametrize(("url", "secrets", "kept"), URLS)
def test_every_credential_part_is_removed(url, secrets, kept):
    shown = redacted_url(url)
    decoded = urllib.parse.unquote_plus(shown)
    for secret in secrets:
        assert secret not in shown and secret not in decoded, shown
    for part in kept:
        assert part in shown, shown
    assert shown_url(url) == shown


def test_a_text_that_is_not_a_url_is_not_repeated():
    with pytest.raises(NotAURL) as refused:
        redacted_url("postgres:/bridge:s3cret@db")
    assert "s3cret" not in str(refused.value)
    with pytest.raises(UnreadableURL):
        shown_url("not a url at all s3cret")


@pytest.mark.parametrize("value", ["https://user:pw@host/x", "abc://def", "plain-secret-value-0123456789", "密钥://x"])
def test_a_secret_is_shown_only_as_its_length(value):
    variable = settings.Variable("EXAMPLE_APP_SECRET", "a receiver's secret", secret=True)
    assert settings.shown(variable, value) == f"(secret, {len(value)} characters)"


def test_a_url_that_is_not_secret_is_shown_without_its_credentials():
    variable = settings.Variable("BRIDGE_WAREHOUSE_URL", "the warehouse")
    shown = settings.shown(variable, "postgresql+psycopg2://bridge:s3cret@db/bridge?password=t0p")
    assert shown == "postgresql+psycopg2://bridge:***@db/bridge?password=***"
    assert settings.shown(variable, "a b://user:s3cret@host") == "(set; not a URL)"
    assert settings.shown(variable, "/srv/drop") == "/srv/drop"
    secret_url = settings.Variable("HOUSING_DB_URL", "a department's database", secret=True)
    assert (
        settings.shown(secret_url, "mysql+pymysql://ro:pw9@db/x?password=pw8")
        == "mysql+pymysql://ro:***@db/x?password=***"
    )
