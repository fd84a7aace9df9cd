"""The one exception hierarchy of decayguard.

Every error a user can provoke is a :class:`DecayguardError`; each subclass says
which part failed, and is always raised ``from`` the underlying cause::

    DecayguardError
    ├── ConfigError          a bad decayguard.yaml (names the key and the file)
    ├── StoreError           the store is unreachable or its schema is behind
    ├── ArtifactError        a model artifact is missing or fails its SHA-256 pin
    ├── InputValidationError a request does not match the model's input schema
    ├── ServiceError         a component (MLServer, Prefect, Feast, MLflow) misbehaved
    └── TrainingError        the user's training function failed (names the function)
"""

from __future__ import annotations


class DecayguardError(Exception):
    """Base class of every error decayguard raises on purpose."""


class ConfigError(DecayguardError):
    """The project configuration is invalid; the message names the key and the file."""


class StoreError(DecayguardError):
    """The decayguard store cannot be reached or is not at the expected schema."""


class ArtifactError(DecayguardError):
    """A model artifact is missing, unreadable or does not match its pinned SHA-256."""


class InputValidationError(DecayguardError):
    """A prediction request does not match the model's input schema.

    ``field`` names the offending input so that callers can answer with a 4xx.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"input {field!r}: {message}")
        self.field = field


class ServiceError(DecayguardError):
    """An external component (MLServer, Prefect, Feast, MLflow) failed or did not start."""


class TrainingError(DecayguardError):
    """The user's training function raised, hung, or returned an unusable model.

    ``function`` is the ``package.module:function`` named by ``model.train_function``.
    """

    def __init__(self, function: str, message: str) -> None:
        super().__init__(f"training function {function}: {message}")
        self.function = function
