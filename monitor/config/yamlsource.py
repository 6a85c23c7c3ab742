"""YAML files in, validated pydantic models out, with errors that name file, line and field.

`pydantic` reports where a value failed as a `loc` path; `yaml.compose()` knows where every
node starts. Mapping one onto the other turns "Input should be greater than 0" into
`config/canary.yaml:42: targets[3].timeout_s: must be > 0`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import regex
import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from monitor.config.files import MAX_DOCUMENT_BYTES, FileProblem, read_bytes
from monitor.errors import ConfigError, ConfigProblem

ModelT = TypeVar("ModelT", bound=BaseModel)
PathKey = tuple[str | int, ...]


# 50 times the largest shipped probe file (about 400 nodes); YAML aliases could otherwise
# expand exponentially, and 20 000 nodes still load in well under a second. The bound holds
# twice: while composing (a 1.3 MB flow of 650k scalars took 1.26 GB as nodes) and once
# aliases are expanded.
MAX_NODES = 20_000


class _TooManyNodes(Exception):
    pass


class _BoundedLoader(yaml.SafeLoader):
    """The safe loader, refusing a document of more than MAX_NODES nodes as it composes."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooManyNodes
        return super().compose_node(parent, index)

# `${VAR}`, `${VAR:-default}` and `${VAR:?hint}` (the hint says how to set VAR when it is unset),
# as in the shell and Compose files.
_ENV_REF = regex.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:-|:\?)([^}]*))?\}")

# What stands for an unset variable when a config is checked without its environment
# (`canary validate --no-secrets`): a digit is valid in a port, a URL, a path and a label, and
# the fields that held one are reported as not checked rather than as wrong.
UNSET_PLACEHOLDER = "0"


class SourceDocument:
    """One parsed YAML document with the line of every node, keyed by its path."""

    def __init__(
        self,
        file: str,
        data: Any,
        lines: dict[PathKey, int],
        unset: dict[str, list[PathKey]] | None = None,
    ) -> None:
        self.file = file
        self.data = data
        self.lines = lines
        # With `allow_unset`: each unset variable and the fields it stood in, not checked.
        self.unset = unset or {}

    def unchecked_fields(self) -> set[str]:
        """The fields (as `format_path` writes them) that held an unset variable."""
        return {format_path(path) for paths in self.unset.values() for path in paths}

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """The line of the deepest existing node on `path` (1-based)."""
        key: PathKey = tuple(path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get((), None)

    def problem(self, path: Sequence[str | int], message: str) -> ConfigProblem:
        return ConfigProblem(self.file, self.line_of(path), format_path(path), message)


def format_path(path: Sequence[str | int]) -> str:
    """`("targets", 3, "timeout_s")` -> `targets[3].timeout_s`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def load_document(
    path: Path,
    *,
    display_name: str | None = None,
    substitute_env: bool = True,
    allow_unset: bool = False,
) -> SourceDocument:
    """Parse `path`, substitute `${ENV}` references, and record node lines.

    Raises `ConfigError` for unreadable files, YAML syntax errors and unset variables (one
    problem per variable, however many fields use it). With `allow_unset`, an unset variable
    is replaced by `UNSET_PLACEHOLDER` and listed in `SourceDocument.unset` instead.
    """
    name = display_name or str(path)
    try:
        text = read_bytes(path, max_bytes=MAX_DOCUMENT_BYTES).decode("utf-8")
    except FileProblem as exc:
        reason = str(exc).removeprefix(f"cannot read {path}: ")
        raise ConfigError([ConfigProblem(name, None, "", f"cannot read file: {reason}")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigProblem(name, None, "", "file is not valid UTF-8")]) from exc
    return parse_document(text, name, substitute_env=substitute_env, allow_unset=allow_unset)


def parse_document(
    text: str, name: str, *, substitute_env: bool = True, allow_unset: bool = False
) -> SourceDocument:
    """Parse YAML text (see `load_document`); probe files keep `${...}` literally (code uses it)."""
    try:
        node = yaml.compose(text, Loader=_BoundedLoader)
    except _TooManyNodes:
        message = f"invalid YAML: more than {MAX_NODES} nodes"
        raise ConfigError([ConfigProblem(name, None, "", message)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError([ConfigProblem(name, line, "", f"invalid YAML: {exc.problem}")]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigProblem(name, None, "", f"invalid YAML: {exc}")]) from exc
    except RecursionError as exc:
        raise ConfigError(
            [ConfigProblem(name, None, "", "invalid YAML: nested too deeply")]
        ) from exc
    if node is None:
        return SourceDocument(name, {}, {(): 1})
    if _expanded_size(node, MAX_NODES) > MAX_NODES:
        message = f"invalid YAML: aliases expand to more than {MAX_NODES} nodes, or recursively"
        raise ConfigError([ConfigProblem(name, None, "", message)])
    walk = _Walk(name, substitute_env)
    try:
        data = _convert(node, (), walk)
    except yaml.MarkedYAMLError as exc:  # a scalar no constructor takes: `!tag`, `2024-99-99`
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        raise ConfigError([ConfigProblem(name, line, "", f"invalid YAML: {exc.problem}")]) from exc
    except RecursionError as exc:
        raise ConfigError(
            [ConfigProblem(name, None, "", "invalid YAML: nested too deeply")]
        ) from exc
    if not allow_unset:
        walk.problems += _unset_problems(name, walk)
    if walk.problems:
        raise ConfigError(walk.problems)
    return SourceDocument(name, data, walk.lines, walk.unset)


class _Walk:
    """What `_convert` gathers on its way through one document."""

    def __init__(self, name: str, substitute_env: bool) -> None:
        # A constructor per document: it remembers every node it built, so a shared one kept
        # each loaded file alive (about 100 KB per reload, 650 MB after 5,000 reloads).
        self.constructor = yaml.SafeLoader("")
        self.name = name
        self.substitute_env = substitute_env
        self.lines: dict[PathKey, int] = {}
        self.problems: list[ConfigProblem] = []
        self.unset: dict[str, list[PathKey]] = {}  # variable -> fields, in document order
        self.hints: dict[str, str] = {}  # variable -> its `${VAR:?hint}`


def _unset_problems(name: str, walk: _Walk) -> list[ConfigProblem]:
    """One problem per unset variable at its first use: six fields that share a port are one
    cause, not six."""
    problems = []
    for var, paths in walk.unset.items():
        message = f"environment variable {var} is not set"
        if len(paths) > 1:
            message += f" (used by {len(paths)} fields)"
        if var in walk.hints:
            message += f": {walk.hints[var]}"
        first = paths[0]
        problems.append(ConfigProblem(name, walk.lines.get(first), format_path(first), message))
    return problems


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """Nodes in the document once every alias is expanded, as `_convert` will walk it; the
    count stops just past `limit`, and a recursive alias counts as past it. Linear in the
    distinct nodes, where the expansion itself is exponential (a "billion laughs" file)."""

    def children(node: yaml.Node) -> list[yaml.Node]:
        if isinstance(node, yaml.MappingNode):
            return [part for pair in node.value for part in pair]
        return list(node.value) if isinstance(node, yaml.SequenceNode) else []

    sizes: dict[int, int] = {}
    ancestors: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        if finished:
            ancestors.discard(id(node))
            sizes[id(node)] = min(limit + 1, 1 + sum(sizes[id(c)] for c in children(node)))
        elif id(node) in ancestors:
            return limit + 1
        elif id(node) not in sizes:
            ancestors.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in children(node))
    return sizes[id(root)]


def _convert(node: yaml.Node, path: PathKey, walk: _Walk) -> Any:
    name, lines = walk.name, walk.lines
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError([_bad_value(name, key_node, path, "a key must be a scalar")])
            key = _construct(walk.constructor, key_node, path, name)
            child = (*path, key)
            if key in out:
                walk.problems.append(
                    ConfigProblem(
                        name, key_node.start_mark.line + 1, format_path(child), "duplicate key"
                    )
                )
            lines[child] = key_node.start_mark.line + 1
            out[key] = _convert(value_node, child, walk)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, index), walk) for index, item in enumerate(node.value)]
    value = _construct(walk.constructor, node, path, name)
    if walk.substitute_env and isinstance(value, str) and "${" in value:
        return _substitute(value, path, walk)
    return value


def _construct(constructor: yaml.SafeLoader, node: yaml.Node, path: PathKey, name: str) -> Any:
    """The Python value of a scalar; a value its tag refuses (`!!int x`) is a ConfigError."""
    try:
        return constructor.construct_object(node, deep=True)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ConfigError([_bad_value(name, node, path, f"invalid YAML value: {exc}")]) from None


def _bad_value(name: str, node: yaml.Node, path: PathKey, message: str) -> ConfigProblem:
    return ConfigProblem(name, node.start_mark.line + 1, format_path(path), message)


def _substitute(value: str, path: PathKey, walk: _Walk) -> str:
    def replace(match: regex.Match[str]) -> str:
        var, operator, word = match.group(1), match.group(2), match.group(3)
        if var in os.environ:
            return os.environ[var]
        if operator == ":-":
            return str(word)
        if operator == ":?" and word:
            walk.hints.setdefault(var, word.strip())
        paths = walk.unset.setdefault(var, [])
        if path not in paths:
            paths.append(path)
        return UNSET_PLACEHOLDER

    return _ENV_REF.sub(replace, value)


def validate(
    model: type[ModelT], doc: SourceDocument, *, context: Mapping[str, Any] | None = None
) -> ModelT:
    """Validate `doc.data` against `model`; every error becomes a located `ConfigProblem`."""
    try:
        return model.model_validate(doc.data, context=dict(context or {}))
    except ValidationError as exc:
        raise ConfigError(
            [_to_problem(doc, err) for err in exc.errors(include_url=False)]
        ) from None


def _to_problem(doc: SourceDocument, err: ErrorDetails) -> ConfigProblem:
    path = _data_path(doc.data, err["loc"])
    return doc.problem(path, humanize(err))


def _data_path(data: Any, loc: tuple[int | str, ...]) -> PathKey:
    """Keep the parts of a pydantic `loc` that name real keys or indices (drop union tags)."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, Mapping) and part in node:  # noqa: SIM114 (separate for type narrowing)
            node = node[part]
            path.append(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            path.append(part)
        elif (
            isinstance(node, Mapping)
            and isinstance(part, str)
            and not regex.search(r"[\[\]]", part)
        ):
            path.append(part)  # a missing or unknown key: still the field the user must fix
            node = None
        # else: a union or validator tag, not a place in the file
    return tuple(path)


_MESSAGES: dict[str, str] = {
    "missing": "required field is missing",
    "extra_forbidden": "unknown field",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
}


# Patterns used in models, said in words.
PATTERN_MESSAGES: dict[str, str] = {
    r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$": (
        "must be 1 to 63 letters, digits, '.', '_', ':' or '-', starting with a letter or digit"
    ),
    r"^[a-z0-9][a-z0-9_.-]{0,62}$": (
        "must be 1 to 63 lowercase letters, digits, '.', '_' or '-', "
        "starting with a letter or digit"
    ),
    r"^https?://[^\s]+$": "must be an http:// or https:// URL",
    r"^(sqlite:///.+|postgres(ql)?://.+)": "must be a sqlite:///path or postgresql:// URL",
}


def humanize(err: ErrorDetails) -> str:
    """A user-grade message for one pydantic error."""
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    bounds = {
        "greater_than": ">",
        "greater_than_equal": ">=",
        "less_than": "<",
        "less_than_equal": "<=",
    }
    if kind in bounds:
        limit = next(iter(ctx.values()))
        if isinstance(limit, float) and limit.is_integer():
            limit = int(limit)
        return f"must be {bounds[kind]} {limit}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '')}"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        return PATTERN_MESSAGES.get(pattern, f"must match {pattern}")
    if kind == "string_too_short":
        return "must not be empty" if ctx.get("min_length") == 1 else err["msg"]
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s)"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    msg = str(err["msg"])
    return msg[:1].lower() + msg[1:]
