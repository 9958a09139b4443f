"""One writer per run: the newest attempt of a trial, until the launch asks it to stop.

A trial whose node was lost is retried in the same run while the old attempt's process may
live on, orphaned, and keep logging. Each attempt therefore claims the run by writing its
number in the run's ``attempt`` tag, and reads the tag back before each write: an attempt
that finds a newer number (or the launch's ``stop_requested`` tag, set on Ctrl-C or SIGTERM)
writes nothing more and stops training. MLflow has no conditional write, so a check and the
write after it are two requests; the window between them is one request long.
"""

from __future__ import annotations

import os
import threading
import time

from mlflow.tracking import MlflowClient

from sweeper.record.tags import RunTags
from sweeper.record.tracking import RunTaken, retrying

# The tags the fence reads (fields of ``RunTags``).
ATTEMPT, STOP_REQUESTED = "attempt", "stop_requested"
# Where set, a folder each process appends its claims and delivered writes to, one line each
# ("time pid attempt run_id what"): how benchmarks/lost_node.py counts writes an old attempt
# made after a newer one claimed its run. Unset (the default), nothing is written.
WRITE_AUDIT = "XSWEEP_WRITE_AUDIT"


def audit(attempt: int, run_id: str, what: str) -> None:
    folder = os.environ.get(WRITE_AUDIT)
    if folder:
        with open(os.path.join(folder, f"{os.getpid()}.log"), "a", encoding="utf-8") as log:
            log.write(f"{time.time():.6f} {os.getpid()} {attempt} {run_id} {what}\n")


# How often training asks whether its run is still its own (a request each time).
CHECK_EVERY_S = 2.0


class RunFence:
    """The claim of attempt ``attempt`` on ``run_id``."""

    def __init__(self, client: MlflowClient, run_id: str, attempt: int) -> None:
        self.client, self.run_id, self.attempt = client, run_id, attempt
        self.lost: str | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    @classmethod
    def claim(cls, client: MlflowClient, run_id: str) -> RunFence:
        """The next attempt on ``run_id``: its number written, so that earlier ones stop (and
        an earlier launch's stop request lifted: this launch runs the trial again)."""
        recorded = RunTags.parse(retrying(lambda: client.get_run(run_id)).data.tags)
        attempt = (recorded.attempt or 0) + 1
        retrying(lambda: client.set_tag(run_id, ATTEMPT, str(attempt)))
        audit(attempt, run_id, "claim")
        if recorded.stop_requested:
            retrying(lambda: client.delete_tag(run_id, STOP_REQUESTED))
        return cls(client, run_id, attempt)

    def holds(self) -> bool:
        """Whether this attempt still owns the run, read from the store now."""
        with self._lock:
            if self.lost is None:
                self.lost = self._why_lost(retrying(lambda: self.client.get_run(self.run_id)).data.tags)
            self._checked_at = time.monotonic()
            return self.lost is None

    def _why_lost(self, tags: dict) -> str | None:
        parsed = RunTags.parse(tags)
        if parsed.stop_requested:
            return parsed.stop_requested
        if parsed.attempt is not None and parsed.attempt != self.attempt:
            return f"attempt {parsed.attempt} of this trial took over its run from attempt {self.attempt}"
        return None

    def audit(self, what: str) -> None:
        """A write about to go out, in the audit trail where one is kept."""
        audit(self.attempt, self.run_id, what)

    def check(self) -> None:
        """Raise ``RunTaken`` where the run is no longer this attempt's (read at most every
        ``CHECK_EVERY_S``; training calls it each step)."""
        if self.lost is None and time.monotonic() - self._checked_at >= CHECK_EVERY_S:
            self.holds()
        if self.lost is not None:
            raise RunTaken(self.lost)
