"""Process metrics: CPU, memory, faults, I/O, IPC, signals, threads and GC.

Series names and tags are those apptuit-py reports (a ``_count`` suffix on its
counters, ``_value`` on its gauges, tags ``type`` and ``worker_id``), so existing
dashboards keep working, but every value is the true cumulative or current one:
apptuit-py fed per-cycle deltas of deltas into its counters. ``worker_id`` is
read on every collection, so a forked child reports its own pid.

>>> rows = ProcessMetrics().collect()
>>> sorted({name for name, _, _ in rows})[:2]
['python.block.operations.count', 'python.context.switches.count']
"""
import gc
import os
import resource
import threading
from typing import Any, Dict, List, Optional, Tuple

import psutil

from ..timeseries import TimeSeriesName
from ..timeseries import encode_metric as _encode_metric

__all__ = ["ProcessMetrics", "RESOURCE_STRUCT_RUSAGE", "TimeSeriesName"]

Row = Tuple[str, Dict[str, str], Any]

# (series, type tag or None, rusage field, scale)
_RUSAGE = (
    ("python.cpu.time.used.seconds", "user", "ru_utime", 1),
    ("python.cpu.time.used.seconds", "system", "ru_stime", 1),
    ("python.memory.usage.bytes", "main", "ru_maxrss", 1024),
    ("python.memory.usage.bytes", "shared", "ru_ixrss", 1024),
    ("python.memory.usage.bytes", "unshared", "ru_idrss", 1024),
    ("python.memory.usage.bytes", "unshared_stack_size", "ru_isrss", 1024),
    ("python.page.faults", "major", "ru_majflt", 1),
    ("python.page.faults", "minor", "ru_minflt", 1),
    ("python.process.swaps", None, "ru_nswap", 1),
    ("python.block.operations", "input", "ru_inblock", 1),
    ("python.block.operations", "output", "ru_oublock", 1),
    ("python.ipc.messages", "sent", "ru_msgsnd", 1),
    ("python.ipc.messages", "received", "ru_msgrcv", 1),
    ("python.system.signals", None, "ru_nsignals", 1),
    ("python.context.switches", "voluntary", "ru_nvcsw", 1),
    ("python.context.switches", "involuntary", "ru_nivcsw", 1),
)
# apptuit-py's list, in its order: it zips these fields with its names, whose page
# faults come major first, so its two page-fault series are swapped; ours are not.
RESOURCE_STRUCT_RUSAGE = ["ru_utime", "ru_stime", "ru_maxrss", "ru_ixrss", "ru_idrss",
                          "ru_isrss", "ru_minflt", "ru_majflt", "ru_nswap", "ru_inblock",
                          "ru_oublock", "ru_msgsnd", "ru_msgrcv", "ru_nsignals", "ru_nvcsw",
                          "ru_nivcsw"]


class ProcessMetrics:
    """Collects (name, tags, value) rows describing the current process.

    The ``registry`` argument is accepted for apptuit-py compatibility and unused:
    process metrics are reported beside the registry, not stored in it.
    """

    def __init__(self, registry: Any = None) -> None:
        self.registry = registry
        self._pid: Optional[int] = None
        self._process: Optional[psutil.Process] = None

    @property
    def pid(self) -> int:
        """The process whose metrics are collected (apptuit-py's attribute)."""
        return os.getpid()

    @property
    def resource_metric_names(self) -> List[str]:
        """apptuit-py's list: the encoded key of each resource-usage series."""
        pid = os.getpid()
        return [_encode_metric(name, dict(self._tags(kind, ""), worker_id=pid))
                for name, kind, _, _ in _RUSAGE]

    def collect(self) -> List[Row]:
        pid = os.getpid()
        if pid != self._pid:   # first call, or we are a forked child now
            self._pid, self._process = pid, psutil.Process(pid)
            self._process.cpu_percent(None)   # starts the CPU-percent interval
        worker = str(pid)
        rows = self._rusage(worker) + self._threads(worker) + self._gc(worker)
        return rows + self._psutil(worker)

    @staticmethod
    def _tags(kind: Optional[str], worker: str) -> Dict[str, str]:
        return {"type": kind, "worker_id": worker} if kind else {"worker_id": worker}

    def _rusage(self, worker: str) -> List[Row]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return [(name + ".count", self._tags(kind, worker), getattr(usage, field) * scale)
                for name, kind, field, scale in _RUSAGE]

    def _threads(self, worker: str) -> List[Row]:
        threads = threading.enumerate()
        counts = (("demon", sum(1 for t in threads if t.daemon)),
                  ("alive", len(threads)),
                  ("dummy", sum(1 for t in threads
                                if isinstance(t, threading._DummyThread))))
        return [("python.thread.value", self._tags(kind, worker), n) for kind, n in counts]

    def _gc(self, worker: str) -> List[Row]:
        rows = [("python.gc.collection.count", self._tags("collection_%d" % gen, worker),
                 stats["collected"]) for gen, stats in enumerate(gc.get_stats())]
        return rows + [("python.gc.threshold.count", self._tags("threshold_%d" % gen, worker),
                        value) for gen, value in enumerate(gc.get_threshold())]

    def _psutil(self, worker: str) -> List[Row]:
        process = self._process
        assert process is not None   # set for this pid before any collection
        tags = {"worker_id": worker}
        with process.oneshot():
            memory = process.memory_info()
            rows = [("python_process_resident_memory_bytes", tags, memory.rss),
                    ("python_process_virtual_memory_bytes", tags, memory.vms),
                    ("python_process_cpu_percent", tags, process.cpu_percent(None))]
            if hasattr(process, "num_fds"):
                rows.append(("python_process_open_fds", tags, process.num_fds()))
        return rows
