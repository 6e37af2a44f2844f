"""URLs and connection strings as a person may see them: every credential part removed.

- the user-info password (``postgresql://user:secret@host/db``);
- every query parameter whose name says it holds one (``?password=``, ``sslpassword``, ``api_key``, ``token``,
  ``secret``, ``pwd``, ``credential``);
- inside any query value (an ODBC connection string in ``odbc_connect``, say), every ``PWD=``, ``Password=``,
  ``Token=`` or ``Secret=`` pair of ``;``-separated attributes (``DRIVER={…};UID=u;PWD=secret``).

A text that is not a URL at all is not repeated: it may itself be a secret.
"""

from __future__ import annotations

import re

HIDDEN = "***"
#: Names of query parameters and connection-string attributes that may carry a secret.
SECRET_NAME = re.compile(r"pass|pwd|secret|token|credential|key", re.IGNORECASE)
_ATTRIBUTE = re.compile(
    r"(?P<name>[A-Za-z_ ]*(?:pass|pwd|secret|token|credential|key)[A-Za-z_ ]*)=(?P<value>\{[^}]*\}|[^;]*)",
    re.IGNORECASE,
)


class NotAURL(ValueError):
    """The text is not a SQLAlchemy URL (its text is not repeated: it may hold a password)."""


def hidden_attributes(text: str) -> str:
    """``text`` with the value of every secret-named ``NAME=value`` attribute (ODBC style) replaced."""
    return _ATTRIBUTE.sub(lambda m: f"{m.group('name')}={HIDDEN}", text)


def redacted_url(url) -> str:
    """``url`` (a string or ``sqlalchemy.URL``) with every credential part replaced by ``***`` (see the module).
    Raises :class:`NotAURL` for a text SQLAlchemy cannot read as a URL."""
    import sqlalchemy as sa  # here, not at the top: every command imports settings, few print a URL

    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        raise NotAURL("not a URL (dialect+driver://user@host/database)") from None

    def hide(name: str, value):
        if SECRET_NAME.search(name):
            return HIDDEN
        if isinstance(value, tuple):
            return tuple(hidden_attributes(v) for v in value)
        return hidden_attributes(value)

    query = {name: hide(name, value) for name, value in parsed.query.items()}
    shown = parsed.set(query=query).render_as_string(hide_password=True)
    return shown.replace("%2A%2A%2A", HIDDEN)
