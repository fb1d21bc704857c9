"""YAML loading that remembers where every node came from.

Documents are composed by libyaml (``yaml.CSafeLoader``: C speed, and it keeps line marks) and then
turned into plain Python values by a small walk that records the 1-based line and column of every
value and every mapping key under its YAML path. Booleans follow YAML 1.2 (``true``/``false`` only,
so a column called ``yes`` stays a string) and timestamps stay strings: the schema language gives
them meaning, not the YAML parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import Finding, YamlPath

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_MERGE = "tag:yaml.org,2002:merge"
_SEQ, _MAP = "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"
_PLAIN_TAGS = {_STR, _NULL, _BOOL, _INT, _FLOAT}

# The YAML 1.2 core schema: '010' is ten, '0o17' octal, '1e5' a float, 'yes' and '1:30' strings.
_CORE_SCHEMA = (
    (_NULL, re.compile(r"~|null|Null|NULL|")),
    (_BOOL, re.compile(r"true|True|TRUE|false|False|FALSE")),
    (_INT, re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")),
    (
        _FLOAT,
        re.compile(
            r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
        ),
    ),
)
_MAY_RESOLVE = set("~nNtTfF-+0123456789.")

_MEMO_MAX = 4096
MAX_DEPTH = 64
MAX_NODES = 2_000_000  # after alias expansion: a 1000-table schema has ~100k
MAX_ALIAS_REUSE = 10_000  # a collection reached again through an alias ("billion laughs")


def _float(text: str) -> float:
    lowered = text.lower().lstrip("+")
    return float(lowered.replace(".inf", "inf").replace(".nan", "nan"))


def _int(text: str) -> int:
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


def core_schema_tag(value: str, plain: bool) -> str:
    """The YAML 1.2 core-schema tag of a scalar (``plain``: written without quotes)."""
    if plain and (not value or value[0] in _MAY_RESOLVE):
        for tag, rx in _CORE_SCHEMA:
            if rx.fullmatch(value):
                return tag
    elif plain and value == "<<":
        return _MERGE
    return _STR


class _Loader(_BaseLoader):  # type: ignore[misc]
    """libyaml's composer with a lean YAML 1.2 core-schema resolver and no path resolvers.

    libyaml calls back into Python to resolve every scalar; PyYAML's generic resolver follows
    YAML 1.1 and costs a third of the composition time.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        # A schema repeats the same few hundred plain scalars ("string", "true", "1"): a memo
        # per document, bounded so that a file of distinct values costs no memory, saves the
        # regular expressions a quarter of the composition time.
        self._memo: dict[tuple[str, bool], str] = {}

    def resolve(self, kind: type, value: str, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            key = (value, implicit[0])
            tag = self._memo.get(key)
            if tag is None:
                tag = core_schema_tag(value, implicit[0])
                if len(self._memo) < _MEMO_MAX:
                    self._memo[key] = tag
            return tag
        return _SEQ if kind is SequenceNode else _MAP

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None


class _TooLarge(Exception):
    pass


class Mark(NamedTuple):
    """A 1-based position in a file."""

    line: int
    col: int


def _to_mark(raw: Any) -> Mark:
    return Mark(raw.line + 1, raw.column + 1)


@dataclass
class YamlDocument:
    """A loaded file: its data, and where each value (``marks``) and key (``keys``) starts.

    The positions are libyaml's own 0-based mark objects, converted only when a finding needs one:
    a valid file never pays for the conversion.
    """

    file: str
    data: Any
    marks: dict[YamlPath, Any] = field(default_factory=dict)
    keys: dict[YamlPath, Any] = field(default_factory=dict)
    float_text: dict[YamlPath, str] = field(default_factory=dict)
    """How each float was written, so a decimal default keeps every digit."""

    def mark(self, path: YamlPath, *, key: bool = False) -> Mark:
        """The mark of ``path`` (its key when ``key``), else of its nearest known ancestor."""
        if key and path in self.keys:
            return _to_mark(self.keys[path])
        if path in self.marks:
            return _to_mark(self.marks[path])
        while path:
            path = path[:-1]
            if path in self.marks:
                return _to_mark(self.marks[path])
        return Mark(1, 1)

    def finding(self, path: YamlPath, message: str, *, key: bool = False, **kw: Any) -> Finding:
        m = self.mark(path, key=key)
        return Finding(self.file, m.line, m.col, path, message, **kw)


def _mark(node: Node) -> Mark:
    return _to_mark(node.start_mark)


def _decode(file: str, raw: bytes) -> tuple[str | None, Finding | None]:
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        bad = raw[exc.start : exc.start + 1].hex()
        msg = f"file is not valid UTF-8 (byte 0x{bad}); save it as UTF-8"
        return None, Finding(file, line, col, (), msg)


def _yaml_error(file: str, text: str, exc: yaml.MarkedYAMLError) -> Finding:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = exc.problem or "invalid YAML"
    lines = text.splitlines()
    indent = (
        lines[line - 1][: len(lines[line - 1]) - len(lines[line - 1].lstrip())]
        if (0 < line <= len(lines))
        else ""
    )
    if "\t" in indent or "'\\t'" in problem:
        problem = "a tab character is used for indentation; YAML indents with spaces only"
    elif exc.context:
        problem = f"{exc.context}, {problem}"
    return Finding(file, line, col, (), f"YAML syntax error: {problem}")


class _Walker:
    def __init__(self, doc: YamlDocument, findings: list[Finding]) -> None:
        self.doc = doc
        self.findings = findings
        self.active: set[int] = set()
        self.seen: set[int] = set()
        self.nodes = 0
        self.reused = 0

    def problem(self, node: Node, path: YamlPath, message: str) -> None:
        m = _mark(node)
        self.findings.append(Finding(self.doc.file, m.line, m.col, path, message))

    def value(self, node: Node, path: YamlPath, depth: int = 0) -> Any:
        self.doc.marks[path] = node.start_mark
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooLarge
        if isinstance(node, ScalarNode):
            if node.tag == _STR:
                return node.value
            return self.scalar(node, path)
        if depth >= MAX_DEPTH:
            self.problem(node, path, f"nested more than {MAX_DEPTH} levels deep")
            return None
        if id(node) in self.active:
            self.problem(node, path, "an alias refers to a node that contains it (recursive YAML)")
            return None
        if id(node) in self.seen:
            self.reused += 1
            if self.reused > MAX_ALIAS_REUSE:
                raise _TooLarge
        self.seen.add(id(node))
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.value(v, (*path, i), depth + 1) for i, v in enumerate(node.value)]
            if isinstance(node, MappingNode):
                return self.mapping(node, path, depth)
        finally:
            self.active.discard(id(node))
        self.problem(node, path, f"unsupported YAML node {node.tag!r}")  # pragma: no cover
        return None

    def scalar(self, node: ScalarNode, path: YamlPath) -> Any:
        tag, text = node.tag, node.value
        if tag == _NULL:
            return None
        if tag == _BOOL:
            return text.lower() == "true"
        if tag == _INT:
            return _int(text)
        if tag == _FLOAT:
            self.doc.float_text[path] = text
            return _float(text)
        if tag == _STR:
            return text
        self.problem(node, path, f"unsupported YAML tag {tag!r}; write a plain value")
        return None

    def mapping(self, node: MappingNode, path: YamlPath, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        marks, keys = self.doc.marks, self.doc.keys
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                self.problem(key_node, path, "YAML merge keys ('<<') are not supported")
                continue
            if key_node.tag != _STR or not isinstance(key_node, ScalarNode):
                shown = key_node.value if isinstance(key_node, ScalarNode) else "a collection"
                self.problem(
                    key_node, path, f"key {shown!r} is not a name; names start with a letter or '_'"
                )
                continue
            key = key_node.value
            child = (*path, key)
            if key in out:
                first = _to_mark(self.doc.keys[child])
                self.problem(key_node, child, f"duplicate key {key!r} (first at line {first.line})")
                continue
            keys[child] = key_node.start_mark
            if value_node.tag == _STR and type(value_node) is ScalarNode:
                # the common case inlined (most values are plain strings): same as value()
                marks[child] = value_node.start_mark
                self.nodes += 1
                out[key] = value_node.value
            else:
                out[key] = self.value(value_node, child, depth + 1)
        if self.nodes > MAX_NODES:
            raise _TooLarge
        return out


def load_yaml(file: str, raw: bytes | str) -> tuple[YamlDocument | None, list[Finding]]:
    """Parse one file; return the document (None when unusable) and the problems found."""
    if isinstance(raw, bytes):
        text, problem = _decode(file, raw)
        if problem:
            return None, [problem]
    else:
        text = raw
    assert text is not None
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        return None, [_yaml_error(file, text, exc)]
    except yaml.YAMLError as exc:  # pragma: no cover - libyaml reader errors carry no mark
        return None, [Finding(file, 1, 1, (), f"YAML error: {exc}")]
    if not nodes or nodes[0] is None:
        return None, [
            Finding(file, 1, 1, (), "file is empty; expected a mapping with 'version: 1'")
        ]
    findings: list[Finding] = []
    if len(nodes) > 1:
        m = _mark(nodes[1])
        findings.append(Finding(file, m.line, m.col, (), "file holds more than one YAML document"))
    doc = YamlDocument(file, None)
    try:
        doc.data = _Walker(doc, findings).value(nodes[0], ())
    except _TooLarge:
        return None, [
            Finding(
                file,
                1,
                1,
                (),
                "the document expands to too many values (aliases repeated too often)",
            )
        ]
    if not isinstance(doc.data, dict):
        kind = "a list" if isinstance(doc.data, list) else "a single value"
        findings.append(doc.finding((), f"the document is {kind}; expected a mapping"))
        return None, findings
    return doc, findings
