"""The argument boundary: raw MCP arguments in, the tool's own arguments out, or an error showing what works.

Agents write arguments from pandas, SQL and dbt habits. Every call passes through
`prepare` before the SDK validates it:

- a known synonym (`rows` for `n`, `models` for `select`, `query` for `where`...) is
  read as the tool's own argument, and the answer says so (`Prepared.notes`);
  the synonyms live in `synonyms.py`, never in the schemas the model reads;
- a JSON list or object sent as a string is decoded, a comma-separated string of column
  names where a list of columns is expected is split, and a single value where a list
  is expected becomes a one-element list;
- an argument the tool does not take is refused with the tool's real arguments and a
  did-you-mean: nothing a caller sends is ever dropped in silence.

`validation_message` renders what the SDK's validator still refuses in the same
`<what> <what works>` shape, never pydantic's own text.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from data_platform.errors import InputError
from data_platform.server.synonyms import GLOBAL, SPECIAL, TOOLS, VALUES, Synonym

Schema = Mapping[str, Any]
# Lists of column names: "id, mass" (a SQL habit) is the list ["id", "mass"].
COLUMN_LISTS = frozenset({"columns", "by", "on", "left_on", "right_on", "key", "parse_dates", "partition_by"})


@dataclass
class Prepared:
    """Arguments ready for validation, and how the boundary read them (said in the answer)."""

    args: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def _types(prop: Schema) -> set[str]:
    """JSON types a property accepts (`anyOf` unions included)."""
    found: set[str] = set()
    kind = prop.get("type")
    if isinstance(kind, str):
        found.add(kind)
    elif isinstance(kind, list):
        found.update(kind)
    if "enum" in prop and not found:
        found.add("string")
    for sub in prop.get("anyOf", ()):
        found |= _types(sub)
    return found


def _shown(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _decode(text: str, want: set[str]) -> Any:
    """A JSON list/object sent as a string; dbt-style YAML for objects (`{env: dev}`)."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "[{":
        return text
    try:
        value = json.loads(stripped)
    except ValueError:
        if "object" not in want or stripped[0] != "{":
            return text
        import yaml  # dbt's --vars habit: YAML; only reached for a string that is not JSON

        try:
            value = yaml.safe_load(stripped)
        except yaml.YAMLError:
            return text
    if (isinstance(value, list) and "array" in want) or (isinstance(value, dict) and "object" in want):
        return value
    return text


def coerce(value: Any, prop: Schema) -> Any:
    """Fit a value to the property's shape where the intent is unambiguous; else leave it to validation."""
    want = _types(prop)
    if isinstance(value, str) and "string" not in want and want & {"array", "object"}:
        value = _decode(value, want)
    if "array" in want and not isinstance(value, list | dict) and value is not None:
        value = [value]
    return value


def _names(schema: Schema) -> list[str]:
    return list(schema.get("properties", {}))


def usage(tool: str, schema: Schema) -> str:
    """`head(data_ref, n=10)`: the tool's arguments, required first, as a call an agent can copy."""
    props = schema.get("properties", {})
    required = list(schema.get("required", []))
    parts = [*required]
    for name, prop in props.items():
        if name not in required and len(parts) < 6:
            given = prop.get("default") is not None
            parts.append(f"{name}={_shown(prop['default'], 24)}" if given else f"{name}=...")
    more = ", ..." if len(props) > len(parts) else ""
    return f"{tool}({', '.join(parts)}{more})"


def _synonym(tool: str, key: str, props: Mapping[str, Any]) -> Synonym | None:
    for table in (TOOLS.get(tool, {}), GLOBAL):
        syn = table.get(key)
        if syn is not None and syn.target in props:
            return syn
    return None


def _unknown(tool: str, keys: list[str], schema: Schema) -> InputError:
    names = _names(schema)
    props = schema.get("properties", {})
    synonyms = sorted(set(TOOLS.get(tool, {})) | set(GLOBAL))
    hints = []
    for key in keys:
        # A near-miss of a real name first; a synonym only when very close (`columns` is not `count`).
        close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
        near = difflib.get_close_matches(key, synonyms, n=1, cutoff=0.8) if not close else []
        target = _synonym(tool, near[0], props) if near else None
        better = close[0] if close else target.target if target else None
        if better:
            hints.append(f"`{key}`: did you mean `{better}`?")
    listed = ", ".join(f"`{k}`" for k in keys)
    what = f"{tool} does not take {listed}." + (" " + " ".join(hints) if hints else "")
    hint = f"Its arguments: {', '.join(names) or 'none'}. Call as {usage(tool, schema)}."
    return InputError(what, hint=hint)


def prepare(tool: str, schema: Schema, raw: Mapping[str, Any]) -> Prepared:
    """Map synonyms, fit shapes and refuse unknown arguments; raises InputError."""
    props: Mapping[str, Any] = schema.get("properties", {})
    out = Prepared(args={})
    source: dict[str, str] = {}
    unknown: list[str] = []
    specials: list[tuple[str, Any]] = []
    for key, value in raw.items():
        if key in props:
            target = key
        elif (tool, key) in SPECIAL:
            specials.append((key, value))
            continue
        elif (cli := key.lstrip("-").replace("-", "_")) in props and cli != key:
            target = cli  # the dbt CLI's `--full-refresh`
            out.notes.append(f"read `{key}` as `{target}`")
        elif (syn := _synonym(tool, key, props)) is not None:
            target = syn.target
            value = syn.convert(value)
            out.notes.append(f"read `{key}` as `{target}`" + (f" ({syn.note})" if syn.note else ""))
        else:
            unknown.append(key)
            continue
        if target in out.args and out.args[target] != value:
            raise InputError(
                f"{tool} got `{target}` twice: as `{source[target]}` and as `{key}`, with different values.",
                hint=f"Send it once, as `{target}`.",
            )
        out.args[target] = value
        source[target] = key
    if unknown:
        raise _unknown(tool, unknown, schema)
    for name, value in list(out.args.items()):
        if name in COLUMN_LISTS and isinstance(value, str) and "," in value and value.strip()[:1] != "[":
            split = [part.strip() for part in value.split(",") if part.strip()]
            out.notes.append(f"read `{name}={_shown(value)}` as `{name}={_shown(split)}`")
            value = split
        value = coerce(value, props[name])
        convert = VALUES.get((tool, name))
        if convert is not None and (new := convert(value)) != value:
            out.notes.append(f"read `{name}={_shown(value)}` as `{name}={_shown(new)}`")
            value = new
        out.args[name] = value
    for key, value in specials:
        note = SPECIAL[(tool, key)](out.args, value)
        out.notes.append(note)
    missing = [r for r in schema.get("required", []) if r not in out.args]
    if missing:
        listed = ", ".join(f"`{m}`" for m in missing)
        raise InputError(f"{tool} needs {listed}.", hint=f"Call as {usage(tool, schema)}.")
    return out


def _expected(prop: Schema) -> str:
    """What a property accepts, in words, with a short example."""
    if "enum" in prop:
        return "one of " + ", ".join(_shown(v) for v in prop["enum"])
    for sub in prop.get("anyOf", ()):
        if sub.get("type") != "null":
            return _expected(sub)
    kind = prop.get("type")
    lo, hi = prop.get("minimum"), prop.get("maximum")
    if kind in ("integer", "number"):
        noun = "an integer" if kind == "integer" else "a number"
        if lo is not None and hi is not None:
            return f"{noun} from {lo} to {hi}"
        if lo is not None:
            return f"{noun} of at least {lo}"
        return noun
    if kind == "boolean":
        return "true or false"
    if kind == "array":
        item = prop.get("items", {})
        if item.get("type") == "string":
            return 'a list of strings, e.g. ["a", "b"]'
        return "a list, e.g. [1, 2]"
    if kind == "object":
        extra = prop.get("additionalProperties")
        if isinstance(extra, dict) and extra.get("type") == "string":
            return 'an object of strings, e.g. {"key": "value"}'
        return 'an object, e.g. {"key": "value"}'
    return "a string"


def validation_message(tool: str, schema: Schema, errors: Sequence[Mapping[str, Any]]) -> str:
    """The validator's refusals as `<what> <what works>`: which argument, what it got, what it takes."""
    props = schema.get("properties", {})
    lines = []
    for err in errors[:5]:
        loc = [str(p) for p in err.get("loc", ())]
        top = loc[0] if loc else "?"
        where = ".".join(loc) if loc else "the arguments"
        prop = props.get(top, {})
        if err.get("type") == "missing":
            lines.append(f"{tool} needs `{where}`.")
            continue
        expected = _expected(prop) if len(loc) == 1 else _expected_nested(prop)
        lines.append(f"{tool}: `{where}` must be {expected}; got {_shown(err.get('input'))}.")
    text = " ".join(lines)
    return f"{text} Call as {usage(tool, schema)}."


def _expected_nested(prop: Schema) -> str:
    for sub in [prop, *prop.get("anyOf", ())]:
        if sub.get("type") == "array":
            return _expected(sub.get("items", {})) if sub.get("items") else "a list item"
        if sub.get("type") == "object" and isinstance(sub.get("additionalProperties"), dict):
            return _expected(sub["additionalProperties"])
    return _expected(prop)


def unknown_tool_message(name: str, tools: list[str]) -> str:
    close = difflib.get_close_matches(name, tools, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return f"No tool named `{name}`.{hint} Tools: {', '.join(sorted(tools))}."
