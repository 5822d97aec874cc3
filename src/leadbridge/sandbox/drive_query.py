"""Drive's ``q`` search language, the part leadbridge relies on to find its own files again.

Supported: ``'<id>' in parents``; ``name``/``mimeType`` with ``=``, ``!=`` and ``contains``;
``trashed = true|false``; ``appProperties has { key='k' and value='v' }`` (and
``properties``); ``and``, ``or``, ``not`` and parentheses. String literals use single quotes
with ``\\'`` and ``\\\\`` escapes, exactly as Drive reads them, so an unescaped quote in a lead's
name fails here as it would there. Anything else is "Invalid Value", Drive's 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from leadbridge.sandbox.state import DriveFile

Predicate = Callable[[DriveFile], bool]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*')
      | (?P<op>!=|=|\{|\}|\(|\))
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)


class QueryError(ValueError):
    """The query cannot be parsed; Drive answers 400 ``invalid``."""


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def _unquote(literal: str) -> str:
    body = literal[1:-1]
    out: list[str] = []
    escaped = False
    for char in body:
        if escaped:
            if char not in "'\\":
                raise QueryError(f"unsupported escape \\{char}")
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(char)
    return "".join(out)


def _tokens(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(query):
        if query[position:].strip() == "":
            break
        match = _TOKEN.match(query, position)
        if match is None:
            raise QueryError(f"cannot read the query at {query[position : position + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append(_Token(kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, query: str) -> None:
        self.tokens = _tokens(query)
        self.position = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, kind: str | None = None, text: str | None = None) -> _Token:
        token = self.peek()
        if token is None:
            raise QueryError("the query ends too early")
        if (kind and token.kind != kind) or (text and token.text.lower() != text):
            raise QueryError(f"unexpected {token.text!r}")
        self.position += 1
        return token

    def at_word(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "word" and token.text.lower() == word

    def parse(self) -> Predicate:
        predicate = self.disjunction()
        if self.peek() is not None:
            raise QueryError(f"unexpected {self.peek().text!r}")  # type: ignore[union-attr]
        return predicate

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while self.at_word("or"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else lambda f: any(p(f) for p in parts)

    def conjunction(self) -> Predicate:
        parts = [self.negation()]
        while self.at_word("and"):
            self.take()
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else lambda f: all(p(f) for p in parts)

    def negation(self) -> Predicate:
        if self.at_word("not"):
            self.take()
            inner = self.negation()
            return lambda f: not inner(f)
        token = self.peek()
        if token is not None and token.text == "(":
            self.take()
            inner = self.disjunction()
            self.take("op", ")")
            return inner
        return self.term()

    def term(self) -> Predicate:
        token = self.take()
        if token.kind == "string":
            value = _unquote(token.text)
            self.take("word", "in")
            self.take("word", "parents")
            return lambda f: value in f.parents
        if token.kind != "word":
            raise QueryError(f"unexpected {token.text!r}")
        field = token.text
        if field in ("appProperties", "properties"):
            return self.has(field)
        if field == "trashed":
            self.take("op", "=")
            flag = self.take("word").text.lower()
            if flag not in ("true", "false"):
                raise QueryError("trashed takes true or false")
            return lambda f: f.trashed == (flag == "true")
        if field not in ("name", "mimeType"):
            raise QueryError(f"the sandbox does not search on {field!r}")
        operator = self.take()
        value = _unquote(self.take("string").text)

        def attribute(f: DriveFile) -> str:
            return f.name if field == "name" else f.mime_type

        if operator.text == "=":
            return lambda f: attribute(f) == value
        if operator.text == "!=":
            return lambda f: attribute(f) != value
        if operator.text.lower() == "contains":
            return lambda f: value.lower() in attribute(f).lower()
        raise QueryError(f"unsupported operator {operator.text!r}")

    def has(self, field: str) -> Predicate:
        if field == "properties":
            raise QueryError("the sandbox keeps appProperties only")
        self.take("word", "has")
        self.take("op", "{")
        self.take("word", "key")
        self.take("op", "=")
        key = _unquote(self.take("string").text)
        self.take("word", "and")
        self.take("word", "value")
        self.take("op", "=")
        value = _unquote(self.take("string").text)
        self.take("op", "}")
        return lambda f: f.app_properties.get(key) == value


def compile_query(query: str) -> Predicate:
    """A predicate over files; raises ``QueryError`` for what Drive would reject."""
    if not query.strip():
        return lambda f: True
    return _Parser(query).parse()
