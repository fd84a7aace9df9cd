"""Input validation and routing, without a server."""

from __future__ import annotations

import importlib
import subprocess
from typing import Any

import pytest

from decayguard.config import FeatureSpec
from decayguard.errors import InputValidationError
from decayguard.serving.routing import Canary, ChampionOnly, Shadow, bucket, routing_policy
from decayguard.serving.validation import InputValidator, TensorInput

from .helpers import ROOT

SCHEMA = [
    FeatureSpec(name="income"),
    FeatureSpec(name="lines", dtype="int"),
    FeatureSpec(name="job", dtype="category", nullable=True),
    FeatureSpec(name="owner", dtype="bool"),
]


def tensors(**overrides: Any) -> list[TensorInput]:
    base = {
        "income": TensorInput("income", "FP32", [2], [1.5, 2]),
        "lines": TensorInput("lines", "INT64", [2, 1], [[3], [4]]),
        "job": TensorInput("job", "BYTES", [2], ["clerk", None]),
        "owner": TensorInput("owner", "BOOL", [2], [True, False]),
    }
    base.update(overrides)
    return [t for t in base.values() if t is not None]


def test_valid_columns_are_typed_and_flattened() -> None:
    validated = InputValidator(SCHEMA).validate(tensors())
    assert validated.n_rows == 2
    assert validated.columns == {
        "income": [1.5, 2.0],
        "lines": [3, 4],
        "job": ["clerk", None],
        "owner": [True, False],
    }


@pytest.mark.parametrize(
    ("override", "field", "message"),
    [
        ({"income": TensorInput("income", "FP64", [2], [1.0, "2"])}, "income", "not a number"),
        ({"income": TensorInput("income", "FP64", [2], [1.0, None])}, "income", "missing value"),
        ({"income": TensorInput("income", "FP64", [2], [1.0, float("inf")])}, "income", "infinite"),
        ({"lines": TensorInput("lines", "INT64", [2], [1, 2.5])}, "lines", "not an integer"),
        ({"lines": TensorInput("lines", "FP64", [2], [1.0, 2.0])}, "lines", "integer tensor"),
        ({"owner": TensorInput("owner", "BOOL", [2], [1, 0])}, "owner", "not a boolean"),
        ({"job": TensorInput("job", "BYTES", [2], [3, "x"])}, "job", "not a string"),
        ({"owner": TensorInput("owner", "BOOL", [3], [True] * 3)}, "owner", "rows"),
        ({"income": TensorInput("income", "FP64", [2, 2], [1.0] * 4)}, "income", "one column"),
        ({"income": TensorInput("income", "FP64", [], [1.0])}, "income", "shape"),
        ({"income": None}, "income", "missing from the request"),
        ({"extra": TensorInput("extra", "FP64", [2], [1.0, 2.0])}, "extra", "not an input"),
    ],
)
def test_each_problem_names_its_input(
    override: dict[str, TensorInput | None], field: str, message: str
) -> None:
    with pytest.raises(InputValidationError, match=message) as info:
        InputValidator(SCHEMA).validate(tensors(**override))  # type: ignore[arg-type]
    assert info.value.field == field


def test_an_int_tensor_is_a_fine_float_and_nulls_pass_where_nullable() -> None:
    validated = InputValidator(SCHEMA).validate(
        tensors(income=TensorInput("income", "INT32", [2], [1, 2]))
    )
    assert validated.columns["income"] == [1.0, 2.0]
    assert validated.columns["job"] == ["clerk", None]


def test_entity_keys_stand_in_for_missing_features() -> None:
    validator = InputValidator(SCHEMA, entity_key="applicant_id")
    validated = validator.validate(
        [
            TensorInput("applicant_id", "INT64", [2], [7, 8]),
            TensorInput("income", "FP64", [2], [1.0, 2.0]),
        ]
    )
    assert validated.entity_keys == [7, 8]
    assert validated.missing == ["lines", "job", "owner"]
    validator.check_fetched(validated, {"lines": [1, 2], "job": ["a", None], "owner": [True, True]})
    assert validated.columns["lines"] == [1, 2]
    again = validator.validate([TensorInput("applicant_id", "INT64", [2], [7, 8])])
    fetched = {"income": [1.0, None], "lines": [1, 2], "job": [None, None], "owner": [True] * 2}
    with pytest.raises(InputValidationError, match="no online value for applicant_id=8"):
        validator.check_fetched(again, fetched)


def test_canary_share_and_stickiness() -> None:
    canary = Canary(share=0.2)
    keys = [f"applicant-{i}" for i in range(20_000)]
    arms = [canary.route(k).answer for k in keys]
    share = arms.count("challenger") / len(arms)
    assert abs(share - 0.2) < 0.015  # 5 standard errors of a Binomial(20000, 0.2) share
    assert arms == [canary.route(k).answer for k in keys]  # sticky
    assert all(0 <= bucket(k) < 1 for k in keys[:100])
    assert {Canary(0.0).route(k).answer for k in keys[:500]} == {"champion"}
    assert {Canary(1.0).route(k).answer for k in keys[:500]} == {"challenger"}


def test_policies_by_mode() -> None:
    assert isinstance(routing_policy("champion", 0.1), ChampionOnly)
    assert routing_policy("shadow", 0.1).route("x").shadow
    assert isinstance(routing_policy("shadow", 0.1), Shadow)
    assert routing_policy("canary", 0.3).share == 0.3  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="unknown serving mode"):
        routing_policy("blue-green", 0.1)


@pytest.mark.parametrize("name", ["decayguard.serving", "decayguard.registry"])
def test_public_api_is_sorted_and_complete(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__all__ == sorted(module.__all__)
    for attr in module.__all__:
        assert hasattr(module, attr)


def test_serving_env_imports_the_runtime_without_the_control_plane() -> None:
    code = (
        "import sys, decayguard.serving.runtime, decayguard.registry, decayguard.serving;"
        "bad = [m for m in ('prefect', 'feast', 'mlflow') if m in sys.modules];"
        "import fastapi; major, minor = map(int, fastapi.__version__.split('.')[:2]);"
        "assert not bad, bad; assert (major, minor) < (0, 116), fastapi.__version__"
    )
    result = subprocess.run(
        [str(ROOT / ".venv-serve" / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


NUMERIC_SCHEMA = [FeatureSpec(name=n) for n in ("a", "b", "c")]


def test_a_feature_matrix_is_split_into_columns_in_schema_order() -> None:
    validated = InputValidator(NUMERIC_SCHEMA).validate(
        [TensorInput("input-0", "FP32", [2, 3], [[1, 2, 3], [4, 5, 6]])]
    )
    assert validated.columns == {"a": [1.0, 4.0], "b": [2.0, 5.0], "c": [3.0, 6.0]}


@pytest.mark.parametrize(
    ("tensor", "message"),
    [
        (TensorInput("input-0", "FP64", [1, 2], [1.0, 2.0]), "needs 3 columns"),
        (TensorInput("input-0", "FP64", [2, 3], [1.0] * 5), "needs 6 values"),
        (TensorInput("input-0", "BYTES", [1, 3], ["x"] * 3), "does not fit feature 'a'"),
        (TensorInput("input-0", "FP64", [1, 3], [1.0, None, 3.0]), "missing value"),
        (TensorInput("input-0", "FP64", [0, 3], []), "no rows"),
    ],
)
def test_a_bad_feature_matrix_names_the_problem(tensor: TensorInput, message: str) -> None:
    with pytest.raises(InputValidationError, match=message):
        InputValidator(NUMERIC_SCHEMA).validate([tensor])


def test_a_feature_matrix_is_refused_when_a_feature_is_a_string() -> None:
    with pytest.raises(InputValidationError, match="'job' is a category"):
        InputValidator([*NUMERIC_SCHEMA, FeatureSpec(name="job", dtype="category")]).validate(
            [TensorInput("input-0", "FP64", [1, 4], [1.0] * 4)]
        )
