"""Ctrl-C and SIGTERM end a launch the same way: Tune stops its trials, the runs they cut off
end KILLED with the signal as their cause, and the summary line is printed.

Tune ends a run gracefully on SIGUSR1 (its documented stop signal; SIGINT too, unless
``TUNE_DISABLE_SIGINT_HANDLER``), and Ray's driver turns SIGTERM into ``sys.exit(15)``, which
skipped every end state. Here both signals go through one handler: the first tags the running
trials' runs ``stop_requested`` (each trial reads it within seconds, ``sweeper/record/fence.py``,
and stops: Tune would otherwise let it train on until it kills it) and asks Tune's own handler
to stop; a second (or one before Tune runs) raises ``KeyboardInterrupt`` at once.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interruption:
    """Which signal stopped the launch, if one did."""

    def __init__(self) -> None:
        self.signal: signal.Signals | None = None
        # What tells the running trials to stop (their runs' ``stop_requested`` tag), once
        # there is a sweep run; run in a thread of its own, not in the handler.
        self.on_stop: Callable[[str], None] | None = None
        self._stopping: threading.Thread | None = None

    @property
    def cause(self) -> str:
        name = self.signal.name if self.signal else "an interruption"
        return f"the launch was stopped by {name}; a relaunch continues this run"

    @property
    def exit_code(self) -> int:
        """The shell's code for a process ended by the signal: 130 for SIGINT, 143 for SIGTERM."""
        return 128 + int(self.signal or signal.SIGINT)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = self.signal is None
        self.signal = self.signal or signal.Signals(signum)
        # The trials told to stop end with an error Tune's ended loop never reads; Ray would
        # print each with its traceback ("Unhandled error") when it drops it.
        os.environ["RAY_IGNORE_UNHANDLED_ERRORS"] = "1"
        if first and self.on_stop is not None:
            self._stopping = threading.Thread(target=self.on_stop, args=(self.cause,), name="stop-trials", daemon=True)
            self._stopping.start()
        tune_stop = signal.getsignal(signal.SIGUSR1)
        if first and callable(tune_stop):  # Tune is running: its loop ends, its trials stop
            tune_stop(signum, frame)
            return
        raise KeyboardInterrupt

    def trials_told(self, timeout_s: float = 60) -> None:
        """Wait until the running trials have been told to stop."""
        if self._stopping is not None:
            self._stopping.join(timeout_s)

    def tune_ended(self) -> None:
        """Tune leaves its SIGUSR1 handler behind, bound to its ended loop: a signal from now
        on interrupts at once."""
        signal.signal(signal.SIGUSR1, signal.SIG_DFL)

    @contextmanager
    def catching(self) -> Iterator[Interruption]:
        """SIGINT and SIGTERM handled here while the block runs (Tune told to leave SIGINT
        alone); the handlers before are restored after. Off the main thread, where Python
        allows no handler (a launch run from a thread), signals keep their defaults."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
        before = {number: signal.getsignal(number) for number in (*STOP_SIGNALS, signal.SIGUSR1)}
        # Tune installs its SIGUSR1 handler when it starts: none until then.
        signal.signal(signal.SIGUSR1, signal.SIG_DFL)
        for number in STOP_SIGNALS:
            signal.signal(number, self._handle)
        try:
            yield self
        finally:
            for number, handler in before.items():
                signal.signal(number, handler)
