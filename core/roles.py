"""Least privilege in the warehouse (PostgreSQL): the dashboards' read-only role and the sharing API's account.

* **dashboard**: USAGE on the schema ``marts`` and SELECT on every table in it, including marts created later
  (default privileges of the warehouse's owner), ``search_path`` set to ``marts`` so BI tools name the marts
  unqualified; nothing in ``public``, where the personal data is (cases, holders, licences, the audit log).
* **api** (the licence sharing API, ``sharing/api.py``): SELECT on the tables it reads (:data:`API_READS`) and
  INSERT on ``licence_access_log`` (with USAGE on its id sequence, and SELECT on the id alone, which the insert's
  RETURNING reads); nothing else: it can write nowhere but the audit table, and sees no mart.

Both are idempotent: run again, they bring an existing role back to exactly this (its other grants in both schemas
revoked). The statements are run as the warehouse's owner, the account in ``BRIDGE_WAREHOUSE_URL`` that creates the
tables (it needs CREATEROLE), or printed (``--print-sql``) for a deploy that runs SQL itself.

Two defaults of PostgreSQL are closed on the way, as its manual recommends for a database shared by several
accounts: no warehouse table in ``public`` is granted to PUBLIC (every account), and PUBLIC may not create in
``public`` (the default since PostgreSQL 15; on 13 and 14 the statement takes that right away from every account
but the schema's owner, so the owner account is granted it first).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa

from schemas.warehouse import (
    MARTS,
    case_parties,
    findings,
    holder_codes,
    holders,
    licence_access_log,
    licences,
    metadata,
)

DASHBOARD, API = "dashboard", "api"
KINDS = (DASHBOARD, API)
#: What the licence sharing API reads (sharing/api.py: tests/test_warehouse_roles.py holds the two equal), and the
#: one table it writes.
API_READS: tuple[sa.Table, ...] = (holders, holder_codes, licences, findings, case_parties)
API_AUDIT = licence_access_log
PUBLIC_SCHEMA = "public"
#: A role name as the command accepts it: no quoting surprises, within PostgreSQL's 63 bytes.
ROLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
#: The password in the statements: a bound parameter when run, a psql variable (``-v password=…``) when printed.
PASSWORD_PARAMETER, PASSWORD_PSQL = ":password", ":'password'"


class RoleError(ValueError):
    """The role cannot be granted as asked (the message says why, in one line)."""


def mart_tables() -> list[sa.Table]:
    """The tables in the marts schema: what the dashboard role reads."""
    return sorted((t for t in metadata.tables.values() if t.schema == MARTS), key=lambda t: t.name)


def _identifier(name: str) -> str:
    if not ROLE_NAME.fullmatch(name):
        raise RoleError(f"{name!r} is not a role name here: letters, digits and _, not starting with a digit")
    return f'"{name}"'


def _table(table: sa.Table) -> str:
    return f'"{table.schema or PUBLIC_SCHEMA}"."{table.name}"'


@dataclass(frozen=True)
class Grant:
    """Who gets what: ``kind`` (dashboard or api), the role, whether it may log in, and the warehouse owner whose
    future marts the dashboard role may read (None: the account running the statements)."""

    kind: str
    role: str
    login: bool = False
    owner: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise RoleError(f"unknown role kind {self.kind!r}: one of {', '.join(KINDS)}")
        for name in (self.role, self.owner):
            if name is not None:
                _identifier(name)

    def statements(self, password: str = PASSWORD_PARAMETER) -> list[str]:
        """The SQL, in order, for PostgreSQL 13+; ``password`` is what stands for the password in ``ALTER ROLE``."""
        role, name = _identifier(self.role), self.role
        owner = _identifier(self.owner) if self.owner else "CURRENT_USER"
        for_owner = f"FOR ROLE {_identifier(self.owner)} " if self.owner else ""
        login = f"LOGIN PASSWORD {password}" if self.login else "NOLOGIN PASSWORD NULL"
        search_path = MARTS if self.kind == DASHBOARD else PUBLIC_SCHEMA
        sql = [
            "DO $$ BEGIN\n"
            f"  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{name}') THEN\n"
            f"    CREATE ROLE {role};\n"
            "  END IF;\n"
            "END $$",
            f"ALTER ROLE {role} {login}",
            f"ALTER ROLE {role} SET search_path = {search_path}",
            f"DO $$ BEGIN\n  EXECUTE format('GRANT CONNECT ON DATABASE %I TO {role}', current_database());\nEND $$",
            # Nothing of the warehouse is open to every account, and only the owner creates in public.
            f"GRANT USAGE, CREATE ON SCHEMA {PUBLIC_SCHEMA} TO {owner}",
            f"REVOKE CREATE ON SCHEMA {PUBLIC_SCHEMA} FROM PUBLIC",
            f"REVOKE ALL ON ALL TABLES IN SCHEMA {PUBLIC_SCHEMA} FROM PUBLIC",
            f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {PUBLIC_SCHEMA} FROM PUBLIC",
            # Whatever the role held before, in both schemas: gone.
            *(
                statement
                for schema in (PUBLIC_SCHEMA, MARTS)
                for statement in (
                    f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role}",
                    f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {role}",
                    f"REVOKE ALL ON SCHEMA {schema} FROM {role}",
                    f"ALTER DEFAULT PRIVILEGES {for_owner}IN SCHEMA {schema} REVOKE ALL ON TABLES FROM {role}",
                    f"ALTER DEFAULT PRIVILEGES {for_owner}IN SCHEMA {schema} REVOKE ALL ON SEQUENCES FROM {role}",
                )
            ),
        ]
        if self.kind == DASHBOARD:
            sql += [
                f"GRANT USAGE ON SCHEMA {MARTS} TO {role}",
                f"GRANT SELECT ON ALL TABLES IN SCHEMA {MARTS} TO {role}",
                f"ALTER DEFAULT PRIVILEGES {for_owner}IN SCHEMA {MARTS} GRANT SELECT ON TABLES TO {role}",
            ]
        else:
            audit = _table(API_AUDIT)
            key = API_AUDIT.c.id.name
            sql += [
                f"GRANT USAGE ON SCHEMA {PUBLIC_SCHEMA} TO {role}",
                f"GRANT SELECT ON {', '.join(_table(t) for t in API_READS)} TO {role}",
                f"GRANT INSERT ON {audit} TO {role}",
                f"GRANT SELECT ({key}) ON {audit} TO {role}",  # INSERT … RETURNING id reads the new row's id
                "DO $$ BEGIN\n"
                f"  EXECUTE format('GRANT USAGE ON SEQUENCE %s TO {role}', "
                f"pg_get_serial_sequence('{audit}', '{key}'));\n"
                "END $$",
            ]
        return sql

    def summary(self) -> str:
        """What the role holds, in one line."""
        if self.kind == DASHBOARD:
            return (
                f"USAGE on schema {MARTS}, SELECT on its {len(mart_tables())} tables and on marts created later; "
                f"nothing in {PUBLIC_SCHEMA}"
            )
        reads = ", ".join(t.name for t in API_READS)
        return f"SELECT on {reads}; INSERT on {API_AUDIT.name}; nothing else"

    def script(self) -> str:
        """The statements as a psql script (what ``--print-sql`` prints)."""
        what = {
            DASHBOARD: f"read-only role for dashboards: SELECT on the schema {MARTS}, now and later; nothing else",
            API: "the licence sharing API's account: SELECT on "
            + ", ".join(t.name for t in API_READS)
            + f", INSERT on {API_AUDIT.name}; nothing else",
        }[self.kind]
        header = [
            f"-- approval-bridge warehouse: {what}.",
            "-- Run as the warehouse's owner (the account in BRIDGE_WAREHOUSE_URL, which needs CREATEROLE), after the",
            "-- warehouse tables exist; running it again brings the role back to exactly these grants.",
        ]
        if self.login:
            header.append('-- The password comes from a psql variable: psql -v password="$VAR" -f this.sql')
        header.append("\\set ON_ERROR_STOP on")
        body = [f"{statement};" for statement in self.statements(PASSWORD_PSQL)]
        return "\n".join([*header, "BEGIN;", *body, "COMMIT;", ""])


def apply(engine: sa.Engine, grant: Grant, password: str | None = None) -> None:
    """Run ``grant``'s statements on the PostgreSQL warehouse behind ``engine``, in one transaction."""
    if engine.dialect.name != "postgresql":
        raise RoleError(f"roles are a PostgreSQL feature; this warehouse is {engine.dialect.name}")
    if grant.login and not password:
        raise RoleError("a LOGIN role needs a password")
    with engine.begin() as conn:
        for statement in grant.statements():
            # text() so a '%' in the SQL reaches the server as itself; the password is a bound parameter.
            params = {"password": password} if PASSWORD_PARAMETER in statement else {}
            conn.execute(sa.text(statement), params)
