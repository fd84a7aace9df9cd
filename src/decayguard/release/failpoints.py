"""Named crash points for the release's recovery tests.

``DECAYGUARD_FAILPOINT=after_settings`` makes the process kill itself with SIGKILL when a
release reaches that point, exactly as an out-of-memory kill or a power cut would: nothing
is flushed, no ``finally`` runs. The tests set it in a child process at each step and check
that the next run recovers. Unset (always, outside those tests) it costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "DECAYGUARD_FAILPOINT"
POINTS = (
    "after_transition",
    "after_baseline",
    "after_settings",
    "after_load",
    "after_deployment",
    "after_alias",
    "after_notify",
)
"""In the order a transition's side effects are applied (:mod:`decayguard.release.reconcile`)."""


def failpoint(name: str) -> None:
    """SIGKILL this process when ``DECAYGUARD_FAILPOINT`` names ``name``."""
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
