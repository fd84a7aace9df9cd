"""The monitoring package's exceptions: one small tree, always chained."""

from __future__ import annotations

__all__ = ["MonitoringError", "ProfileError", "SchemaMismatchError"]


class MonitoringError(Exception):
    """Base class of every error raised by :mod:`decayguard.monitoring`."""


class ProfileError(MonitoringError, ValueError):
    """A profile cannot be fitted, loaded or merged (bad data, bad dict, empty column)."""


class SchemaMismatchError(MonitoringError, KeyError):
    """The current data or window does not match the reference profile's features."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""
