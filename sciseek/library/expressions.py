"""Tag expressions: ``ir AND NOT surveys``, ``(ir OR nlp) AND "to read"``.

Operators ``AND``, ``OR`` and ``NOT`` (in any case; ``NOT`` binds tightest, then ``AND``, then
``OR``) and parentheses. A tag is a word, or any name in double quotes (for names with
spaces, parentheses, quotes or an operator's name; ``\\"`` is a quote inside). Tag names match
case-insensitively. ``NOT x`` is every saved paper not under ``x``. A bad expression raises
``BadExpression`` naming the position (counted from 1) where it goes wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import LibraryError, UnknownTag
from .shelf import Library, tag_key

MAX_EXPRESSION = 1000
MAX_DEPTH = 50  # nested parentheses and NOTs
OPERATORS = ("AND", "OR", "NOT")


class BadExpression(LibraryError):
    """A tag expression that does not parse, or names a tag the reader does not have."""

    def __init__(self, message: str, position: int):
        super().__init__(f"{message} at position {position}")
        self.position = position


@dataclass(frozen=True)
class Token:
    """A word, an operator, a parenthesis or the end; ``at`` is its 1-based position."""

    kind: str  # "tag", "AND", "OR", "NOT", "(", ")", "end"
    text: str
    at: int


def tokens(expression: str) -> list[Token]:
    """The expression's tokens, ending with an "end" token; raises BadExpression."""
    out: list[Token] = []
    i, n = 0, len(expression)
    while i < n:
        c = expression[i]
        if c.isspace():
            i += 1
        elif c in "()":
            out.append(Token(c, c, i + 1))
            i += 1
        elif c == '"':
            j, text = i + 1, []
            while j < n and expression[j] != '"':
                if expression[j] == "\\" and j + 1 < n:
                    j += 1
                text.append(expression[j])
                j += 1
            if j >= n:
                raise BadExpression("unclosed quote", i + 1)
            out.append(Token("tag", "".join(text), i + 1))
            i = j + 1
        else:
            j = i
            while j < n and not expression[j].isspace() and expression[j] not in '()"':
                j += 1
            word = expression[i:j]
            kind = word.upper() if word.upper() in OPERATORS else "tag"
            out.append(Token(kind, word, i + 1))
            i = j
    out.append(Token("end", "", n + 1))
    return out


class _Parser:
    def __init__(self, library: Library, reader_id: int, expression: str):
        self.library = library
        self.reader_id = reader_id
        self.tokens = tokens(expression)
        self.i = 0
        self.depth = 0
        self.universe = library.saved(reader_id)
        self.names = {tag_key(t.name): t.name for t in library.tags(reader_id)}

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def parse(self) -> set[str]:
        result = self.disjunction()
        token = self.peek()
        if token.kind != "end":
            raise BadExpression(f"expected AND, OR or the end, got {token.text!r}", token.at)
        return result

    def disjunction(self) -> set[str]:
        result = self.conjunction()
        while self.peek().kind == "OR":
            self.take()
            result = result | self.conjunction()
        return result

    def conjunction(self) -> set[str]:
        result = self.negation()
        while self.peek().kind == "AND":
            self.take()
            result = result & self.negation()
        return result

    def nest(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise BadExpression(f"nested more than {MAX_DEPTH} deep", token.at)

    def negation(self) -> set[str]:
        if self.peek().kind == "NOT":
            self.nest(self.take())
            result = set(self.universe) - self.negation()
            self.depth -= 1
            return result
        return self.atom()

    def atom(self) -> set[str]:
        token = self.take()
        if token.kind == "(":
            self.nest(token)
            result = self.disjunction()
            close = self.take()
            if close.kind != ")":
                raise BadExpression(f"expected ')', got {close.text or 'the end'!r}", close.at)
            self.depth -= 1
            return result
        if token.kind == "tag":
            name = self.names.get(tag_key(token.text))
            if name is None:
                raise BadExpression(f"no tag {token.text[:100]!r} in your library", token.at)
            try:
                return set(self.library.tag_papers(self.reader_id, name))
            except UnknownTag:  # deleted meanwhile
                raise BadExpression(f"no tag {token.text[:100]!r}", token.at) from None
        what = "the end" if token.kind == "end" else repr(token.text)
        raise BadExpression(f"expected a tag, NOT or '(', got {what}", token.at)


def select(library: Library, reader_id: int, expression: str) -> list[str]:
    """Ids of the reader's saved papers that the tag expression selects, in the order first
    saved; raises BadExpression."""
    if not isinstance(expression, str) or not expression.strip():
        raise BadExpression("the tag expression is empty", 1)
    if len(expression) > MAX_EXPRESSION:
        raise BadExpression(f"a tag expression has at most {MAX_EXPRESSION} characters", 1)
    parser = _Parser(library, reader_id, expression)
    chosen = parser.parse()
    return [p for p in parser.universe if p in chosen]
