"""The CEL subset of permission conditions (permissions.md §2), read with cel-python's parser.

A condition must compile to one bound SQL predicate, so exactly two forms are accepted, either
operand first: ``resource.<col> == request.auth.sub`` and ``resource.<col> == <literal>``.
Everything else parses (or fails to) with the real CEL grammar and is then refused with the reason
and the supported forms, so an operator learns at apply time what to write instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from .logical import LOGICAL

MAX_LENGTH = 1024  # two names and a literal: far more than a supported form needs
# CEL's escapes (cel-spec, "String and Bytes Values"); anything else after a backslash is invalid
_VALID_ESCAPE = re.compile(
    r"\\(?:[abfnrtv\\'\"`?]|x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|[0-3][0-7]{2})"
)
SUPPORTED = "supported forms: resource.<col> == request.auth.sub, resource.<col> == <literal>"
# Grammar rules that only wrap a single child: a bare operand passes through all of them.
_WRAPPERS = {"expr", "conditionalor", "conditionaland", "relation", "addition", "multiplication"}
_PASS_THROUGH = _WRAPPERS | {"unary", "member", "primary"}
_OPERATORS = {
    "relation_ne": "!=",
    "relation_lt": "<",
    "relation_le": "<=",
    "relation_gt": ">",
    "relation_ge": ">=",
    "relation_in": "in",
    "addition_add": "+",
    "addition_sub": "-",
    "multiplication_mul": "*",
    "multiplication_div": "/",
    "multiplication_mod": "%",
}


class Unsupported(Exception):
    """Why a condition is refused (the message is shown to the operator as is)."""


class DoesNotFit(Unsupported):
    """A supported form naming a column that is missing or of another type."""


@dataclass(frozen=True)
class AuthSub:
    """The caller's subject: ``request.auth.sub``."""

    def to_json(self) -> dict[str, Any]:
        return {"authSub": True}


@dataclass(frozen=True)
class Literal:
    value: str | int | float | bool

    def to_json(self) -> dict[str, Any]:
        return {"literal": self.value}


@dataclass(frozen=True)
class Condition:
    """``column == value``: the only predicate the data plane binds."""

    column: str
    value: AuthSub | Literal

    def to_json(self) -> dict[str, Any]:
        return {"column": self.column, "op": "eq", "value": self.value.to_json()}


@cache
def _parser() -> Any:
    """cel-python's parser, its grammar tables cached per user.

    Building the LALR tables takes about 0.4 s, more than the rest of `stk validate`; lark can
    keep them in a file. The file is a pickle, so it lives in this user's own cache folder,
    never in a shared temp folder. Imported on first use: files without conditions never pay.
    """
    import importlib.metadata as md

    import celpy
    import lark
    import platformdirs
    from celpy.celparser import CELParser

    if CELParser.CEL_PARSER is None:  # share cel-python's singleton: one set of tables
        grammar = Path(celpy.__file__).parent / "cel.lark"
        folder = Path(platformdirs.user_cache_dir("santokit"))
        cache_file: str | bool = False
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            cache_file = str(folder / f"cel-{md.version('cel-python')}-{lark.__version__}.lark")
        except OSError:
            pass  # a read-only home: build the tables each time
        CELParser.CEL_PARSER = lark.Lark(
            grammar.read_text(),
            parser="lalr",
            start="expr",
            g_regex_flags=re.M,
            lexer_callbacks={"IDENT": CELParser.ambiguous_literals},
            propagate_positions=False,  # only errors need a position, and they carry it
            maybe_placeholders=False,
            priority="invert",
            cache=cache_file,
        )
    # the Lark parser itself: CELParser.parse keeps the text on a shared object between calls
    return CELParser.CEL_PARSER


@lru_cache(maxsize=4096)
def _parse(text: str) -> Any:
    """The syntax tree of ``text``; rules repeat the same condition often, trees are read-only."""
    return _parser().parse(text)


def _unwrap(node: Any) -> Any:
    """Descend through the grammar's single-child wrappers and parentheses."""
    while True:
        data = getattr(node, "data", None)
        kids: Sequence[Any] = getattr(node, "children", ())
        if (data in _PASS_THROUGH and len(kids) == 1) or data == "paren_expr":
            node = kids[0]
        else:
            return node


def _refuse_shape(node: Any) -> Unsupported:
    """The reason for a node that is neither form, named the way the operator wrote it."""
    data = getattr(node, "data", None)
    kids: Sequence[Any] = getattr(node, "children", ())
    if data == "conditionalor":
        return Unsupported("'||' is not supported")
    if data == "conditionaland":
        return Unsupported("'&&' is not supported")
    if data == "expr":
        return Unsupported("the conditional operator '? :' is not supported")
    if data == "relation" and getattr(kids[0], "data", "") == "relation_eq":
        return Unsupported("a comparison cannot be compared again ('==' chained)")
    if data in ("relation", "addition", "multiplication") and kids:
        op = _OPERATORS.get(getattr(kids[0], "data", ""), "?")
        return Unsupported(f"unsupported operator '{op}'")
    if data == "unary":
        return Unsupported("unary operators ('!', '-') are not supported")
    if data in ("member_dot_arg", "ident_arg"):
        name = next((k for k in kids if not hasattr(k, "data")), "?")
        return Unsupported(f"function calls ({name}) are not supported")
    return Unsupported("a condition must compare a column with '=='")


def _path(node: Any) -> list[str] | None:
    """``a.b.c`` as ``["a", "b", "c"]``; None for anything but plain field selection.

    A loop, not recursion: a chain of thousands of ``.x`` must be refused, not crash."""
    names: list[str] = []
    node = _unwrap(node)
    while getattr(node, "data", None) == "member_dot":
        names.append(str(node.children[1]))
        node = _unwrap(node.children[0])
    if getattr(node, "data", None) in ("ident", "dot_ident"):
        return [str(node.children[0]), *reversed(names)]
    return None


def _literal(node: Any) -> tuple[str, Any] | None:
    """(CEL type, Python value) of a literal operand, else None."""
    node = _unwrap(node)
    if getattr(node, "data", None) != "literal":
        return None
    token = node.children[0]
    kind, text = token.type, str(token)
    if kind in ("STRING_LIT", "MLSTRING_LIT"):
        return "string", _string(text, token)
    try:
        if kind == "INT_LIT":
            return "int", int(text, 0)
        if kind == "FLOAT_LIT":
            number = float(text)
            if not math.isfinite(number):
                raise Unsupported(f"{text} is not a finite number")
            return "float", number
        if kind == "UINT_LIT":
            return "uint", None
    except ValueError:
        raise Unsupported(f"{text} is not a valid number literal") from None
    if kind == "BOOL_LIT":
        return "bool", text == "true"
    if kind == "BYTES_LIT":
        return "bytes", None
    return "null", None


def _string(text: str, token: Any) -> str:
    """A CEL string literal's value; invalid escapes and values PostgreSQL text cannot hold
    (NUL, lone surrogates) are refused here, not when the Bridge binds them."""
    from celpy.evaluation import celstr

    raw = text[:1] in "rR"
    body = text.lstrip("rR")
    quote = 3 if body[:3] in ('"""', "'''") else 1
    if not raw and "\\" in _VALID_ESCAPE.sub("", body[quote:-quote]):
        raise Unsupported("the string holds an escape CEL does not define")
    try:
        value = str(celstr(token))
        value.encode("utf-8")
    except (ValueError, UnicodeEncodeError):
        raise Unsupported("the string holds an escape that is not a Unicode character") from None
    if "\x00" in value:
        raise DoesNotFit("a string with a NUL character cannot be stored in PostgreSQL text")
    return value


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _fits(column: str, logical: str, cel_type: str, value: Any, text: str) -> Literal:
    """The literal as compiled for ``column``, or Unsupported when its type does not fit."""
    kind = LOGICAL.get(logical)
    hint = kind.condition_hint if kind else None
    form = kind.condition if kind else None
    article = "an" if cel_type[0] in "aeiou" else "a"
    wrong = DoesNotFit(
        f"{article} {cel_type} literal does not fit column {column!r} ({logical}); "
        + (f"write {hint}" if hint else f"{logical} columns take no literal condition")
    )
    if form == "string" and cel_type == "string":
        return Literal(value)
    if form == "bool" and cel_type == "bool":
        return Literal(value)
    if form == "int" and cel_type == "int":
        assert kind is not None
        assert kind.int_range is not None
        low, high = kind.int_range
        if not low <= value <= high:
            raise DoesNotFit(f"{_short(value)} is out of range for column {column!r} ({logical})")
        return Literal(value)
    if form == "float" and cel_type in ("int", "float"):
        try:
            return Literal(float(value))
        except OverflowError:
            raise DoesNotFit(
                f"{_short(value)} is out of range for column {column!r} (float)"
            ) from None
    if form == "decimal" and cel_type in ("int", "float"):
        # the digits as written, in plain notation, like a decimal default: a binary float
        # would match other rows
        return Literal(format(Decimal(text.lstrip("+")), "f"))
    raise wrong


def parse_condition(text: str, columns: Mapping[str, str]) -> Condition:
    """The condition ``text`` against a table whose ``columns`` map name -> logical type.

    Raises Unsupported with the reason and the supported forms for anything else.
    """
    from lark.exceptions import LarkError

    if len(text) > MAX_LENGTH:
        raise Unsupported(f"a condition is at most {MAX_LENGTH} characters; {SUPPORTED}")
    try:
        tree = _parse(text)
    except (LarkError, RecursionError) as exc:
        column = getattr(exc, "column", None)
        near = text[column - 1 : column + 9] if column else ""
        where = f" at column {column}" + (f" (near {near!r})" if near else " (end of input)")
        raise Unsupported(f"not valid CEL: syntax error{where}; {SUPPORTED}") from None
    try:
        return _condition(tree, columns)
    except DoesNotFit:
        raise
    except Unsupported as exc:
        raise Unsupported(f"{exc}; {SUPPORTED}") from None


def _condition(tree: Any, columns: Mapping[str, str]) -> Condition:
    node = _unwrap(tree)
    kids: Sequence[Any] = getattr(node, "children", ())
    if getattr(node, "data", None) != "relation" or len(kids) != 2:
        raise _refuse_shape(node)
    if getattr(kids[0], "data", None) != "relation_eq":
        raise _refuse_shape(node)
    left, right = kids[0].children[0], kids[1]
    sides = [_operand(left), _operand(right)]
    resources = [s for s in sides if s[0] == "resource"]
    if not resources:
        raise Unsupported("one side must be resource.<column>")
    if len(resources) == 2:
        raise Unsupported("comparing two columns is not supported")
    column = resources[0][1]
    other = next(s for s in sides if s[0] != "resource")
    if column not in columns:
        known = ", ".join(sorted(columns))
        raise DoesNotFit(f"unknown column {column!r} (the table has {known})")
    logical = columns[column]
    if other[0] == "sub":
        kind = LOGICAL.get(logical)
        if kind is None or not kind.owner:
            raise DoesNotFit(
                f"request.auth.sub is a string; column {column!r} is {logical}, so the owner "
                "rule needs a string column"
            )
        return Condition(column, AuthSub())
    if other[0] == "literal":
        cel_type, value = other[1]
        if cel_type in ("null", "bytes", "uint"):
            raise Unsupported(f"{cel_type} literals are not supported")
        return Condition(column, _fits(column, logical, cel_type, value, other[2]))
    raise Unsupported(str(other[1]))


def _operand(node: Any) -> tuple[Any, ...]:
    """Classify one side of '==': ("resource", col) | ("sub", None) |
    ("literal", (t, v), source text)."""
    literal = _literal(node)
    if literal is not None:
        return "literal", literal, str(_unwrap(node).children[0])
    path = _path(node)
    if path is None:
        raise _refuse_shape(_unwrap(node))
    if path == ["request", "auth", "sub"]:
        return "sub", None
    if path[0] == "request":
        dotted = ".".join(path)
        raise Unsupported(f"{dotted} is not supported; of the request only request.auth.sub is")
    if path[0] == "resource" and len(path) == 2:
        return "resource", path[1]
    if path[0] == "resource":
        raise Unsupported(f"{_short('.'.join(path))}: only a column of resource may be compared")
    raise Unsupported(f"unknown name {'.'.join(path)!r}; use resource.<column>")
