"""Where a large job runs: an embedded Dask LocalCluster, an existing Dask cluster, or
workers started on an HPC queue by dask-jobqueue.

``--scheduler`` takes ``local`` (a LocalCluster on this computer: one worker per GPU, or
worker processes with one torch thread pool each), ``local:N`` (N worker processes) or
the address of a running scheduler (``tcp://host:8786``). ``--cluster slurm|pbs|sge``
submits worker jobs to a queue (``pip install "unetgui[cluster]"``). Workers need
unetgui installed (the same version) and see the files by the same paths.

:class:`DaskExecutor` is what the jobs (:mod:`unetgui.core.blockwise_job`, many-file
prediction) run their tasks through: results come back as tasks finish, a task whose
worker died is run again elsewhere, and stopping the loop cancels what is left.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from unetgui.core.errors import InvalidInputError, UnetguiError

INSTALL_HINT = 'Running on a Dask cluster needs dask\'s distributed scheduler: pip install "unetgui[dask]"'
QUEUE_HINT = 'Starting workers on an HPC queue needs dask-jobqueue: pip install "unetgui[cluster]"'
QUEUES = ("slurm", "pbs", "sge")
CONNECT_TIMEOUT_S = 10
TASK_RETRIES = 3  # a task whose worker dies (or that fails) is tried this many more times
_ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx|ws|wss)://[^\s/]+(:\d+)?/?$|^[A-Za-z0-9.\-]+:\d+$")


@dataclass(frozen=True)
class ClusterRequest:
    """What the user asked for on the command line."""

    scheduler: str | None = None  # None or "local", "local:N", an address
    queue_system: str | None = None  # "slurm", "pbs", "sge"
    cores: int = 4  # per queued job
    memory: str = "16GB"  # per queued job
    jobs: int = 1  # queued jobs
    queue: str | None = None  # the queue's name
    walltime: str | None = None  # e.g. "02:00:00"
    device: str = "auto"  # "auto", "cpu", "cuda"


class DaskExecutor:
    """Tasks on a Dask cluster through a ``distributed.Client``."""

    def __init__(self, client, torch_threads: int = 0) -> None:
        self.client = client
        self.torch_threads = torch_threads  # what each worker's torch should use (0: its default)

    def share(self, value):
        """Send ``value`` to every worker once; tasks get it by this handle."""
        return self.client.scatter(value, broadcast=True, hash=False)

    def map(self, function: Callable, items: list[tuple]) -> Iterator:
        """``function(*item)`` for every item, yielding results as tasks finish.

        Raises the first task's error (after its retries); stopping early cancels the rest.
        """
        from distributed import KilledWorker, as_completed

        futures = [self.client.submit(_reporting, function, *item, pure=False, retries=TASK_RETRIES)
                   for item in items]
        try:
            for future in as_completed(futures):
                try:
                    result = future.result()
                except KilledWorker as error:
                    raise InvalidInputError(
                        "A task's worker died every time it ran it (out of memory is the usual cause: give the "
                        "workers more memory, or use smaller blocks with --block-size). The finished work is "
                        "kept: run the command again with --resume.") from error
                if isinstance(result, _Refused):
                    raise result.error
                yield result
        finally:
            self.client.cancel(futures)


@dataclass(frozen=True)
class _Refused:
    """A task's clear refusal (bad input), sent back as a value: retrying cannot help, and
    the worker need not log it as a crash."""

    error: UnetguiError


def _reporting(function: Callable, *args):
    try:
        return function(*args)
    except UnetguiError as error:
        return _Refused(error)


def parse_scheduler(text: str) -> tuple[str, int | None]:
    """``local`` / ``local:N`` / an address -> ("local", N or None) or ("address", None).

    Raises
    ------
    InvalidInputError
        For anything else, with the forms that work.
    """
    text = text.strip()
    if text == "local":
        return "local", None
    if text.startswith("local:"):
        count = text.split(":", 1)[1]
        if count.isdigit() and int(count) > 0:
            return "local", int(count)
        raise InvalidInputError(f"'{text}': local:N needs a number of workers, e.g. local:4.")
    if _ADDRESS.match(text):
        return "address", None
    raise InvalidInputError(f"'{text}' is not a scheduler: use local, local:N (N workers on this computer) or "
                            "a Dask scheduler's address such as tcp://host:8786.")


def gpu_count(device: str) -> int:
    """GPUs a local cluster should use: one worker each."""
    if device == "cpu":
        return 0
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def default_workers(gpus: int) -> int:
    """Worker processes of a LocalCluster: one per GPU, else half the cores (at least 1,
    at most 8): torch's own threads use the rest of each worker's share."""
    if gpus:
        return gpus
    return max(1, min(8, (os.cpu_count() or 2) // 2))


@contextlib.contextmanager
def open_cluster(request: ClusterRequest, say: Callable[[str], None]) -> Iterator[DaskExecutor]:
    """Start or connect to the cluster; yields its executor; shuts down what it started.

    Parameters
    ----------
    request : ClusterRequest
        From the command line.
    say : callable
        Where to print one-line notes (the dashboard's address, workers started).
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as error:
        raise InvalidInputError(INSTALL_HINT) from error
    _quiet_logs()
    with contextlib.ExitStack() as stack:
        threads = 0
        if request.queue_system:
            cluster = stack.enter_context(_queue_cluster(request))
            client = stack.enter_context(Client(cluster))
            threads = 1  # a job's worker runs one task per core, each with one torch thread
            say(f"Asked {request.queue_system.upper()} for {request.jobs} job(s) of {request.cores} cores and "
                f"{request.memory}; blocks start as the queue runs them.")
        else:
            kind, count = parse_scheduler(request.scheduler or "local")
            if kind == "address":
                client = stack.enter_context(_connect(request.scheduler))
                say(f"Connected to the Dask scheduler at {request.scheduler} "
                    f"({len(client.scheduler_info().get('workers', {}))} workers).")
            else:
                gpus = gpu_count(request.device)
                workers = count or default_workers(gpus)
                threads = 0 if gpus else max(1, (os.cpu_count() or 1) // workers)
                cluster = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                           dashboard_address=":0" if _has_dashboard() else None,
                                                           silence_logs=logging.CRITICAL))
                client = stack.enter_context(Client(cluster))
                say(f"Started a local Dask cluster of {workers} worker(s)"
                    f"{f' with {threads} torch thread(s) each' if threads else ', one per GPU'}.")
        if "dashboard" in client.scheduler_info().get("services", {}):
            say(f"Dashboard: {client.dashboard_link}")
        yield DaskExecutor(client, threads)


def _connect(address: str):
    from distributed import Client

    try:
        return Client(address, timeout=f"{CONNECT_TIMEOUT_S}s")
    except (OSError, TimeoutError) as error:
        raise InvalidInputError(f"Cannot reach a Dask scheduler at {address} within {CONNECT_TIMEOUT_S} s "
                                f"({' '.join(str(error).split())[:200]}). Is it running, and is the address "
                                "right?") from error


def queue_cluster(request: ClusterRequest):
    """The dask-jobqueue cluster for ``request`` (no job submitted yet): one worker
    process per job, running one task per core (each with one torch thread)."""
    try:
        import dask_jobqueue
    except ImportError as error:
        raise InvalidInputError(QUEUE_HINT) from error
    kind = {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster,
            "sge": dask_jobqueue.SGECluster}[request.queue_system]
    options = {"cores": request.cores, "processes": 1, "memory": request.memory,
               "scheduler_options": {"dashboard_address": ":0"} if _has_dashboard() else {},
               "silence_logs": logging.CRITICAL}
    if request.queue:
        options["queue"] = request.queue
    if request.walltime:
        options["walltime"] = request.walltime
    from dask.utils import parse_bytes

    try:
        parse_bytes(request.memory)  # checked first: a cluster that fails half-built is never closed
    except ValueError as error:
        raise InvalidInputError(f"Cannot set up the {request.queue_system.upper()} jobs: --memory {request.memory!r} "
                                "is not an amount of memory (e.g. 16GB).") from error
    return kind(**options)


@contextlib.contextmanager
def _queue_cluster(request: ClusterRequest):
    with queue_cluster(request) as cluster:
        cluster.scale(jobs=request.jobs)
        yield cluster


def _has_dashboard() -> bool:
    """The dashboard needs bokeh; without it the cluster runs, with no page to watch."""
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return False
    return True


def _quiet_logs() -> None:
    """distributed logs every worker start and stop; the job says what matters itself."""
    for name in ("distributed", "distributed.nanny", "distributed.scheduler", "distributed.worker"):
        logging.getLogger(name).setLevel(logging.ERROR)
