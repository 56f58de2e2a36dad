"""No table joins a worker's pseudonym to a case or keeps a precise time beside a pseudonym.

The rule is checked on the live, migrated schema of both databases (what production really has),
and the checker itself is shown to catch each kind of violation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Column, DateTime, ForeignKey, Integer, LargeBinary, MetaData, String, Table, inspect
from sqlalchemy.types import TypeEngine

from bot.core import Core

CASE_WORDS = ("case", "reference", "receipt", "report")


def is_pseudonym(column: str) -> bool:
    return column.endswith("user_key")


def is_precise_time(column_type: TypeEngine[Any]) -> bool:
    return isinstance(column_type, DateTime) or "TIMESTAMP" in str(column_type).upper()


def violations(
    tables: Mapping[str, Sequence[Mapping[str, Any]]], foreign_keys: Mapping[str, Iterable[str]]
) -> list[str]:
    """Problems in a schema given as {table: [{"name", "type"}]} and {table: [referred tables]}."""
    found = []
    for table, columns in tables.items():
        names = [c["name"] for c in columns]
        if not any(is_pseudonym(n) for n in names):
            continue
        for column in columns:
            if is_precise_time(column["type"]):
                found.append(f"{table}.{column['name']}: a precise time beside a pseudonym")
            if any(word in column["name"] for word in CASE_WORDS):
                found.append(f"{table}.{column['name']}: a case reference beside a pseudonym")
        for referred in foreign_keys.get(table, ()):
            found.append(f"{table} -> {referred}: a pseudonym table joined to another table")
        for column in columns:
            if column["name"] not in ("user_key", "expires_hour") and not column["name"].endswith("_ct"):
                found.append(f"{table}.{column['name']}: plaintext beside a pseudonym")
    return found


async def live_schema(runtime: Core) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[str]]]:
    async with runtime.database.engine.connect() as connection:

        def read(sync: Any) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[str]]]:
            inspector = inspect(sync)
            names = [n for n in inspector.get_table_names() if n != "alembic_version"]
            tables = {n: list(inspector.get_columns(n)) for n in names}
            keys = {n: [fk["referred_table"] for fk in inspector.get_foreign_keys(n)] for n in names}
            return tables, keys

        return await connection.run_sync(read)


async def test_live_schema_keeps_pseudonyms_unlinkable(runtime: Core) -> None:
    tables, foreign_keys = await live_schema(runtime)
    assert {"conversations", "status_throttles", "cases"} <= set(tables)
    assert [t for t in tables if any(is_pseudonym(c["name"]) for c in tables[t])], "no pseudonym tables found"
    assert violations(tables, foreign_keys) == []


async def test_case_tables_hold_no_pseudonym(runtime: Core) -> None:
    tables, _ = await live_schema(runtime)
    for table in ("cases", "case_messages", "outbox", "audit_log"):
        assert not [c["name"] for c in tables[table] if is_pseudonym(c["name"])], table


def test_checker_catches_each_violation() -> None:
    metadata = MetaData()
    Table("cases", metadata, Column("id", String, primary_key=True))
    bad = Table(
        "bad", metadata,
        Column("user_key", String, primary_key=True),
        Column("seen_at", DateTime),
        Column("case_id", String, ForeignKey("cases.id")),
        Column("note", String),
        Column("state_ct", LargeBinary),
        Column("expires_hour", Integer),
    )
    tables = {bad.name: [{"name": c.name, "type": c.type} for c in bad.columns]}
    problems = violations(tables, {"bad": ["cases"]})
    assert any("seen_at" in p and "precise time" in p for p in problems)
    assert any("case_id" in p and "case reference" in p for p in problems)
    assert any("-> cases" in p for p in problems)
    assert any("bad.note" in p and "plaintext" in p for p in problems)
    assert not any("state_ct" in p or "expires_hour" in p for p in problems)
