"""SQL: valid when any dialect the probe allows accepts it, each by its own real parser.

- `postgres`: PostgreSQL's own grammar (libpg_query, through pglast). psql meta-command lines
  (`\\c db`, `\\echo ...`) are blanked first: they are client commands, not SQL.
- `sqlite`: SQLite's own parser (the sqlite3 module's library). Each statement (split with
  `sqlite3_complete`, so triggers and strings are respected) is prepared as `EXPLAIN ...` on a
  private in-memory database, which compiles but runs nothing. Preparing also resolves names,
  and the database is empty, so only the parser's own errors count (syntax error, incomplete
  input, unrecognised token); "no such table" means the statement parsed. CLI dot-commands
  (`.tables`) are blanked.
- any other name (`ansi`, `mysql`, `tsql`, `bigquery`...): sqlglot with that dialect (`ansi`
  is sqlglot's generic one). sqlglot is a transpiler and accepts some invalid SQL, so it is
  used only when a probe or a block's tag asks for such a dialect.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3

import regex

from monitor.detectors.code_parsers.base import SyntaxIssue

#: Dialects judged when the probe names none (ANSI SQL is accepted by one of them in practice).
DEFAULT_DIALECTS: tuple[str, ...] = ("postgres", "sqlite")

_PSQL_META = regex.compile(r"(?m)^[ \t]*\\[a-zA-Z!?].*$")
_SQLITE_DOT = regex.compile(r"(?m)^\.[a-z][a-z_]*(?:[ \t].*)?$")
_SEMICOLON = regex.compile(r";")
_EMPTY = regex.compile(r"(?s)(?:\s|;|--[^\n]*|/\*.*?\*/)*")
_LEADING_EXPLAIN = regex.compile(r"(?is)(?:\s|--[^\n]*|/\*.*?\*/)*explain\b")
_NEAR = regex.compile(r'near "(?P<token>.*)": syntax error|unrecognized token: "(?P<bad>.*)"')
_SQLITE_SYNTAX = ("syntax error", "incomplete input", "unrecognized token", "stack overflow")


def _blank_lines(pattern: regex.Pattern[str], code: str) -> str:
    return pattern.sub(lambda m: " " * len(m.group()), code)


def _position(code: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a 0-based character offset."""
    offset = max(0, min(offset, len(code)))
    line = code.count("\n", 0, offset) + 1
    return line, offset - (code.rfind("\n", 0, offset) + 1) + 1


def parse_postgres(code: str) -> SyntaxIssue | None:
    """PostgreSQL's parser; the error position is the one PostgreSQL reports."""
    from pglast import parser

    try:
        parser.parse_sql_json(_blank_lines(_PSQL_META, code))
    except parser.ParseError as exc:
        message = str(exc.args[0]) if exc.args else "syntax error"
        location = exc.args[1] if len(exc.args) > 1 else None
        offset = location if isinstance(location, int) else len(code.rstrip())
        version = ".".join(str(v) for v in parser.get_postgresql_version())
        return SyntaxIssue(f"pglast (PostgreSQL {version})", message, *_position(code, offset))
    except RecursionError:
        return SyntaxIssue("pglast", "nesting too deep for the parser", 1, 1)
    return None


def _statements(code: str) -> list[tuple[int, str]]:
    """(offset, text) of each statement, split where `sqlite3_complete` says one ends."""
    found: list[tuple[int, str]] = []
    start = 0
    for match in _SEMICOLON.finditer(code):
        if sqlite3.complete_statement(code[start : match.end()]):
            found.append((start, code[start : match.end()]))
            start = match.end()
    found.append((start, code[start:]))
    return [(offset, text) for offset, text in found if not _EMPTY.fullmatch(text)]


def parse_sqlite(code: str) -> SyntaxIssue | None:
    """SQLite's parser, one statement at a time; the first statement it cannot parse."""
    code = _blank_lines(_SQLITE_DOT, code)
    parser = f"sqlite {sqlite3.sqlite_version}"
    with contextlib.closing(sqlite3.connect(":memory:")) as connection:
        for offset, text in _statements(code):
            if not sqlite3.complete_statement(text + "\n;"):
                return SyntaxIssue(parser, "incomplete input", *_position(code, len(code)))
            prefix = "" if _LEADING_EXPLAIN.match(text) else "EXPLAIN "
            try:
                connection.execute(prefix + text)
            except ValueError:  # a NUL character, which SQLite's API cannot take
                return SyntaxIssue(parser, "NUL character in SQL", *_position(code, offset))
            except sqlite3.Error as exc:
                message = str(exc)
                if not any(marker in message for marker in _SQLITE_SYNTAX):
                    continue  # a name-resolution error: the statement parsed
                near = _NEAR.search(message)
                token = (near["token"] or near["bad"]) if near is not None else None
                at = text.find(token) if token else -1
                where = offset + (at if at >= 0 else len(text.rstrip()))
                return SyntaxIssue(parser, message, *_position(code, where))
            except RecursionError:
                return SyntaxIssue(parser, "nesting too deep for the parser", 1, 1)
    return None


def parse_sqlglot(code: str, dialect: str) -> SyntaxIssue | None:
    """sqlglot's parser for `dialect` ("ansi" is its generic dialect)."""
    from sqlglot import errors, parse

    # sqlglot logs a warning for each statement it keeps as an opaque command; a detector
    # prints nothing, so those go no further than sqlglot's own logger.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    name = f"sqlglot ({dialect})"
    try:
        parse(code, read=None if dialect == "ansi" else dialect)
    except errors.ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        message = str(first.get("description") or exc)[:200]
        return SyntaxIssue(name, message, int(first.get("line") or 1), int(first.get("col") or 1))
    except errors.TokenError as exc:
        return SyntaxIssue(name, str(exc)[:200], 1, 1)
    except RecursionError:
        return SyntaxIssue(name, "nesting too deep for the parser", 1, 1)
    except ValueError as exc:  # an unknown dialect name
        return SyntaxIssue(name, str(exc)[:200], 1, 1)
    return None


def parse(code: str, dialects: tuple[str, ...] = DEFAULT_DIALECTS) -> SyntaxIssue | None:
    """None when any of `dialects` accepts the code; else the first dialect's error."""
    first: SyntaxIssue | None = None
    for dialect in dialects:
        if dialect == "postgres":
            issue = parse_postgres(code)
        elif dialect == "sqlite":
            issue = parse_sqlite(code)
        else:
            issue = parse_sqlglot(code, dialect)
        if issue is None:
            return None
        first = first or issue
    return first
