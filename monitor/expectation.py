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

    model_config = ConfigDict(extra="forbid", frozen=True)


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

    min_chars: int | None = Field(default=None, ge=0)
    max_chars: int | None = Field(default=None, ge=1)
    min_words: int | None = Field(default=None, ge=0)
    max_words: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> LengthExpectation:
        for low, high in (("min_chars", "max_chars"), ("min_words", "max_words")):
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(f"`{low}` ({lo}) must not exceed `{high}` ({hi})")
        return self


FinishReasonName = Literal["stop", "length", "content_filter", "tool_calls", "other"]


class Expectation(Strict):
    """Everything a probe may expect; a detector whose key is unset returns no check."""

    scripts: list[str] | None = None
    language: str | None = None
    code_language: str | None = None
    answer: KnownAnswer | None = None
    json_: JsonExpectation | None = Field(default=None, alias="json")
    length: LengthExpectation | None = None
    finish_reason: list[FinishReasonName] | None = None
