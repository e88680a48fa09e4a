"""The column-mapping file: a registry's own column names and codes -> spinemets inputs.

A registry rarely calls its columns ``kps`` or codes its primaries ``lung_nsclc``. The mapping
(YAML) says, per spinemets input, which registry column feeds it and, optionally, how each
registry code translates. A code the mapping does not list is an error reported per row (row,
column, value, allowed codes), never a silent null: the value is flagged and every score that
would read it is left empty for that row. Map a code to ``null`` to declare it "unknown" on
purpose (e.g. ``"9": null``), which makes the input missing and the score a range.

Example::

    spinemets_mapping: 1
    null_values: ["", "NA", "."]      # CSV cells read as missing (default: "", NA, N/A, NULL, null)
    columns:
      kps: KARNOFSKY                  # shorthand: registry column name only
      primary:
        from: PRIM_SITE
        codes: {C50: breast, C61: prostate, C34: lung_nsclc, "99": null}
      sins.pain:                      # score-specific input: only SINS reads this column
        from: SINS_PAIN
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from spinemets.errors import InvalidInputError, not_utf8
from spinemets.knowledge.yaml_text import DuplicateKeyError, load_yaml_text_scalars
from spinemets.model.validation import collapse_unions
from spinemets.scores.engine import ScoreSpec, evaluate

DEFAULT_NULL_VALUES: tuple[str, ...] = ("", "NA", "N/A", "NULL", "null")
MAPPING_FORMAT = 1
"""The one mapping format (``spinemets_mapping:``) this version reads."""


def _target_text(value: Any) -> str | None:
    """A code's target as the mapping compares it (None: declared unknown)."""
    return None if value is None else str(value)


class ColumnMap(BaseModel):
    """One spinemets input fed from one registry column, with an optional code table."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    source: str = Field(alias="from", min_length=1)
    codes: dict[str, str | int | float | None] | None = None
    """Registry code (compared as trimmed text, ignoring case) -> spinemets value; ``None`` declares 'unknown'."""

    @field_validator("codes", mode="before")
    @classmethod
    def _codes_as_text(cls, v: Any) -> Any:
        if not isinstance(v, Mapping):
            return v
        out: dict[str, Any] = {}
        seen: dict[str, tuple[str, str]] = {}  # compared form -> (code as written, code kept)
        for k, val in v.items():
            code = str(k).strip()
            if isinstance(val, str) and not val.strip():  # a blank answer is no answer, as in calculator mode
                val = None
            written, first = seen.setdefault(code.lower(), (str(k), code))
            if written != str(k) and _target_text(out[first]) != _target_text(val):
                # also when only the spaces differ ("C50 " and "C50"): one key, and the last would win
                raise ValueError(
                    f"codes {written!r} and {str(k)!r} differ only in case or spaces but map to different "
                    "values (codes are compared ignoring both)"
                )
            if code not in out:
                out[code] = val
        return out


class CohortMapping(BaseModel):
    """A whole mapping file (closed schema: unknown keys are rejected)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    spinemets_mapping: Literal[1] = 1
    """The mapping format: a later one would be read with this version's meaning, so it is refused."""
    null_values: tuple[str, ...] = DEFAULT_NULL_VALUES
    columns: dict[str, ColumnMap] = {}

    @property
    def sources(self) -> frozenset[str]:
        """The registry columns the mapping reads."""
        return frozenset(cm.source for cm in self.columns.values())

    @field_validator("columns", mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        if isinstance(v, Mapping):
            return {k: ({"from": val} if isinstance(val, str) else val) for k, val in v.items()}
        return v


def accepted_inputs(specs: Mapping[str, ScoreSpec]) -> dict[str, list[str]]:
    """Every input name any score accepts -> the scores that read it (the cohort's column vocabulary)."""
    out: dict[str, list[str]] = {}
    for key, spec in specs.items():
        for name in spec.definition.accepted_inputs():
            out.setdefault(name, []).append(key)
    return out


def check_targets(mapping: CohortMapping, specs: Mapping[str, ScoreSpec]) -> None:
    """Every target must be an input some score accepts, or ``score.input`` of that score."""
    known = accepted_inputs(specs)
    for target in mapping.columns:
        if target in known:
            continue
        if "." in target:
            score, name = target.split(".", 1)
            if score in specs and name in specs[score].definition.accepted_inputs():
                continue
        raise InvalidInputError(
            f"mapping.columns.{target}",
            target,
            "an input some score accepts (see `spinemets cohort inputs`), or score.input",
        )


def check_code_values(mapping: CohortMapping, specs: Mapping[str, ScoreSpec]) -> None:
    """Every value a code translates to must be one some score reading the target accepts.

    A typo in the code table (``C50: brest``) would otherwise leave that score empty on every row with
    the code, each reported under the spinemets value instead of the registry's. A value that one score
    accepts and another does not (KPS 0: the performance grade takes it, Tokuhashi does not) is a
    fact about that row and stays a per-row error.
    """
    known = accepted_inputs(specs)
    for target, cm in mapping.columns.items():
        if not cm.codes:
            continue
        if target in known:
            name, readers = target, known[target]
        else:
            readers, name = [target.split(".", 1)[0]], target.split(".", 1)[1]
        for code, value in cm.codes.items():
            if value is None:
                continue
            refusal: InvalidInputError | None = None
            for key in readers:
                try:
                    evaluate(specs[key], {name: value})
                except InvalidInputError as exc:
                    refusal = refusal or exc
                    continue
                refusal = None
                break
            if refusal is not None:
                raise InvalidInputError(
                    f"mapping.columns.{target}.codes.{code}",
                    value,
                    refusal.allowed,
                    f"no score reading {target} accepts it; or map the code to null (unknown)",
                )


def load_mapping(path: Path, specs: Mapping[str, ScoreSpec]) -> CohortMapping:
    """Read and validate a mapping YAML file; errors name the key and what is allowed."""
    try:
        raw = load_yaml_text_scalars(path.read_text(encoding="utf-8")) or {}
    except DuplicateKeyError as exc:
        where = (
            f", the second time on line {exc.problem_mark.line + 1}" if exc.problem_mark is not None else ""
        )
        raise InvalidInputError(
            f"mapping {path}",
            exc.key,
            "a mapping that names each key once",
            f"it appears twice{where}",
        ) from None
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            "mapping", str(path), "a YAML file encoded in UTF-8", f"{not_utf8(exc)}; save it again as UTF-8"
        ) from None
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInputError("mapping", str(path), "a readable YAML mapping file", str(exc)) from None
    if not isinstance(raw, Mapping):
        raise InvalidInputError(
            "mapping",
            raw,
            "a YAML mapping of keys to values (spinemets_mapping, null_values, columns; docs/cohort.md)",
        )
    version = raw.get("spinemets_mapping", MAPPING_FORMAT)
    if str(version).strip() != str(MAPPING_FORMAT):  # written 1 or "1"
        raise InvalidInputError(
            "mapping.spinemets_mapping",
            version,
            f"{MAPPING_FORMAT} (the mapping format this version of spinemets reads)",
        )
    try:
        mapping = CohortMapping.model_validate({**raw, "spinemets_mapping": MAPPING_FORMAT})
    except ValidationError as exc:
        err = collapse_unions(exc.errors())[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InvalidInputError(
            f"mapping.{loc}", err.get("input"), "the mapping schema (docs/cohort.md)", err["msg"]
        ) from None
    check_targets(mapping, specs)
    check_code_values(mapping, specs)
    return mapping
