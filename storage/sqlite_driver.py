"""SQLite through aiosqlite in one trip to its thread per statement, where SQLAlchemy's adapter takes four.

aiosqlite runs each call in its own thread, and SQLAlchemy's adapter makes four calls per statement
(open a cursor, execute, fetch the rows, close the cursor). Each call is a hand-off between the
event loop and that thread; on a busy machine a hand-off costs up to a millisecond, far more than
the statement itself. This cursor does the four in one function run in the thread, and is
otherwise SQLAlchemy's own adapter, passed to ``create_async_engine(module=...)``.

It needs SQLAlchemy 2.1's adapter layout (a connection's ``_cursor_cls``); with another layout
:func:`one_trip_dbapi` returns None and the stock adapter is used.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite import aiosqlite as adapter
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

Result = tuple[Any, int, int | None, list[Any]]


def _run(connection: aiosqlite.Connection, operation: str, parameters: Any, many: bool) -> Result:
    """In aiosqlite's thread: the whole statement, with what SQLAlchemy reads from the cursor after it."""
    cursor = connection._conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneTripCursor(adapter.AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose statement runs, is fetched and closed in one trip to the thread."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")
    _awaitable_cursor_close = False

    def __init__(self, adapt_connection: Any) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]  # no aiosqlite cursor is ever opened
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    def execute(self, operation: Any, parameters: Any = None) -> None:
        try:
            await_(self._one_trip(operation, parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> None:
        try:
            await_(self._one_trip(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _one_trip(self, operation: Any, parameters: Any, *, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        in_thread: Callable[..., Awaitable[Result]] = connection._execute  # runs a function in aiosqlite's thread
        async with self._adapt_connection._execute_mutex:
            result = await in_thread(_run, connection, operation, parameters, many)
        self._description, self._rowcount, self._lastrowid, rows = result
        self._rows = collections.deque(rows)


class _OneTripConnection(adapter.AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor


class _OneTripDbapi(adapter.AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> adapter.AsyncAdapt_aiosqlite_connection:
        stock = super().connect(*arg, **kw)
        return _OneTripConnection(self, stock._connection)


def one_trip_dbapi() -> Any | None:
    """The DBAPI module to hand to ``create_async_engine``, or None when SQLAlchemy's adapter is not
    laid out as this module expects (then the stock adapter serves, only slower)."""
    if not hasattr(adapter.AsyncAdapt_aiosqlite_connection, "_cursor_cls"):
        return None
    return _OneTripDbapi(aiosqlite, sqlite3)
