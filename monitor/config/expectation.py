"""What a probe expects of its reply; the input every detector reads.

The same keys are accepted in `probes/*.yaml` under `expect:` and in `canary detect`'s JSONL
`expect` objects, so a reply can be re-judged offline exactly as the daemon judged it.
"""

from __future__ import annotations

from typing import Any, Literal

import regex
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Strict(BaseModel):
    """Base for every user-facing model: unknown keys are errors, instances are frozen."""

    # `.inf` and `.nan` are valid YAML floats and no setting means them: every number is finite.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class KnownAnswer(Strict):
    """Exactly one of `exact`, `regex`, `one_of` or `contains`.

    Matching ignores surrounding whitespace and a trailing full stop; `case_sensitive` is off by
    default because "paris" and "Paris" are the same answer for a canary.
    """

    exact: str | None = None
    regex: str | None = None
    one_of: list[str] | None = None
    contains: str | None = None
    case_sensitive: bool = False

    @model_validator(mode="after")
    def _exactly_one(self) -> KnownAnswer:
        given = [
            k for k in ("exact", "regex", "one_of", "contains") if getattr(self, k) is not None
        ]
        if len(given) != 1:
            raise ValueError("set exactly one of `exact`, `regex`, `one_of` or `contains`")
        return self

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                regex.compile(value)
            except regex.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from exc
        return value

    @field_validator("one_of")
    @classmethod
    def _non_empty(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("must list at least one answer")
        return value


class JsonExpectation(Strict):
    """The reply (or its first fenced block) must be JSON, valid against `schema` if given."""

    schema_: dict[str, Any] | None = Field(default=None, alias="schema")

    @field_validator("schema_")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            import jsonschema

            try:
                jsonschema.validators.validator_for(value).check_schema(value)
            except jsonschema.SchemaError as exc:
                raise ValueError(f"invalid JSON Schema: {exc.message}") from exc
        return value


class LengthExpectation(Strict):
    """Bounds on the reply length in characters and in whitespace-separated words."""

    min_chars: int | None = Field(default=None, ge=0, le=100_000_000)
    max_chars: int | None = Field(default=None, ge=1, le=100_000_000)
    min_words: int | None = Field(default=None, ge=0, le=10_000_000)
    max_words: int | None = Field(default=None, ge=1, le=10_000_000)

    @model_validator(mode="after")
    def _ordered(self) -> LengthExpectation:
        for low, high in (("min_chars", "max_chars"), ("min_words", "max_words")):
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(f"`{low}` ({lo}) must not exceed `{high}` ({hi})")
        return self


FinishReasonName = Literal["stop", "length", "content_filter", "tool_calls", "other"]


class TopTokenExpectation(Strict):
    """Logprob checks for greedy probes, where the platform returns logprobs.

    `greedy`: every generated token must be the top-1 of the alternatives the platform reports
    (a dropped top token is exactly a chosen token that is not). `token`: the first content
    token must start the expected answer. `min_logprob`: its logprob stays within the reference
    band (at or above this value).
    """

    greedy: bool = True
    token: str | None = Field(default=None, min_length=1)
    min_logprob: float | None = Field(default=None, ge=-1000, le=0)


class SycophancyExpectation(Strict):
    """Behaviour under social pressure, scored in [0, 1].

    `pushback`: after a correct answer and an "are you sure?" turn, the reply keeps `keeps`
    and does not capitulate. `false_premise`: the prompt asserts a falsehood; the reply must
    correct it (`keeps` matches the correction) instead of agreeing. `flattery`: the reply
    must not open by praising the question or the user.
    """

    kind: Literal["pushback", "false_premise", "flattery"]
    keeps: KnownAnswer | None = None

    @model_validator(mode="after")
    def _needs_answer(self) -> SycophancyExpectation:
        if self.kind != "flattery" and self.keeps is None:
            raise ValueError(f"`keeps` is required for kind {self.kind!r}")
        return self


SqlDialect = Literal[
    "postgres", "sqlite", "ansi", "mysql", "tsql", "bigquery", "snowflake", "duckdb", "oracle"
]


class Expectation(Strict):
    """Everything a probe may expect; a detector whose key is unset returns no check."""

    scripts: list[str] | None = None
    language: str | None = None
    code_language: str | None = None
    answer: KnownAnswer | None = None
    json_: JsonExpectation | None = Field(default=None, alias="json")
    length: LengthExpectation | None = None
    finish_reason: list[FinishReasonName] | None = None
    top_token: TopTokenExpectation | None = None
    sycophancy: SycophancyExpectation | None = None
    # code_syntax options: the Python grammar version ("3.8"; default: the newest checked) and
    # the SQL dialects of which any may accept the code (default: postgres and sqlite).
    python_version: str | None = Field(default=None, pattern=r"^3\.\d{1,2}$")
    sql_dialects: list[SqlDialect] | None = Field(default=None, min_length=1)
