"""The monitoring package's branch of decayguard's one exception tree::

DecayguardError
└── MonitoringError
    ├── NotFittedError       an estimator, profile or test used before ``fit``
    ├── ProfileError         a profile cannot be fitted, loaded or merged (also a ValueError)
    └── SchemaMismatchError  data or window lacks a profiled feature (also a KeyError)
"""

from __future__ import annotations

from decayguard.errors import DecayguardError

__all__ = ["MonitoringError", "NotFittedError", "ProfileError", "SchemaMismatchError"]


class MonitoringError(DecayguardError):
    """Base class of every error raised by :mod:`decayguard.monitoring`."""


class NotFittedError(MonitoringError):
    """A fitted object (estimator, profile, multivariate test) was used before ``fit``."""


class ProfileError(MonitoringError, ValueError):
    """A profile cannot be fitted, loaded or merged (bad data, bad dict, empty column)."""


class SchemaMismatchError(MonitoringError, KeyError):
    """The current data or window does not match the reference profile's features."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""
