"""Checking a V2 request's inputs against the model's input schema.

Pure Python (no MLServer import) so that it is unit-testable anywhere. One V2 input
per feature, named like the feature, of shape ``[n]`` or ``[n, 1]``; optionally the
entity key as one more input. Every problem raises
:class:`~decayguard.errors.InputValidationError` naming the input at fault, which the
runtime answers with HTTP 422.

    >>> from decayguard.config import FeatureSpec
    >>> schema = [FeatureSpec(name="income"), FeatureSpec(name="job", dtype="category")]
    >>> v = InputValidator(schema)
    >>> job = TensorInput("job", "BYTES", [1], ["clerk"])
    >>> v.validate([TensorInput("income", "FP64", [1], [5.0]), job]).columns
    {'income': [5.0], 'job': ['clerk']}
    >>> v.validate([TensorInput("income", "BYTES", [1], ["high"]), job])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    decayguard.errors.InputValidationError: input 'income': expected a float tensor ..., got BYTES
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from decayguard.config import FeatureSpec
from decayguard.errors import InputValidationError

_INT_TYPES = frozenset(f"{p}INT{b}" for p in ("", "U") for b in (8, 16, 32, 64))
_FLOAT_TYPES = frozenset({"FP16", "FP32", "FP64"})
ALLOWED_DATATYPES: dict[str, frozenset[str]] = {
    "float": _FLOAT_TYPES | _INT_TYPES,
    "int": _INT_TYPES,
    "category": frozenset({"BYTES"}),
    "bool": frozenset({"BOOL"}),
}
_DESCRIBE = {
    "float": "a float tensor (FP32, FP64 or an integer type)",
    "int": "an integer tensor (INT8..INT64, UINT8..UINT64)",
    "category": "a string tensor (BYTES)",
    "bool": "a boolean tensor (BOOL)",
}
MAX_ROWS = 10_000
"""Most rows in one request (a guard against accidental bulk scoring through the API)."""


@dataclass(frozen=True, slots=True)
class TensorInput:
    """The parts of a V2 request input that validation looks at."""

    name: str
    datatype: str
    shape: Sequence[int]
    data: Any


@dataclass(slots=True)
class ValidatedInputs:
    """Columns as checked Python lists (``None`` for a missing value)."""

    n_rows: int
    columns: dict[str, list[Any]]
    entity_keys: list[Any] | None = None
    missing: list[str] = field(default_factory=list)
    """Features absent from the request, to be fetched from the feature store."""


def _flatten(data: Any) -> list[Any]:
    if not isinstance(data, list):
        return [data]
    if not any(isinstance(v, list) for v in data):
        return data
    out: list[Any] = []
    for v in data:
        out.extend(_flatten(v))
    return out


def _rows(tensor: TensorInput, values: list[Any]) -> int:
    shape = list(tensor.shape)
    if not shape or len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
        raise InputValidationError(
            tensor.name, f"expected shape [n] or [n, 1] (one column), got {shape}"
        )
    if any(not isinstance(s, int) or s < 0 for s in shape):
        raise InputValidationError(tensor.name, f"invalid shape {shape}")
    if shape[0] < 1:
        raise InputValidationError(tensor.name, "has no rows; send at least one")
    if shape[0] > MAX_ROWS:
        raise InputValidationError(tensor.name, f"has {shape[0]} rows, at most {MAX_ROWS}")
    if len(values) != shape[0]:
        raise InputValidationError(
            tensor.name, f"shape {shape} needs {shape[0]} values, got {len(values)}"
        )
    return shape[0]


def _check_value(spec: FeatureSpec, value: Any, row: int, name: str) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        if not spec.nullable:
            raise InputValidationError(name, f"missing value at row {row} (not nullable)")
        return None
    kind = spec.dtype
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputValidationError(name, f"row {row}: {value!r} is not a number")
        if math.isinf(value):
            raise InputValidationError(name, f"row {row}: infinite value")
        return float(value)
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputValidationError(name, f"row {row}: {value!r} is not an integer")
        if isinstance(value, float) and not value.is_integer():
            raise InputValidationError(name, f"row {row}: {value!r} is not an integer")
        return int(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise InputValidationError(name, f"row {row}: {value!r} is not a boolean")
        return value
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputValidationError(name, f"row {row}: not valid UTF-8") from exc
    if not isinstance(value, str):
        raise InputValidationError(name, f"row {row}: {value!r} is not a string")
    return value


class InputValidator:
    """Validates request inputs against an input schema (and an optional entity key)."""

    def __init__(self, features: Sequence[FeatureSpec], entity_key: str | None = None) -> None:
        self.features = list(features)
        self.entity_key = entity_key
        self._specs = {f.name: f for f in self.features}

    def validate(self, inputs: Sequence[TensorInput]) -> ValidatedInputs:
        """Check names, types, shapes and missing values; return the columns."""
        matrix = self._matrix_form(inputs)
        if matrix is not None:
            return matrix
        columns: dict[str, list[Any]] = {}
        entity_keys: list[Any] | None = None
        n_rows: int | None = None
        first: str | None = None
        for tensor in inputs:
            name = tensor.name
            values = _flatten(tensor.data)
            rows = _rows(tensor, values)
            if n_rows is None:
                n_rows, first = rows, name
            elif rows != n_rows:
                raise InputValidationError(
                    name, f"has {rows} rows but input {first!r} has {n_rows}; all must agree"
                )
            if name == self.entity_key:
                entity_keys = self._entity_keys(tensor, values)
                continue
            spec = self._specs.get(name)
            if spec is None:
                expected = ", ".join(self._specs)
                raise InputValidationError(
                    name, f"not an input of this model (expected: {expected})"
                )
            if name in columns:
                raise InputValidationError(name, "sent twice")
            if tensor.datatype not in ALLOWED_DATATYPES[spec.dtype]:
                raise InputValidationError(
                    name, f"expected {_DESCRIBE[spec.dtype]}, got {tensor.datatype}"
                )
            columns[name] = [_check_value(spec, v, i, name) for i, v in enumerate(values)]
        if n_rows is None:
            raise InputValidationError("inputs", "the request has no inputs")
        missing = [f.name for f in self.features if f.name not in columns]
        if missing and entity_keys is None:
            hint = f" (or send {self.entity_key!r} to look features up)" if self.entity_key else ""
            raise InputValidationError(missing[0], f"missing from the request{hint}")
        return ValidatedInputs(n_rows, columns, entity_keys, missing)

    def _matrix_form(self, inputs: Sequence[TensorInput]) -> ValidatedInputs | None:
        """One ``[n, k]`` tensor holding every feature, in schema order (what NumpyCodec
        clients send); only for models whose features are all numeric."""
        k = len(self.features)
        if len(inputs) != 1 or k < 2:
            return None
        tensor = inputs[0]
        shape = list(tensor.shape)
        if tensor.name in self._specs or tensor.name == self.entity_key or len(shape) != 2:
            return None
        if shape[1] != k:
            raise InputValidationError(
                tensor.name, f"a feature matrix needs {k} columns ({', '.join(self._specs)})"
            )
        for spec in self.features:
            if spec.dtype not in ("float", "int"):
                raise InputValidationError(
                    tensor.name,
                    f"feature {spec.name!r} is a {spec.dtype}: send one input per feature",
                )
            if tensor.datatype not in ALLOWED_DATATYPES[spec.dtype]:
                raise InputValidationError(
                    tensor.name, f"{tensor.datatype} does not fit feature {spec.name!r}"
                )
        values = _flatten(tensor.data)
        n = _rows(TensorInput(tensor.name, tensor.datatype, [shape[0]], values[::k]), values[::k])
        if len(values) != n * k:
            raise InputValidationError(
                tensor.name, f"shape {shape} needs {n * k} values, got {len(values)}"
            )
        columns = {
            spec.name: [_check_value(spec, v, i, spec.name) for i, v in enumerate(values[j::k])]
            for j, spec in enumerate(self.features)
        }
        return ValidatedInputs(n, columns)

    def _entity_keys(self, tensor: TensorInput, values: list[Any]) -> list[Any]:
        assert self.entity_key is not None
        if tensor.datatype not in _INT_TYPES | {"BYTES"}:
            raise InputValidationError(
                self.entity_key, f"entity keys must be integers or strings, got {tensor.datatype}"
            )
        keys = []
        for i, v in enumerate(values):
            if isinstance(v, bytes):
                v = v.decode("utf-8", errors="replace")
            if v is None or isinstance(v, bool) or not isinstance(v, int | str):
                raise InputValidationError(self.entity_key, f"row {i}: invalid entity key {v!r}")
            keys.append(v)
        return keys

    def check_fetched(self, validated: ValidatedInputs, fetched: dict[str, list[Any]]) -> None:
        """Fill the missing columns from feature-store values, checking them like input."""
        for name in validated.missing:
            spec = self._specs[name]
            values = fetched.get(name)
            if values is None or len(values) != validated.n_rows:
                raise InputValidationError(name, "the feature store returned no values for it")
            checked = []
            for i, v in enumerate(values):
                if v is None and not spec.nullable:
                    key = validated.entity_keys[i] if validated.entity_keys else "?"
                    raise InputValidationError(
                        name, f"no online value for {self.entity_key}={key} (not nullable)"
                    )
                checked.append(_check_value(spec, v, i, name))
            validated.columns[name] = checked
        validated.missing = []
