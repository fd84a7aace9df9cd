"""What a true label of one model may be, for label deliveries and reviews alike.

A regression label is a finite number; a classifier's label is one of its classes. The
check itself is the task's (:meth:`decayguard.monitoring.tasks.ModelTask.check_label`,
which also normalises the text: ``"1.0"`` and ``1`` are the class ``"1"``); this module
decides which classes are known and how a reviewer gives an answer. The known classes
are, in order of precedence:

1. the configured ``feedback.label_values``;
2. the ``classes`` of the serving champion's exported manifest (the store's deployments
   table names its artifact folder);
3. ``0`` and ``1`` for a binary model (for a multiclass model with neither, any
   non-empty class name is accepted).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import unquote, urlparse

from sqlalchemy.engine import Engine

from decayguard.config import DecayguardConfig
from decayguard.errors import ArtifactError, InputValidationError
from decayguard.registry.manifest import MANIFEST_FILENAME

__all__ = [
    "ANSWERS",
    "Answer",
    "LabelCheck",
    "LabelRules",
    "champion_classes",
    "default_label_values",
]

log = logging.getLogger(__name__)

Answer = Literal["choice", "value"]

ANSWERS: dict[str, Answer] = {"binary": "choice", "multiclass": "choice", "regression": "value"}
"""How a reviewer answers, per task: ``choice`` among the classes, or a typed ``value``."""


class LabelCheck(Protocol):
    """The one verb labels need from a model task (``ModelTask`` has it)."""

    def check_label(self, value: Any) -> str: ...


def default_label_values(task: str, positive_class: str, configured: list[str]) -> list[str]:
    """The classes when no champion says: the configured ones, else ``0``/``1`` (binary).

    >>> default_label_values("binary", "1", [])
    ['0', '1']
    >>> default_label_values("multiclass", "1", []), default_label_values("regression", "1", [])
    ([], [])
    """
    if configured:
        return list(configured)
    fallback = _FALLBACK_CLASSES.get(task)
    return fallback(positive_class) if fallback else []


def _binary_classes(positive_class: str) -> list[str]:
    negative = "0" if positive_class != "0" else "1"
    return sorted({negative, positive_class})


_FALLBACK_CLASSES = {"binary": _binary_classes}


def _folder(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path) if parsed.scheme else uri)
    return None


def champion_classes(engine: Engine, model_name: str) -> list[str]:
    """The classes in the manifest of the champion serving ``model_name`` (empty: none
    deployed, a regressor, or an artifact this process cannot read, which is logged)."""
    from decayguard.store.deployments import active_artifact_uri

    uri = active_artifact_uri(engine, model_name)
    if uri is None:
        return []
    folder = _folder(uri)
    if folder is None:
        log.warning("champion of %s is at %s, not a local folder: classes unknown", model_name, uri)
        return []
    try:
        stat = (folder / MANIFEST_FILENAME).stat()
        return list(_manifest_classes(str(folder), stat.st_mtime_ns, stat.st_size))
    except (OSError, ArtifactError) as exc:
        log.warning("cannot read the champion's classes of %s: %s", model_name, exc)
        return []


@lru_cache(maxsize=32)
def _manifest_classes(folder: str, mtime_ns: int, size: int) -> tuple[str, ...]:
    """A manifest's classes, read once per version of the file (it also holds thousands of
    reference scores: parsing it costs milliseconds, and every review request asks)."""
    from decayguard.registry.manifest import ArtifactManifest

    return tuple(ArtifactManifest.read(Path(folder)).classes)


@dataclass(frozen=True, slots=True)
class LabelRules:
    """The label check of one model, the classes a reviewer chooses from (empty: a typed
    answer), and how the review page asks (``answer``).

        >>> class Parity:  # any object with check_label (a ModelTask in practice)
        ...     def check_label(self, value):
        ...         if value not in ("even", "odd"):
        ...             raise InputValidationError("label", "not a parity")
        ...         return value
        >>> rules = LabelRules(Parity(), ("even", "odd"), "choice")
        >>> rules.check(" odd ", "labels[0].value")
        'odd'
        >>> rules.check("7", "labels[1].value")
        Traceback (most recent call last):
        ...
        decayguard.errors.InputValidationError: input 'labels[1].value': '7': not a parity
    """

    task: LabelCheck
    values: tuple[str, ...]
    answer: Answer

    @classmethod
    def for_task(
        cls, task: str, *, classes: Sequence[str] = (), positive_class: str = "1"
    ) -> LabelRules:
        """The rules of a ``task`` (a ``model.task`` name) with these known classes."""
        from decayguard.monitoring.tasks import task_for

        answer = ANSWERS[task]
        known = tuple(str(c) for c in classes) if answer == "choice" else ()
        return cls(task_for(task, classes=known, positive_class=positive_class), known, answer)

    @classmethod
    def for_project(cls, config: DecayguardConfig, engine: Engine) -> LabelRules:
        """The rules in force for the project's model (see the module's precedence)."""
        model = config.model
        classes = list(config.feedback.label_values) or champion_classes(engine, model.name)
        if not classes:
            classes = default_label_values(model.task, model.positive_class, [])
        return cls.for_task(model.task, classes=classes, positive_class=model.positive_class)

    def check(self, value: Any, field: str) -> str:
        """``value`` as the normalised label text; else an error naming ``field`` and the
        value (and, for classifiers, the known classes)."""
        text = value.strip() if isinstance(value, str) else value
        try:
            return self.task.check_label(text)
        except InputValidationError as exc:
            message = str(exc).removeprefix(f"input {exc.field!r}: ")
            if repr(text) not in message and str(text) not in message:
                message = f"{text!r}: {message}"
            raise InputValidationError(field, message) from exc
