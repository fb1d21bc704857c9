"""Structural validation: the published JSON Schemas, with their errors turned into findings.

jsonschema reports what failed in schema terms; operators need one sentence in YAML terms at the
right line. A subschema may carry ``x-stk-message`` (an annotation, ignored by other tools) to
say what its failure means; identifiers are explained by ``identifier_problem``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING, Any, cast

import jsonschema_rs

from santokit.specs import load

from .errors import Finding, YamlPath
from .identifiers import identifier_problem
from .yamlsource import YamlDocument

if TYPE_CHECKING:  # jsonschema is imported only when a file is invalid: it costs 30 ms to load
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

_JSON_TYPES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


@cache
def validator(name: str) -> Draft202012Validator:
    """The explaining validator: slow, but its errors carry everything a good message needs."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load(name))


@cache
def fast_validator(name: str) -> jsonschema_rs.Validator:
    """The deciding validator (Rust): a valid file, the common case, costs milliseconds."""
    return jsonschema_rs.Draft202012Validator(load(name))


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value)


def _type_of(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {_show(value)}"
    if isinstance(value, int | float):
        return f"the number {value}"
    return f"the string {value!r}"


def _kind(value: Any) -> str:
    return (
        "mapping"
        if isinstance(value, dict)
        else "list"
        if isinstance(value, list)
        else (type(value).__name__)
    )


def _wrong_kind(error: ValidationError) -> bool:
    """True when the error says the instance is not even of the kind this branch describes."""
    if error.relative_path:
        return False
    if error.validator == "type":
        return True
    value = cast(Any, error.validator_value)
    allowed = value if error.validator == "enum" else [value]
    return error.validator in ("enum", "const") and _kind(error.instance) not in {
        _kind(v) for v in allowed
    }


def _leaves(error: ValidationError) -> Iterator[ValidationError]:
    """Descend anyOf/oneOf into the branch that fits the instance's type."""
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        yield error
        return
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    fitting = [subs for subs in branches.values() if not any(map(_wrong_kind, subs))]
    if len(fitting) == 1:
        for sub in fitting[0]:
            yield from _leaves(sub)
    else:
        yield error


def _message(error: ValidationError) -> tuple[str, bool]:
    """The sentence for one leaf error, and whether it concerns a key rather than a value."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    on_key = "propertyNames" in error.schema_path
    if schema.get("x-stk-identifier"):
        return identifier_problem(error.instance) or "is not a valid name", on_key
    if "x-stk-message" in schema:
        return schema["x-stk-message"], on_key
    # jsonschema types these as possibly unset; on a leaf error they are always set.
    kind, arg, inst = error.validator, cast(Any, error.validator_value), cast(Any, error.instance)
    if kind == "type":
        wanted = " or ".join(
            _JSON_TYPES.get(t, t) for t in ([arg] if isinstance(arg, str) else arg)
        )
        return f"must be {wanted}, not {_type_of(inst)}", on_key
    if kind == "enum":
        return f"must be one of {', '.join(map(str, arg))}; got {_show(inst)}", on_key
    if kind == "const":
        return f"must be {_show(arg)}; got {_show(inst)}", on_key
    if kind == "required":
        missing = [k for k in arg if k not in inst]
        return f"missing required key {missing[0]!r}", on_key
    if kind == "minItems":
        return "must not be empty", on_key
    if kind == "uniqueItems":
        seen: list[Any] = []
        dup = next(x for x in inst if x in seen or seen.append(x))  # type: ignore[func-returns-value]
        return f"lists {_show(dup)} more than once", on_key
    if kind == "minLength":
        return "must not be empty", on_key
    if kind in ("anyOf", "oneOf"):
        return f"{_type_of(inst)} is not allowed here", on_key
    return error.message, on_key


def structural_findings(doc: YamlDocument, schema_name: str) -> list[Finding]:
    """Every structural problem of ``doc`` against the named published JSON Schema."""
    if fast_validator(schema_name).is_valid(doc.data):
        return []
    found: list[Finding] = []
    for top in validator(schema_name).iter_errors(doc.data):
        for error in _leaves(top):
            path: YamlPath = tuple(error.absolute_path)
            if error.validator == "additionalProperties" and isinstance(error.instance, dict):
                known = list(cast(dict[str, Any], error.schema).get("properties", {}))
                for key in error.instance:
                    if key in known:
                        continue
                    hint = difflib.get_close_matches(key, known, n=1)
                    tail = (
                        f"; did you mean {hint[0]!r}?" if hint else f"; allowed: {', '.join(known)}"
                    )
                    found.append(doc.finding((*path, key), f"unknown key {key!r}{tail}", key=True))
                continue
            message, on_key = _message(error)
            if on_key:
                path = (*path, cast(str, error.instance))
            # A block mapping or list starts on the line after its key: point at the key.
            at_key = on_key or isinstance(error.instance, dict | list)
            found.append(doc.finding(path, message, key=at_key))
    if not found:
        # The two validators disagree (a regex dialect difference): trust the stricter one.
        for err in fast_validator(schema_name).iter_errors(doc.data):
            path = tuple(err.instance_path)
            found.append(doc.finding(path, err.message, key=True))
    return sorted(set(found), key=Finding.sort_key)
