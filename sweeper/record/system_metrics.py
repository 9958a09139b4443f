"""A trial's system metrics: CPU, memory, disk and network, and GPU use where NVML (or ROCm)
answers, sampled by MLflow's own monitors and sent through the trial's ``TrackedRun``.

MLflow's ``SystemMetricsMonitor`` samples with the same monitors, but after every sample it
reads the run back (``get_run``) and writes through a second client whose policy lets logging
take up to a tenth of the elapsed time (``BatchMetricsLogger``); with a SQLite store in the
trial's own process that cost lands on the training steps (measured 5–9 % per step by
benchmarks/tracking_overhead.py). Here a sample is a few ``psutil``/NVML reads, queued like any
other metric point, so it reaches MLflow in the same coalesced requests as the loss curve.
The keys are MLflow's (``system/cpu_utilization_percentage``, …): the UI's System metrics
section shows them.
"""

from __future__ import annotations

import logging
import threading

from mlflow.system_metrics.metrics.base_metrics_monitor import BaseMetricsMonitor
from mlflow.system_metrics.metrics.cpu_monitor import CPUMonitor
from mlflow.system_metrics.metrics.disk_monitor import DiskMonitor
from mlflow.system_metrics.metrics.gpu_monitor import GPUMonitor
from mlflow.system_metrics.metrics.network_monitor import NetworkMonitor
from mlflow.system_metrics.metrics.rocm_monitor import ROCMMonitor

from sweeper.record.tracking import TrackedRun

log = logging.getLogger(__name__)

SYSTEM_PREFIX = "system/"
# Sampled this often (seconds): a short trial still gets a few points.
SYSTEM_METRICS_INTERVAL_S = 2.0


def gpu_monitors() -> list[BaseMetricsMonitor]:
    """NVIDIA's monitor where NVML answers, else AMD's where ROCm does, else none."""
    for monitor in (GPUMonitor, ROCMMonitor):
        try:
            return [monitor()]
        except Exception as error:  # noqa: BLE001 - no such GPU, no such library: nothing to watch
            log.debug("no %s: %s", monitor.__name__, error)
    return []


class SystemSampler:
    """Samples this node every ``interval_s`` seconds into ``run`` until ``finish()``, which
    takes a last sample (a trial shorter than the interval still gets one). In a reopened run
    the steps continue after those it holds."""

    def __init__(self, run: TrackedRun, interval_s: float = SYSTEM_METRICS_INTERVAL_S) -> None:
        self._run = run
        self._interval_s = interval_s
        self._monitors: list[BaseMetricsMonitor] = [CPUMonitor(), DiskMonitor(), NetworkMonitor(), *gpu_monitors()]
        self._step = run.next_step(SYSTEM_PREFIX)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, name="system-metrics", daemon=True)

    def start(self) -> SystemSampler:
        self._thread.start()
        return self

    def finish(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._thread.join()
        self._sample()

    def _sample_until_stopped(self) -> None:
        while not self._stopped.wait(self._interval_s):
            self._sample()

    def _sample(self) -> None:
        points: dict[str, float] = {}
        for monitor in self._monitors:
            monitor.collect_metrics()
            points.update(monitor.aggregate_metrics())
            monitor.clear_metrics()
        self._run.log_metrics({SYSTEM_PREFIX + key: value for key, value in points.items()}, step=self._step)
        self._step += 1
