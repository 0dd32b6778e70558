"""Classification rules: versioned YAML data, validated, ordered; the first rule that holds decides.

The built-in set is ``data/rules-v1.yaml``; a user file replaces it (copy the built-in and extend it).
Rules only describe; :mod:`flopbill.bills.classify` turns them into engine expressions.
"""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from flopbill.bills.schema import RULE_FIELDS, Phase
from flopbill.errors import CatalogError, InputError


class Condition(BaseModel):
    """One test: a column or tag ``matches`` a regex / ``equals`` a value, or ``any`` of alternatives."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    field: tuple[str, ...] = ()
    tag: tuple[str, ...] = ()
    matches: str | None = None
    equals: str | None = None
    any_of: tuple[Condition, ...] = Field(default=(), alias="any")

    @field_validator("field", "tag", mode="before")
    @classmethod
    def _listify(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _shape(self) -> Condition:
        if self.any_of:
            if self.field or self.tag or self.matches or self.equals:
                raise ValueError("`any` cannot be combined with field/tag/matches/equals")
            return self
        if bool(self.field) == bool(self.tag):
            raise ValueError("give exactly one of `field` or `tag`")
        if (self.matches is None) == (self.equals is None):
            raise ValueError("give exactly one of `matches` or `equals`")
        unknown = [f for f in self.field if f not in RULE_FIELDS]
        if unknown:
            raise ValueError(f"unknown field {unknown[0]!r}; fields: {', '.join(RULE_FIELDS)}")
        if self.matches is not None:
            re.compile(self.matches)
        return self


class Rule(BaseModel):
    """A rule: when every condition holds, the line gets ``phase`` with ``confidence``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    phase: Phase
    confidence: float = Field(ge=0.0, le=1.0)
    when: tuple[Condition, ...] = ()
    rationale: str
    source: str


class RuleSet(BaseModel):
    """An ordered, versioned list of rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    checked: str
    rules: tuple[Rule, ...]

    @model_validator(mode="after")
    def _unique_ids(self) -> RuleSet:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"duplicate rule id {rule.id!r}")
            seen.add(rule.id)
        return self


BUILTIN_RULES = "rules-v1.yaml"


def load_rules(path: Path | None = None) -> RuleSet:
    """Return the rule set in ``path``, or the built-in one."""
    if path is None:
        text = files("flopbill.bills").joinpath("data").joinpath(BUILTIN_RULES).read_text(encoding="utf-8")
        where = f"built-in {BUILTIN_RULES}"
    else:
        if not path.is_file():
            raise InputError("--rules", str(path), "an existing rules YAML file")
        text = path.read_text(encoding="utf-8")
        where = str(path)
    try:
        return RuleSet.model_validate(yaml.safe_load(text))
    except (ValidationError, yaml.YAMLError, re.error) as exc:
        first = str(exc).strip().splitlines()
        raise CatalogError(f"{where}: invalid rules: {' '.join(first[:3])}") from None
