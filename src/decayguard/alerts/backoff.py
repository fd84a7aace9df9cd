"""When an open incident is told again: reminders that back off.

>>> backoff = ReminderBackoff.from_minutes([60, 240, 1440])
>>> [backoff.gap(sent) for sent in range(5)] == [timedelta(hours=h) for h in (1, 4, 24, 24, 24)]
True
>>> from datetime import UTC
>>> opened = datetime(2026, 10, 19, tzinfo=UTC)
>>> [f"{t:%d %H:%M}" for t in backoff.schedule(opened, 5)]
['19 01:00', '19 05:00', '20 05:00', '21 05:00', '22 05:00']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["ReminderBackoff", "human_duration"]


@dataclass(frozen=True)
class ReminderBackoff:
    """The gaps between the notifications of one open incident.

    ``gaps[k]`` (0 or more) is the least time from the last notification to the next one after ``k``
    reminders were sent (``gaps[0]``: from the alert to the first reminder); past the end
    of ``gaps``, every last gap.
    """

    gaps: tuple[timedelta, ...]

    def __post_init__(self) -> None:
        if not self.gaps or any(gap < timedelta(0) for gap in self.gaps):
            raise ValueError(f"a reminder backoff needs gaps of 0 or more, got {self.gaps}")

    @classmethod
    def from_minutes(cls, minutes: Iterable[float]) -> ReminderBackoff:
        return cls(tuple(timedelta(minutes=m) for m in minutes))

    @classmethod
    def fixed(cls, gap: timedelta) -> ReminderBackoff:
        """The same gap every time (zero: a reminder at every run)."""
        return cls((gap,))

    def gap(self, sent: int) -> timedelta:
        """The gap after ``sent`` reminders."""
        return self.gaps[min(max(sent, 0), len(self.gaps) - 1)]

    def next_at(self, last_notified_at: datetime | None, sent: int) -> datetime | None:
        """When the next reminder is due; ``None``: at once (nothing was delivered yet)."""
        return None if last_notified_at is None else last_notified_at + self.gap(sent)

    def schedule(self, opened_at: datetime, count: int) -> list[datetime]:
        """The first ``count`` reminder times of an incident opened at ``opened_at`` and
        checked continuously (a monitor that runs less often sends each one at its first
        run past the time, and the gaps count from there)."""
        times, last = [], opened_at
        for sent in range(count):
            last = last + self.gap(sent)
            times.append(last)
        return times

    def describe(self) -> str:
        """``1 h, 4 h, 1 day, then every 1 day``."""
        words = [human_duration(gap) for gap in self.gaps]
        if len(words) == 1:
            return f"every {words[0]}"
        return f"{', '.join(words)}, then every {words[-1]}"


def human_duration(span: timedelta) -> str:
    """``1 day``, ``2 days 5 h``, ``4 h``, ``90 min`` is ``1 h 30 min``; at most two units."""
    minutes = round(span.total_seconds() / 60)
    if minutes <= 0:
        return "0 min"
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [
        f"{days} day{'s' if days > 1 else ''}" if days else "",
        f"{hours} h" if hours else "",
        f"{mins} min" if mins else "",
    ]
    return " ".join([p for p in parts if p][:2])
