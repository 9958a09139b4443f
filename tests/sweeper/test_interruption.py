"""Ctrl-C and SIGTERM through one handler, with real signals sent to this process: the first
asks a running Tune to stop and tells the trials, a second stops at once; handlers come back."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from sweeper.launch.interruption import Interruption


def test_before_tune_runs_a_signal_stops_at_once_and_is_remembered() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), Interruption().catching() as interruption:
        os.kill(os.getpid(), signal.SIGTERM)
    assert interruption.signal == signal.SIGTERM and interruption.exit_code == 143
    assert "SIGTERM" in interruption.cause
    assert signal.getsignal(signal.SIGTERM) == before


def test_while_tune_runs_the_first_signal_stops_it_and_tells_the_trials_a_second_stops_at_once() -> None:
    tune_stopped, told = threading.Event(), []
    with Interruption().catching() as interruption:
        interruption.on_stop = told.append
        # What Tune installs when it starts: its graceful stop, on SIGUSR1.
        signal.signal(signal.SIGUSR1, lambda signum, frame: tune_stopped.set())
        os.kill(os.getpid(), signal.SIGINT)
        interruption.trials_told()
        assert tune_stopped.is_set() and told == [interruption.cause]
        assert interruption.exit_code == 130
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)


def test_off_the_main_thread_signals_keep_their_handlers() -> None:
    before, entered = signal.getsignal(signal.SIGTERM), []

    def launch() -> None:
        with Interruption().catching() as interruption:
            entered.append(interruption)

    thread = threading.Thread(target=launch)
    thread.start()
    thread.join()
    assert len(entered) == 1 and signal.getsignal(signal.SIGTERM) == before
