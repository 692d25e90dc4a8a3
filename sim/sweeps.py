"""Parameter sweeps: many runs around one base scenario, on one core, every core, or a Dask cluster.

:func:`sweep` plans the runs (:mod:`sim.sweep_spec`: points, replicates, one seed
per run from the master ``SeedSequence``), then

1. builds each distinct liver once, in this process, when its first run is due
   (runs are ordered by anatomy: equal ``[liver]``, ``[anatomy]``, ``[[tumours]]``
   and ``[flow]`` sections), and shares it with the workers: the serial backend
   passes the object, the process backend dumps it once to a temporary file that
   each worker memory-maps once (:func:`joblib.load`, copy-on-write, so workers
   share its pages), the Dask backend scatters it once to every worker
   (``client.scatter(liver, broadcast=True)``); the liver is released after its
   group's last run;
2. keeps two runs per worker queued, writes each finished run at once to
   ``OUT/runs/<index>.json`` (temporary file + :func:`os.replace`, so a killed
   sweep loses at most the runs in flight), and records a failing run's error;
   ``--resume`` checks every run file against the plan and the sweep's id
   (:meth:`RunStore.records`);
3. consolidates one row per run into ``results.parquet`` and ``results.csv``
   (:func:`results_table`).

The process backend's liver dumps live in a temporary ``embosim-sweep-*``
folder that a small watchdog process deletes as soon as the sweep's process
ends, however it ends (SIGKILL included): it waits for the end of a pipe only
the sweep's process holds (:func:`_dump_folder`).

Workers run one thread each: local worker processes start with
``NUMBA_NUM_THREADS=1`` and the BLAS/OpenMP variables at 1, and every pooled run
calls ``numba.set_num_threads(1)`` (thread-local, so Dask worker threads too).

See ``docs/sweeps.md``.
"""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from . import __version__, limits
from .io import FOLDER_LOCK, TMP_SUFFIX, atomic_write, folder_lock
from .progress import progress_bar
from .results import typed_columns
from .scenario import Scenario
from .sweep_spec import (
    RunTask,
    SweepError,
    SweepPlan,
    SweepSpec,
    load_sweep_spec,
    plan_sweep,
)

__all__ = ["BACKENDS", "MAX_WORKERS_PER_CORE", "RunStore", "SweepError", "WorkerDied", "check_workers",
           "load_sweep_spec", "results_table", "sweep"]

BACKENDS = ("serial", "processes", "dask")
#: Environment of local worker processes: one thread each for Numba and the BLAS/OpenMP pools.
_ONE_THREAD = {var: "1" for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                    "MKL_NUM_THREADS")}
#: Runs queued per worker, so that none waits while this process collects results or builds a liver.
_QUEUED_PER_WORKER = 2
#: Summary entries that become columns of their own: the nested non-target counts (``nontarget_<branch>``).
_BRANCHES = "nontarget_particles_by_branch"
_LEAD = ("run_index", "point", "replicate")
_TAIL = ("run_time_s", "embosim_version", "error")


# --- one run ------------------------------------------------------------------------------


def _record(task: RunTask, *, summary: dict[str, Any] | None = None, run_time_s: float = float("nan"),
            error: str | None = None) -> dict[str, Any]:
    """What is stored of a run: identity, parameters, seed, summary (without its provenance keys), error."""
    metrics = {k: v for k, v in (summary or {}).items() if k not in ("seed", "run_time_s", "embosim_version")}
    return {"run_index": task.index, "point": task.point, "replicate": task.replicate,
            "parameters": task.parameters, "seed": task.seed, "summary": metrics if summary else None,
            "run_time_s": run_time_s, "embosim_version": __version__, "error": error}


def _run_task(task: RunTask, liver) -> dict[str, Any]:
    """Simulate one run on a shared liver; an exception becomes the record's ``error`` ("Type: message")."""
    from .simulation import run

    started = time.perf_counter()
    try:
        result = run(task.scenario, rng=task.seed, progress=False, liver=liver)
    except Exception as exc:  # noqa: BLE001 - a failing run is recorded and the sweep goes on
        return _record(task, run_time_s=time.perf_counter() - started, error=_describe(exc))
    reached = result.summary[_BRANCHES]  # every branch of the liver, 0 when none: one column set per anatomy (review 30)
    summary = {**result.summary, _BRANCHES: {name: reached.get(name, 0) for name in result.state["nontarget_branches"]}}
    return _record(task, summary=summary, run_time_s=summary["run_time_s"])


class WorkerDied(RuntimeError):
    """A worker process of the sweep ended without a result (killed by the system or a signal): not a failed run
    (a failed run is done and would not run again on ``--resume``); the finished runs are kept."""


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


@functools.lru_cache(maxsize=2)
def _load_liver(path: str):
    """A liver dumped by the process backend, memory-mapped copy-on-write (once per worker and group)."""
    import joblib

    return joblib.load(path, mmap_mode="c")


def _run_in_worker(task: RunTask, liver) -> dict[str, Any]:
    """:func:`_run_task` in a pool worker: one Numba thread; a liver given as a file path is loaded."""
    import numba

    numba.set_num_threads(1)
    return _run_task(task, _load_liver(liver) if isinstance(liver, str) else liver)


def _init_worker(parent: int) -> None:
    """Worker initializer: leave Ctrl-C to the sweep's process, keep no named semaphore, end with the parent.

    A Ctrl-C in a terminal interrupts the whole process group: the sweep's
    process reports it and stops the workers (:meth:`_ProcessPool.abort`), so a
    worker ignores SIGINT instead of printing its own traceback. tqdm's default
    lock is a named multiprocessing semaphore, which a killed worker leaves to
    the resource tracker's "leaked semaphore" warning; a worker's runs draw no
    bars, so a thread lock serves. Once the sweep's process is gone (however it
    ended) the worker exits: a killed sweep leaves no orphans.
    """
    from tqdm import tqdm

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tqdm.set_lock(threading.RLock())

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="embosim-parent-watch", daemon=True).start()


# --- pools: where runs execute ------------------------------------------------------------


class _SerialPool:
    """Runs in this process, one at a time (``submit`` returns a finished future)."""

    queued = 1

    def share(self, liver):
        return liver

    def release(self, shared) -> None:
        """Nothing to free: the liver goes with its group."""

    def submit(self, task: RunTask, liver) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.set_result(_run_task(task, liver))
        return future

    def wait_any(self, futures) -> set:
        return set(futures)

    def abort(self, futures) -> None:
        """Nothing runs in the background."""


#: The warnings filter (``PYTHONWARNINGS``) of the processes the pool starts: loky's resource tracker's own
#: warnings at its exit, "resource_tracker: There appear to be N leaked semlock objects" and the unlink that
#: follows, are not shown. The tracker still unlinks what is left; after a Ctrl-C or SIGKILL of the sweep's
#: process the semaphores' owner is gone, and a race inside loky (a semaphore freed by a daemon thread
#: during interpreter exit) had printed them after the one-line message in about 1 interrupted sweep in 200
#: even with :meth:`_ProcessPool.abort` waiting for the executor's threads.
_TRACKER_WARNINGS = "ignore:resource_tracker:UserWarning"
#: The name multiprocessing (and loky) give a queue's feeder thread.
_QUEUE_FEEDER_THREAD = "QueueFeederThread"
#: Longest wait for a closed queue's feeder thread to end, s (it ends within milliseconds of the
#: queue's close; the bound only keeps a stuck thread from holding up the exit).
_FEEDER_JOIN_TIMEOUT_S = 10.0


class _ProcessPool:
    """Local worker processes (joblib's loky executor, reused across sweeps); livers shared through files."""

    def __init__(self, workers: int, folder: str):
        from joblib.externals.loky import get_reusable_executor

        # the executor starts loky's resource tracker (if not running yet); a Ctrl-C waits until it has
        with _quiet_resource_tracker(), _signals_deferred():
            self.executor = get_reusable_executor(max_workers=workers, env=_ONE_THREAD, initializer=_init_worker,
                                                  initargs=(os.getpid(),))
        self.queued = _QUEUED_PER_WORKER * workers
        self.folder = Path(folder)
        self.dumped = 0

    def share(self, liver) -> str:
        """Dump the liver once; workers memory-map it (:func:`_load_liver`)."""
        import joblib

        self.dumped += 1
        path = self.folder / f"liver{self.dumped}.joblib"
        joblib.dump(liver, path)
        return str(path)

    def release(self, path: str) -> None:
        os.remove(path)  # workers that still map it keep their pages until they let go

    def submit(self, task: RunTask, path: str) -> concurrent.futures.Future:
        """Queue a run; a Ctrl-C meanwhile is raised once the submit is done: the first submit starts the workers
        and the executor's thread, and one interrupted half-way had left workers no shutdown could reach (and once
        a "cannot join thread before it is started" traceback; review 46)."""
        with _signals_deferred():
            return self.executor.submit(_run_in_worker, task, path)

    def wait_any(self, futures) -> set:
        return concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_COMPLETED).done

    def abort(self, futures) -> None:
        """Stop at once: cancel what is queued, kill the workers (they are restarted on next use) and wait until
        the executor's threads have ended.

        The wait matters at exit: once the executor is shut down, its call queue's
        feeder thread (a daemon) can hold the last reference to the queue's named
        semaphore, and frees it on its way out. Had this process begun to exit, the
        interpreter could stop that thread between unlinking the semaphore and
        telling the resource tracker, which then warned of a "leaked semlock" after
        the one-line Ctrl-C message (one interrupted sweep in ten).

        ``futures`` are not cancelled here: the shutdown fails the queued ones itself (loky's
        ``ShutdownExecutorError``), and a future cancelled first made loky's manager thread raise
        ``InvalidStateError`` on it and die before closing the call queue, which left the feeder thread
        running (a CI failure on 2026-12-07).
        """
        del futures  # (the queued ones fail with the shutdown, above)
        # a second Ctrl-C is raised once all is done: between the first two steps it had left the forgotten runs
        # pending for ever (a hang at exit), and before the join the feeder thread running
        with _signals_deferred():
            _forget_unqueued_work(self.executor)
            self.executor.shutdown(wait=True, kill_workers=True)
            for thread in threading.enumerate():
                if thread.name == _QUEUE_FEEDER_THREAD:
                    thread.join(timeout=_FEEDER_JOIN_TIMEOUT_S)


def _forget_unqueued_work(executor) -> None:
    """Empty the loky executor's queue of submitted work ids not yet handed to its call queue.

    A shutdown with ``kill_workers`` makes the executor's manager thread fail
    every pending future and then hand on the work ids still queued: an id
    submitted just before the shutdown (a run started as Ctrl-C arrives) is no
    longer pending, and the thread died on ``KeyError`` (its traceback printed
    before the one-line message, a CI failure on 2026-12-07) without closing the
    call queue. With the ids gone it finds none; their futures still fail with
    the shutdown. Only this (the main) thread submits, so none arrive meanwhile.
    """
    import queue

    work_ids = executor._work_ids  # (private: joblib >= 1.3's loky, where the race lives)
    while True:
        try:
            work_ids.get_nowait()
        except queue.Empty:
            return


class _DaskPool:
    """A Dask distributed client; each liver scattered once to every worker."""

    def __init__(self, client):
        self.client = client

    @property
    def queued(self) -> int:
        """Two runs per worker thread connected now (a cluster may grow or shrink during the sweep)."""
        return _QUEUED_PER_WORKER * max(1, sum(self.client.nthreads().values()))

    def share(self, liver):
        return self.client.scatter(liver, broadcast=True, hash=False)

    def release(self, future) -> None:
        """Nothing to do: the scheduler forgets the liver once no future refers to it."""

    def submit(self, task: RunTask, liver):
        return self.client.submit(_run_in_worker, task, liver, pure=False)

    def wait_any(self, futures) -> set:
        from dask.distributed import wait

        return wait(futures, return_when="FIRST_COMPLETED").done

    def abort(self, futures) -> None:
        self.client.cancel(list(futures))


@contextmanager
def _dask_client(client, workers: int | None) -> Iterator[Any]:
    """The given Client; a Client of the scheduler at an address; or a LocalCluster for this sweep."""
    from dask.distributed import Client, LocalCluster

    if isinstance(client, Client):
        yield client
    elif client is None:
        with _sigint_ignored():  # the workers inherit it: a Ctrl-C is this process's to report (no worker traceback)
            # no dashboard, and its HTTP server on a free port (8787 taken had printed a warning each sweep)
            cluster = LocalCluster(n_workers=workers or _cpu_count(), threads_per_worker=1, processes=True,
                                   dashboard_address=":0", scheduler_kwargs={"dashboard": False}, env=_ONE_THREAD,
                                   silence_logs=logging.CRITICAL)
        with cluster, Client(cluster) as local:
            yield local
    else:
        _probe_scheduler(client)
        try:
            remote = Client(client, timeout=f"{SCHEDULER_TIMEOUT_S:g}s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise SweepError(f"cannot reach the Dask scheduler at {client!r} ({exc})", path="scheduler") from None
        with remote:
            yield remote


#: Seconds to wait for a Dask scheduler to connect and answer (Dask's own connect timeout is 30 s).
SCHEDULER_TIMEOUT_S = 20.0


def _probe_scheduler(address: str) -> None:
    """SweepError unless a Dask scheduler answers at ``address`` within :data:`SCHEDULER_TIMEOUT_S`.

    Asked before the Client is made (review 52): at a port that is no Dask scheduler a Client hung for good (an
    HTTP server, which never answers Dask's handshake) or read a banner as a message length (an SSH server: "not
    enough memory ... 2.82 EiB"). The probe runs in a thread of its own, so it works under a running event loop
    (Jupyter).
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from distributed.core import rpc

    async def identity() -> dict:
        async with rpc(address, timeout=SCHEDULER_TIMEOUT_S) as scheduler:
            return await asyncio.wait_for(scheduler.identity(), SCHEDULER_TIMEOUT_S)

    with ThreadPoolExecutor(1) as thread:
        try:
            answer = thread.submit(asyncio.run, identity()).result()
        except (OSError, TimeoutError, ValueError) as exc:  # (asyncio's timeout is TimeoutError)
            raise SweepError(f"cannot reach the Dask scheduler at {address!r} "
                             f"({str(exc) or f'no answer in {SCHEDULER_TIMEOUT_S:g} s'})", path="scheduler") from None
        except Exception as exc:  # noqa: BLE001 - not Dask's protocol: what answered is no scheduler
            answer = {"error": f"{type(exc).__name__}"}
    if not isinstance(answer, dict) or answer.get("type") != "Scheduler":
        raise SweepError(f"what answers at {address!r} is not a Dask scheduler (a dashboard or another service's "
                         "port?): give the scheduler's address, tcp://HOST:8786 by default", path="scheduler")


@contextmanager
def _quiet_resource_tracker() -> Iterator[None]:
    """Within the block, processes started inherit ``PYTHONWARNINGS`` with :data:`_TRACKER_WARNINGS` added (this
    process's own warnings filters do not change); the variable is restored after."""
    previous = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, (previous, _TRACKER_WARNINGS)))
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("PYTHONWARNINGS", None)
        else:
            os.environ["PYTHONWARNINGS"] = previous


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM received within the block are handled after it, by the handlers they had (a Ctrl-C then
    raises ``KeyboardInterrupt`` once the block is done); outside the main thread nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {signum: signal.signal(signum, lambda s, _frame: received.append(s))
                for signum in (signal.SIGINT, signal.SIGTERM)
                if signal.getsignal(signum) is not None}  # (None: a handler not set from Python, left alone)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(received):
            handler = previous[signum]
            if callable(handler):
                handler(signum, None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(signum)


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored in this process while the block starts processes (which keep it ignored), then restored;
    outside the main thread (where signals cannot be set) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _require_dask() -> None:
    """Refuse the Dask backend in one line when dask.distributed is not installed (the optional ``cluster`` extra)."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise SweepError("the Dask backend needs dask.distributed, which is not installed: "
                         "pip install 'embosim[cluster]'", path="backend") from None


def _check_address(address: str) -> None:
    """Refuse a scheduler address Dask cannot parse (``notanaddress``: no port), before any work.

    Raises
    ------
    SweepError
        Naming the address (path ``scheduler``).
    """
    from distributed.comm import get_address_host_port, parse_address

    try:
        scheme, _ = parse_address(address)
        if scheme in ("tcp", "tls", "ws", "wss"):
            get_address_host_port(address)
    except (ValueError, TypeError) as exc:
        raise SweepError(f"{address!r} is not a Dask scheduler address ({exc}); give e.g. tcp://host:8786",
                         path="scheduler") from None


#: The watchdog: waits until the sweep's process closes its end of the pipe (it ends, however), then deletes.
_WATCHDOG = "import shutil, sys; sys.stdin.buffer.read(); shutil.rmtree(sys.argv[1], ignore_errors=True)"


@contextmanager
def _dump_folder() -> Iterator[str]:
    """A temporary ``embosim-sweep-*`` folder for liver dumps, deleted on any exit of this process.

    A normal exit or an exception deletes it here. For SIGKILL (and any other
    death) a watchdog process, in a session of its own so that a signal to the
    sweep's process group does not end it first, holds the read end of a pipe
    whose write end only this process has (not inheritable, so workers do not
    hold it): the kernel closes it when this process dies, the watchdog reads
    end-of-file and deletes the folder. Workers that still map a dump keep their
    pages until they exit.
    """
    folder = tempfile.mkdtemp(prefix="embosim-sweep-")
    try:
        watchdog = subprocess.Popen([sys.executable, "-I", "-S", "-c", _WATCHDOG, folder], stdin=subprocess.PIPE,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:
        watchdog = None
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if watchdog is not None:
            watchdog.stdin.close()
            try:
                watchdog.wait(timeout=10)
            except subprocess.TimeoutExpired:
                watchdog.kill()


#: Most local workers per core (model assumption: each worker holds a liver, hundreds of MB; beyond a few per
#: core they only share the cores and multiply the memory: 100,000 asked for started 326 processes, 21 GB).
MAX_WORKERS_PER_CORE = 4


def check_workers(workers, *, option: str = "workers", backend: str | None = None, client=None) -> None:
    """``workers`` is None or a whole number from 1 to ``MAX_WORKERS_PER_CORE`` per core, and a backend that starts
    workers of its own (a :class:`SweepError` naming ``option``: review 52, ``--workers 2 --backend serial`` ran one
    run at a time, silently)."""
    if workers is None:
        return
    most = MAX_WORKERS_PER_CORE * _cpu_count()
    if isinstance(workers, bool) or not isinstance(workers, int | np.integer) or not 1 <= workers <= most:
        raise SweepError(f"{workers!r}: allowed a whole number of worker processes from 1 to {most} "
                         f"({MAX_WORKERS_PER_CORE} per core; default: every core)", path=option)
    if client is not None:
        raise SweepError(f"{workers!r}: a Dask cluster's workers are its own (dask worker --nworkers N); drop it "
                         "with a scheduler", path=option)
    if backend == "serial" and workers != 1:
        raise SweepError(f"{workers!r}: the serial backend runs one run at a time in this process; drop it, or "
                         "choose the processes or dask backend", path=option)


def _cpu_count() -> int:
    from joblib import cpu_count

    return cpu_count()


@contextmanager
def _pool(backend: str | None, *, workers: int | None, client) -> Iterator[Any]:
    """The pool of ``backend`` (default: ``"dask"`` with a client or address, else ``"processes"``)."""
    backend = backend or ("dask" if client is not None else "processes")
    if backend not in BACKENDS:
        raise SweepError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}", path="backend")
    if client is not None and backend != "dask":
        raise SweepError(f"a Dask client or scheduler address needs backend 'dask', not {backend!r}",
                         path="backend")
    if backend == "serial":
        yield _SerialPool()
    elif backend == "processes":
        with _dump_folder() as folder:
            yield _ProcessPool(workers or _cpu_count(), folder)
    else:
        with _dask_client(client, workers) as dask_client:
            yield _DaskPool(dask_client)


# --- livers shared by anatomy group -------------------------------------------------------


class _BuildFailure(NamedTuple):
    """A liver that could not be built: each run of its group records ``error``."""

    error: str


class _Livers:
    """One liver per anatomy group: built here when first needed, shared through the pool, released after its last run."""

    def __init__(self, plan: SweepPlan, todo: list[int], pool):
        self.plan = plan
        self.pool = pool
        self.remaining = Counter(plan.group_of(i) for i in todo)
        self.shared: dict[int, Any] = {}

    def acquire(self, task: RunTask):
        """The shared liver of the task's group (or its :class:`_BuildFailure`)."""
        group = self.plan.group_of(task.index)
        if group not in self.shared:
            self.shared[group] = self._build(task.scenario)
        return self.shared[group]

    def _build(self, scenario: Scenario):
        from .anatomy import build_liver

        try:
            # the group's runs may place the catheter where the first one cannot: each run checks its own (review
            # 52: the first run's missing vessel was recorded as every run's failure)
            liver = build_liver(scenario, check_catheter=False)
        except Exception as exc:  # noqa: BLE001 - recorded for every run of the group
            return _BuildFailure(_describe(exc))
        return self.pool.share(liver)

    def done(self, index: int) -> None:
        """Run ``index`` finished; free its liver after the group's last run."""
        group = self.plan.group_of(index)
        self.remaining[group] -= 1
        if not self.remaining[group]:
            shared = self.shared.pop(group)
            if not isinstance(shared, _BuildFailure):
                self.pool.release(shared)


# --- output folder ------------------------------------------------------------------------


def _write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """``write(tmp)`` then rename over ``path``: readers see the old file or the whole new one."""
    with atomic_write(path) as tmp:
        write(tmp)


#: Keys of a run file ``runs/<index>.json`` (``sweep_id`` absent in sweeps written before it existed).
_RECORD_KEYS = frozenset({"run_index", "point", "replicate", "parameters", "seed", "summary", "run_time_s",
                          "embosim_version", "error", "sweep_id", "digest"})
#: Keys a run file may lack: written before they existed (``digest``: the SHA-256 of the rest, :func:`_digest`).
_OPTIONAL_KEYS = frozenset({"sweep_id", "digest"})


def _digest(record: dict[str, Any]) -> str:
    """SHA-256 of a run record without its ``digest`` (keys sorted, as JSON): a run file whose values changed after
    it was written no longer matches (a resume refuses it, review 18)."""
    content = {key: value for key, value in record.items() if key != "digest"}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode("utf-8")).hexdigest()


#: Bad run files named in a resume error (then "and N more").
_BAD_SHOWN = 5


#: The files a sweep writes beside ``runs/`` (each atomically: a killed write leaves a ``.<name>.*.tmp``).
_OWN_FILES = ("sweep.json", "results.csv", "results.parquet")


def _first_difference(theirs: Any, ours: Any, path: str = "") -> tuple[str, Any, Any]:
    """(dotted path, their value, our value) of the first leaf where two JSON values differ (depth first, in key
    order; a list's index is a path part)."""
    if isinstance(theirs, dict) and isinstance(ours, dict):
        for key in dict.fromkeys([*theirs, *ours]):
            if theirs.get(key) != ours.get(key):
                part = f'"{key}"' if "." in str(key) else str(key)  # (a dotted parameter path, quoted as in a spec)
                return _first_difference(theirs.get(key), ours.get(key), f"{path}.{part}" if path else part)
    if isinstance(theirs, list) and isinstance(ours, list) and len(theirs) == len(ours):
        for k, (a, b) in enumerate(zip(theirs, ours, strict=True)):
            if a != b:
                return _first_difference(a, b, f"{path}.{k}")
    return path, theirs, ours


class RunStore:
    """A sweep's output folder: ``sweep.json``, ``runs/<index>.json`` (one per finished run), the tables.

    ``sweep.json`` holds the sweep's ``sweep_id`` (a random UUID), which every run
    file repeats, so ``--resume`` can tell this sweep's runs from stray files.

    Parameters
    ----------
    out : Path
    header : dict
        What identifies the sweep (:meth:`SweepPlan.header`).
    resume : bool
        Accept a folder that holds this sweep already (its runs count as done).

    Raises
    ------
    SweepError
        The folder holds a sweep and ``resume`` is false, or holds another sweep,
        or its ``sweep.json`` is unreadable.
    """

    def __init__(self, out: Path, header: dict[str, Any], *, resume: bool, create: bool = True):
        self.out = Path(out)
        self._manifest: dict[str, Any] = {}
        self.runs = self.out / "runs"
        self.refuse_files(self.out)
        header = json.loads(json.dumps(header))
        manifest = self.out / "sweep.json"
        for name in _OWN_FILES:  # a write killed half-way leaves its temporary file (review 30: a lone one of
            for stale in self.out.glob(f".{name}.*{TMP_SUFFIX}"):  # sweep.json made the folder refused for good)
                stale.unlink(missing_ok=True)
        #: Run files without a sweep_id are this sweep's (it was started before run files carried one).
        self.legacy = False
        #: The sweep's run files carry a digest (sweeps started since they do): one without it is refused.
        self.digests = True
        if manifest.exists():
            if not resume:
                raise SweepError(f"{self.out} holds a sweep already: resume it (--resume; resume=True in Python) or "
                                 "choose another output folder")
            previous = self._read_manifest(manifest)
            if {key: previous.get(key) for key in header} != header:  # (where: review 52, a title edited)
                where, theirs, ours = _first_difference({key: previous.get(key) for key in header}, header)
                raise SweepError(f"{self.out} holds a different sweep (its sweep.json has {where} = {theirs!r}, this "
                                 f"spec {ours!r}): resume it with its own spec, or choose another output folder")
            self.sweep_id = previous.get("sweep_id")
            self.legacy = previous.get("legacy_runs", False) is True
            self.digests = previous.get("run_digests", False) is True
            if not isinstance(self.sweep_id, str) or not self.sweep_id:  # written before sweep ids: give it one
                self.sweep_id, self.legacy = uuid.uuid4().hex, True
                self._write_manifest(manifest, {**previous, "sweep_id": self.sweep_id, "legacy_runs": True})
        else:
            if self.out.is_dir() and any(p.name != FOLDER_LOCK for p in self.out.iterdir()):  # never write beside
                # (or over) files of another kind; the lock is this writer's (folder_lock)
                raise SweepError(f"{self.out} holds files and no sweep (no sweep.json): choose a new or empty output "
                                 "folder")
            self.sweep_id = uuid.uuid4().hex
            self._manifest = {**header, "sweep_id": self.sweep_id, "embosim_version": __version__, "run_digests": True}
            if not create:
                return
            self.create()
        self.runs.mkdir(exist_ok=True)

    @staticmethod
    def refuse_files(out: Path) -> None:
        """SweepError if a file stands where the folder ``out`` or its ``runs/`` goes (a FileExistsError traceback)."""
        for folder in (out, out / "runs"):
            if folder.exists() and not folder.is_dir():
                raise SweepError(f"{folder} is a file, not a folder: choose another output folder")

    def create(self) -> None:
        """Write ``sweep.json`` and ``runs/`` of a new sweep (deferred with ``create=False``: once its runs can start)."""
        manifest = self.out / "sweep.json"
        if not manifest.exists():
            self.out.mkdir(parents=True, exist_ok=True)
            self._write_manifest(manifest, self._manifest)
        self.runs.mkdir(exist_ok=True)

    @staticmethod
    def _write_manifest(manifest: Path, content: dict[str, Any]) -> None:
        text = json.dumps(content, indent=2)
        _write_atomic(manifest, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def _read_manifest(self, manifest: Path) -> dict[str, Any]:
        try:
            previous = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SweepError(f"cannot read it as a sweep ({exc}); choose another output folder",
                             source=str(manifest)) from None
        if not isinstance(previous, dict):
            raise SweepError("not a sweep manifest (not a JSON object); choose another output folder",
                             source=str(manifest))
        return previous

    def records(self, plan: SweepPlan | None = None) -> dict[int, dict[str, Any]]:
        """The runs already written, by run index, each checked (against ``plan`` when given).

        Temporary files of a killed write (``runs/.*.tmp``) are deleted.

        Raises
        ------
        SweepError
            Naming every bad run file (unreadable, not a run record, run index out of
            range or not its file name, another sweep's id, or not the run the plan
            has at that index): delete them and resume again to re-run those runs.
        """
        records, bad = {}, []
        for path in sorted(self.runs.iterdir()) if self.runs.is_dir() else ():
            if path.name.endswith(TMP_SUFFIX):
                path.unlink(missing_ok=True)
                continue
            if path.suffix != ".json":
                continue
            record, problem = self._check(path, plan)
            if problem:
                bad.append(f"runs/{path.name} ({problem})")
            else:
                records[record["run_index"]] = record
        if bad:
            more = f" and {len(bad) - _BAD_SHOWN} more" if len(bad) > _BAD_SHOWN else ""
            raise SweepError(f"{len(bad)} run file(s) are not runs of this sweep: {'; '.join(bad[:_BAD_SHOWN])}{more}"
                             "; delete them and resume again (their runs are re-run)", source=str(self.out))
        return records

    def _check(self, path: Path, plan: SweepPlan | None) -> tuple[dict[str, Any], str]:
        """(record, "") for a good run file, else (None, what is wrong)."""
        try:
            text = path.read_text(encoding="utf-8")
            record = json.loads(text)
        except (OSError, UnicodeDecodeError) as exc:
            return None, f"unreadable: {getattr(exc, 'strerror', None) or exc}"
        except json.JSONDecodeError:
            return None, "empty" if not text.strip() else "not JSON"
        if not isinstance(record, dict):
            return None, "not a run record"
        missing = sorted(_RECORD_KEYS - _OPTIONAL_KEYS - set(record))
        unknown = sorted(set(record) - _RECORD_KEYS)
        if missing or unknown:
            parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
                [f"unknown {', '.join(unknown)}"] if unknown else [])
            return None, f"not a run record: {'; '.join(parts)}"
        index = record["run_index"]
        if type(index) is not int:
            return None, f"run_index {index!r} is not an integer"
        n_runs = plan.n_runs if plan is not None else None
        if index < 0 or (n_runs is not None and index >= n_runs):
            return None, f"run index {index} outside this sweep's 0-{(n_runs or 1) - 1}"
        if path.name != f"{index:06d}.json":
            return None, f"holds run {index}, whose file is {index:06d}.json"
        if ("sweep_id" in record or not self.legacy) and record.get("sweep_id") != self.sweep_id:
            return None, f"sweep_id {record.get('sweep_id')!r} is not this sweep's {self.sweep_id!r}"
        if not (isinstance(record["summary"], dict) or (record["summary"] is None and isinstance(record["error"], str))):
            return None, "neither a summary nor an error"
        if plan is not None:
            task = plan.task(index)
            expected = {"point": task.point, "replicate": task.replicate, "seed": task.seed,
                        "parameters": json.loads(json.dumps(task.parameters, default=_builtin))}
            wrong = [key for key, value in expected.items() if record[key] != value]
            if wrong:
                return None, f"its {', '.join(wrong)} differ from run {index} of this sweep"
        if "digest" in record and record["digest"] != _digest(record):  # last: the reasons above say more
            return None, "its content changed after it was written (digest)"
        if "digest" not in record and self.digests:
            return None, "no digest (this sweep's run files carry one)"
        return record, ""

    def write(self, index: int, text: str) -> None:
        _write_atomic(self.runs / f"{index:06d}.json", lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def write_tables(self, table: pd.DataFrame) -> None:
        """``results.csv`` and ``results.parquet`` (each replaced whole)."""
        _write_atomic(self.out / "results.csv", lambda tmp: table.to_csv(tmp, index=False))
        _write_atomic(self.out / "results.parquet", lambda tmp: table.to_parquet(tmp, index=False))


# --- the sweep ----------------------------------------------------------------------------


def _builtin(value: Any) -> Any:
    """JSON fallback for numpy scalars."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a run record")


class _Collector:
    """Takes finished records: writes each at once, keeps it, counts failures, moves the progress bar."""

    def __init__(self, records: dict[int, dict[str, Any]], store: RunStore | None, bar):
        self.records = records
        self.store = store
        self.bar = bar
        self.failed = sum(r["error"] is not None for r in records.values())

    def add(self, record: dict[str, Any]) -> None:
        if self.store is not None:
            record = json.loads(json.dumps({**record, "sweep_id": self.store.sweep_id}, default=_builtin))
            record["digest"] = _digest(record)
        text = json.dumps(record, default=_builtin)  # the same JSON types whether stored or not
        if self.store is not None:
            self.store.write(record["run_index"], text)
        self.records[record["run_index"]] = json.loads(text)
        self.failed += record["error"] is not None
        self.bar.set_postfix(failed=self.failed, refresh=False)
        self.bar.update()


def _execute(plan: SweepPlan, todo: list[int], pool, collect: _Collector) -> None:
    """Run ``todo`` (ordered by anatomy) through ``pool``, at most ``pool.queued`` at a time."""
    livers = _Livers(plan, todo, pool)
    pending: dict[Any, int] = {}

    def finish(futures) -> None:
        for future in futures:
            index = pending.pop(future)
            try:
                record = future.result()
            except concurrent.futures.BrokenExecutor as exc:  # a worker was killed (out of memory, a signal)
                codes = re.search(r"exit codes of the workers are (\{[^}]*\})", str(exc))
                raise WorkerDied("a worker process ended without finishing its run (killed by the system or a "
                                 f"signal; {type(exc).__name__}{', exit codes ' + codes[1] if codes else ''})") from None
            collect.add(record)
            livers.done(index)

    try:
        for index in todo:
            while len(pending) >= pool.queued:
                finish(pool.wait_any(list(pending)))
            task = plan.task(index)
            liver = livers.acquire(task)
            if isinstance(liver, _BuildFailure):
                collect.add(_record(task, error=liver.error))
                livers.done(index)
            else:
                pending[pool.submit(task, liver)] = index
        while pending:
            finish(pool.wait_any(list(pending)))
    except BaseException:
        pool.abort(list(pending))
        raise


def _plan(spec: str | Path | SweepSpec | SweepPlan, **options) -> SweepPlan:
    """Plan a spec object (base relative to the working folder) or file (base relative to the file)."""
    if isinstance(spec, SweepPlan):  # planned (and checked) by the caller
        return spec
    if isinstance(spec, SweepSpec):
        return plan_sweep(spec, **options)
    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError(f"spec: a sweep file's path (str or Path), a SweepSpec or a SweepPlan, not {type(spec).__name__}")
    return plan_sweep(load_sweep_spec(spec), relative_to=Path(spec).parent, source=str(spec), **options)


def sweep(spec: str | Path | SweepSpec | SweepPlan, *, backend: str | None = None, workers: int | None = None,
          client=None, out: str | Path | None = None, resume: bool = False, progress: bool = False,
          allow_large: bool | None = None) -> pd.DataFrame:
    """Run a parameter sweep and return one row per run.

    Parameters
    ----------
    spec : str, Path, SweepSpec or SweepPlan
        A sweep TOML file (``docs/sweeps.md``; its ``base`` is relative to the file),
        a :class:`~sim.sweep_spec.SweepSpec`, or a plan from
        :func:`~sim.sweep_spec.plan_sweep` (checked there; ``allow_large`` then
        applies to the liver builds only).
    backend : {"serial", "processes", "dask"}, optional
        Default ``"dask"`` when ``client`` is given, else ``"processes"``.
    workers : int, optional
        Worker processes of the ``"processes"`` backend, or of the LocalCluster the
        ``"dask"`` backend starts when no ``client`` is given (default: every core);
        not used otherwise.
    client : dask.distributed.Client or str, optional
        A client, or a scheduler address (``"tcp://host:8786"``) to connect to.
    out : str or Path, optional
        Output folder: ``sweep.json``, ``runs/<index>.json``, ``results.parquet``,
        ``results.csv``. Without it nothing is written.
    resume : bool
        Finish the sweep in ``out``: run only the runs that have no file yet.
    progress : bool
        Show a progress bar (runs done, failures, time left).
    allow_large : bool, optional
        Plan and build above the size limits (:mod:`sim.limits`): the sweep's points
        and runs, each group's liver. Checked before anything is written.

    Returns
    -------
    pandas.DataFrame
        One row per run, by run index (columns: :func:`results_table`). The same,
        apart from ``run_time_s``, whatever the backend and number of workers.

    Raises
    ------
    SweepError
        Invalid spec (naming the parameter, before any run), ``out`` holding another
        sweep (or this one without ``resume``), bad backend options.
    SizeError
        The sweep or one of its livers is above the size limits (before anything is written).
    ScenarioError
        The base scenario cannot be loaded.

    Examples
    --------
    >>> import sim
    >>> table = sim.sweep("scenarios/sweeps/size_arterialisation_catheter.toml", out="sweep-out")  # doctest: +SKIP
    >>> table.groupby("agent.size_bin")["tumour_devascularised_fraction"].mean()                 # doctest: +SKIP
    """
    if backend == "dask" or client is not None:
        _require_dask()
    if isinstance(client, str):
        _check_address(client)
    check_workers(workers, backend=backend, client=client)
    plan = _plan(spec, allow_large=allow_large, progress=progress)
    if resume and out is None:
        raise SweepError("resume needs the output folder (out) of the sweep to finish")
    # one sweep at a time in a folder, from its checks to its tables (review 52: two started together both passed the
    # empty folder's checks and mixed their run files)
    if out is not None:
        RunStore.refuse_files(Path(out))  # (before the lock makes the folder)
    with folder_lock(out) if out is not None else nullcontext():
        store = RunStore(Path(out), plan.header(), resume=resume, create=False) if out is not None else None
        records = store.records(plan) if store is not None else {}
        todo = [i for i in plan.order() if i not in records]
        large = limits.allow_large(allow_large) if allow_large is not None else nullcontext()  # livers: built here
        if client is None:  # local workers: no idle one holding a liver
            workers = min(workers or _cpu_count(), max(len(todo), 1))
        with _pool(backend, workers=workers, client=client) as pool, large, \
                progress_bar(total=plan.n_runs, initial=len(records), unit="run", desc="sweep",
                             disable=not progress) as bar:
            if store is not None:
                store.create()  # only now: a scheduler that cannot be reached leaves no sweep.json behind
            _execute(plan, todo, pool, _Collector(records, store, bar))
        table = results_table([records[i] for i in sorted(records)], parameters=list(plan.spec.parameters))
        if store is not None:
            store.write_tables(table)
    return table


def _row(record: dict[str, Any], branches: list[str]) -> dict[str, Any]:
    """A table row: lists joined with ``;``, non-target counts spread to ``nontarget_<branch>`` (0 if none)."""
    row = {key: record[key] for key in (*_LEAD, "seed", *_TAIL)}
    row.update(record["parameters"])
    for key, value in (record["summary"] or {}).items():
        if key == _BRANCHES:
            row.update({f"nontarget_{branch}": value.get(branch, 0) for branch in branches})
        else:
            row[key] = ";".join(map(str, value)) if isinstance(value, list) else value
    return row


def results_table(records: list[dict[str, Any]], *, parameters: list[str]) -> pd.DataFrame:
    """One row per run record: identity, parameters, seed, metrics, provenance.

    Columns: ``run_index``, ``point``, ``replicate``, one per parameter (named by
    its scenario path), ``seed`` (the run's procedure seed: ``embosim run --seed``
    repeats it), every summary metric (``docs/outputs.md``; lists joined with
    ``;``, ``nontarget_particles_by_branch`` as ``nontarget_<branch>`` counts),
    ``run_time_s`` (the simulation's own time, s), ``embosim_version`` and
    ``error`` ("Type: message", empty when the run succeeded; its metrics are then
    missing).
    """
    branches = sorted({b for r in records if r["summary"] for b in r["summary"][_BRANCHES]})
    rows = [_row(r, branches) for r in records]
    lead = [*_LEAD, *parameters, "seed"]
    metrics = dict.fromkeys(key for row in rows for key in row if key not in lead and key not in _TAIL)
    return typed_columns(pd.DataFrame(rows, columns=[*lead, *metrics, *_TAIL]), rows)
