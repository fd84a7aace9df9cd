"""The configuration reference, generated from the config's own field docstrings.

``docs/configuration.md`` is this module's output; regenerate it with::

    python -m decayguard.config_reference > docs/configuration.md

Every key of every section is listed with its dotted name, type, default and meaning, so the
reference cannot drift from the code (a test compares the file with :func:`config_reference`
and fails on a field without a docstring):

>>> keys = {k.key: k for k in config_keys()}
>>> window = keys["monitoring.window_hours"]
>>> window.type, window.default
('float, > 0', '24.0')
>>> window.description
'Length of the window each monitor run reads.'
>>> keys["model.features[].name"].default
'required'
>>> undocumented_keys()
[]
"""

from __future__ import annotations

import json
import re
import sys
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from decayguard.config import CONFIG_FILENAME, DecayguardConfig, ModelConfig
from decayguard.task_metrics import THRESHOLD_METRICS

__all__ = [
    "REGENERATE_COMMAND",
    "ConfigKey",
    "config_keys",
    "config_reference",
    "main",
    "undocumented_keys",
]

REGENERATE_COMMAND = "python -m decayguard.config_reference > docs/configuration.md"
"""The command that rewrites ``docs/configuration.md``."""

_BOUNDS: tuple[tuple[type[Any], str, str], ...] = (
    (annotated_types.Gt, "gt", ">"),
    (annotated_types.Ge, "ge", ">="),
    (annotated_types.Lt, "lt", "<"),
    (annotated_types.Le, "le", "<="),
)


@dataclass(frozen=True)
class ConfigKey:
    """One key of ``decayguard.yaml``, as the reference lists it."""

    section: str
    key: str
    """Dotted name (``monitoring.window_hours``; ``model.features[].name`` for list items)."""
    type: str
    default: str
    description: str
    """The field's docstring, on one line (empty when the field has none)."""

    @property
    def env_var(self) -> str | None:
        """The ``DECAYGUARD_*`` variable overriding the key (``None`` inside lists)."""
        if "[]" in self.key:
            return None
        return "DECAYGUARD_" + self.key.replace(".", "__").upper()


def _model_of(annotation: Any) -> type[BaseModel] | None:
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


def _list_item_model(annotation: Any) -> type[BaseModel] | None:
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        return _model_of(item)
    return None


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is type(None):
        return "null"
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin in (types.UnionType, typing.Union):
        names = [_type_name(a) for a in args]
        return (", or " if any(" " in n for n in names) else " or ").join(names)
    if origin is list:
        item = _model_of(args[0])
        return "list of mappings (keys below)" if item else f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"mapping of {_type_name(args[0])} to {_type_name(args[1])}"
    return getattr(annotation, "__name__", str(annotation))


def _type_text(info: FieldInfo) -> str:
    text = _type_name(info.annotation)
    bounds = [
        f"{symbol} {getattr(m, attr)}"
        for m in info.metadata
        for kind, attr, symbol in _BOUNDS
        if isinstance(m, kind)
    ]
    return ", ".join([text, *bounds])


def _default_text(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    return json.dumps(info.get_default(call_default_factory=True, validated_data={}))


def _one_line(doc: str | None) -> str:
    text = " ".join((doc or "").split())
    return re.sub(r"``([^`]+)``", r"`\1`", text)  # reST literals to Markdown


def _keys(model: type[BaseModel], section: str, prefix: str) -> Iterator[ConfigKey]:
    for name, info in model.model_fields.items():
        if info.exclude:
            continue
        key = f"{prefix}.{name}"
        yield ConfigKey(
            section, key, _type_text(info), _default_text(info), _one_line(info.description)
        )
        item = _list_item_model(info.annotation)
        if item is not None:
            yield from _keys(item, section, key + "[]")


def _sections() -> Iterator[tuple[str, FieldInfo, type[BaseModel]]]:
    for name, info in DecayguardConfig.model_fields.items():
        model = _model_of(info.annotation)
        if model is not None and not info.exclude:
            yield name, info, model


def config_keys() -> list[ConfigKey]:
    """Every key of ``decayguard.yaml``, section by section, in declaration order."""
    return [key for name, _, model in _sections() for key in _keys(model, name, name)]


def undocumented_keys() -> list[str]:
    """Keys (and sections) whose field has no docstring; the reference needs one for each."""
    missing = [f"{name} (section)" for name, info, _ in _sections() if not info.description]
    return missing + [k.key for k in config_keys() if not k.description]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _thresholds_table() -> list[str]:
    from decayguard.monitoring.decision import HIGHER_IS_BETTER

    lines = [
        "### Metrics per task in `monitoring.performance_thresholds`",
        "",
        "A threshold names a metric of the model's task; a model has decayed when the metric's "
        "interval lies entirely below the threshold (above it for the metrics marked *lower is "
        "better*). A metric the task does not have is an error naming the key and the file.",
        "",
        "| `model.task` | metrics a threshold may name | thresholds when the key is unset |",
        "|---|---|---|",
    ]
    for task, metrics in THRESHOLD_METRICS.items():
        named = ", ".join(
            f"`{m}`" + ("" if HIGHER_IS_BETTER.get(m, True) else " (lower is better)")
            for m in metrics
        )
        # model_construct: the defaults themselves, untouched by DECAYGUARD_* variables
        defaults = DecayguardConfig.model_construct(
            model=ModelConfig.model_validate({"task": task})
        ).performance_thresholds
        shown = ", ".join(f"`{m}: {v}`" for m, v in defaults.items()) or "none"
        lines.append(f"| `{task}` | {named} | {shown} |")
    return lines


def config_reference() -> str:
    """The Markdown text of ``docs/configuration.md``."""
    lines = [
        "# Configuration reference",
        "",
        f"<!-- Generated from the field docstrings in src/decayguard/config.py by "
        f"`{REGENERATE_COMMAND}`; do not edit by hand. -->",
        "",
        f"A project is configured by the `{CONFIG_FILENAME}` in its folder (`decayguard init` "
        "writes a commented one). Every key is optional; a missing file gives the defaults. "
        "An environment variable overrides a key: `DECAYGUARD_` then the dotted name in capitals "
        "with `__` between the parts, for example `DECAYGUARD_MONITORING__WINDOW_HOURS=72`. "
        "A bad value is reported with its dotted key and the file it came from. `null` is "
        "written `None` in the descriptions.",
        "",
        "The defaults assume a high-traffic model (24-hour windows, at least 100 predictions "
        "per window). `decayguard check` reads the project's recent traffic and label delays "
        "and says which strategies can decide with the configured windows, and which keys to "
        "change if they cannot.",
        "",
    ]
    keys = config_keys()
    for name, info, _ in _sections():
        lines += [f"## `{name}`", "", _one_line(info.description), ""]
        lines += ["| key | type | default | meaning |", "|---|---|---|---|"]
        for k in keys:
            if k.section == name:
                lines.append(
                    f"| `{k.key}` | {_cell(k.type)} | `{_cell(k.default)}` | "
                    f"{_cell(k.description)} |"
                )
        lines.append("")
        if name == "monitoring":
            lines += [*_thresholds_table(), ""]
    return "\n".join(lines)


def main() -> None:
    """Print the reference (plain Markdown, whatever the output is)."""
    sys.stdout.write(config_reference())


if __name__ == "__main__":
    main()
