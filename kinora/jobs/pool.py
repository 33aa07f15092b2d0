"""Worker processes that run the jobs of a JobStore: at most one generation per core.

Each worker is its own process (spawned, so it shares nothing with a web server's threads):
it loads the model once when it starts, so a job's first sampling step comes within a
second of its submission, then takes the oldest runnable job (kinora.jobs.store), runs its
kind (kinora.jobs.kinds) with progress written to the job file a few times a second, and
stops it at the next progress report when someone cancels it. A watcher thread in the
owning process restarts a worker that died and marks its job interrupted, and kills a
worker whose cancelled job has not stopped after `CANCEL_GRACE_S`.

    pool = WorkerPool(JobStore("out/studio/jobs"), workers=2)
    pool.start()
    ...
    pool.stop()
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import threading
import time
import traceback
from pathlib import Path

from kinora.errors import KinoraError
from kinora.jobs.store import Job, JobStore

POLL_S = 0.05  # how often an idle worker looks for a job
WRITE_EVERY_S = 0.2  # progress is written at most this often (and always at the end)
CANCEL_GRACE_S = 10.0  # a cancelled job that has not stopped by then has its worker killed
WATCH_S = 0.25
WARM_PROMPT = "a red ball"
WORKER_NICE = 5
MAX_FAILED_STARTS = 3  # workers that die before they are ready: then the pool stops starting them


def run_job(store: JobStore, job: Job) -> Job:
    """Run one claimed job in this process to its end: done, failed (with one readable line) or cancelled."""
    from kinora.jobs.kinds import KINDS
    from kinora.progress import Cancelled, reporting

    folder = store.output(job.id)
    folder.mkdir(parents=True, exist_ok=True)
    last = [0.0, 0.0]  # when progress was last written, and what it was

    def reporter(fraction: float, message: str) -> None:
        if store.cancel_requested(job.id):
            raise Cancelled("cancelled")
        now = time.monotonic()
        if now - last[0] >= WRITE_EVERY_S or (last[1] == 0.0 and fraction > 0.0):  # the first step shows at once
            last[0], last[1] = now, fraction
            store.update(job, fraction, message)

    try:
        if store.cancel_requested(job.id):
            raise Cancelled("cancelled")
        with reporting(reporter):
            result = KINDS[job.kind][1](job.args, folder)
        return store.finish(job, "done", result)
    except Cancelled:
        return store.finish(job, "cancelled", error="cancelled")
    except KinoraError as e:
        return store.finish(job, "failed", error=str(e))
    except Exception as e:  # a bug, not the user's input: the trace goes to a file, one line to the job
        log = folder / "error.log"
        log.write_text(traceback.format_exc(), encoding="utf-8")
        return store.finish(job, "failed", error=f"internal error ({type(e).__name__}: {e}); the details are in "
                                                 f"{log}")


def worker_main(folder: str, model: str | None, threads: int, stop, ready, backend: str = "kinora") -> None:
    """A worker process: load the model, then run jobs until `stop` is set."""
    import torch

    with contextlib.suppress(OSError):
        os.nice(WORKER_NICE)  # a page being served stays responsive while workers load and generate
    torch.set_num_threads(threads)
    store = JobStore(folder)
    try:
        from kinora.pipelines.base import load_generator

        # Warm: load the model and make one frame, so the text encoder and the kernels are
        # ready too and a job's first step comes within a second of its click.
        load_generator(backend, model)(WARM_PROMPT, num_frames=1, num_inference_steps=1,
                                       generator=torch.Generator().manual_seed(0))
    except KinoraError:
        pass  # no weights here: the first job that needs them says so in its own error
    ready.set()
    while not stop.is_set():
        job = store.claim(os.getpid())
        if job is None:
            stop.wait(POLL_S)
            continue
        run_job(store, job)


class WorkerPool:
    def __init__(self, store: JobStore, workers: int | None = None, model: str | None = None, threads: int = 1,
                 backend: str = "kinora"):
        cores = os.cpu_count() or 1
        self.store = store
        self.model = model
        self.backend = backend  # the generator the workers load (kinora.pipelines.base.load_generator)
        self.threads = max(1, threads)
        # One generation per core: a worker uses `threads` cores.
        self.size = max(1, min(workers or cores, max(1, cores // self.threads)))
        self.ctx = mp.get_context("spawn")
        self.stop_event = self.ctx.Event()
        self.procs: list = []
        self.readies: list = []
        self.restarts = 0
        self.failed_starts = 0  # workers that died before they were ready
        self._watcher: threading.Thread | None = None
        self._stopping = False

    def _spawn(self):
        ready = self.ctx.Event()
        p = self.ctx.Process(target=worker_main, args=(str(self.store.folder), self.model, self.threads,
                                                       self.stop_event, ready, self.backend), daemon=True,
                             name="kinora-worker")
        p.start()
        return p, ready

    def start(self) -> "WorkerPool":
        from kinora.io.atomic import _alive

        self.store.recover(lambda pid: pid is not None and _alive(pid))  # jobs of a studio that was killed
        for _ in range(self.size):
            p, ready = self._spawn()
            self.procs.append(p)
            self.readies.append(ready)
        self._watcher = threading.Thread(target=self._watch, daemon=True, name="kinora-pool-watch")
        self._watcher.start()
        return self

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Block until every worker has loaded its model (or `timeout`)."""
        end = time.monotonic() + timeout
        return all(r.wait(max(0.0, end - time.monotonic())) for r in self.readies)  # False once broken

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p is not None and p.pid is not None]

    @property
    def broken(self) -> bool:
        """Every worker failed to start (a broken install): nothing will run."""
        return all(p is None for p in self.procs)

    def _watch(self) -> None:
        while not self._stopping:
            time.sleep(WATCH_S)
            if self._stopping:
                break
            self._kill_stuck_cancels()
            for i, p in enumerate(self.procs):
                if p is None or p.is_alive() or self._stopping:
                    continue
                dead = p.pid
                self.store.recover(lambda pid, dead=dead: pid != dead)
                if not self.readies[i].is_set():  # it died starting up: a broken setup, not a job
                    self.failed_starts += 1
                if self.failed_starts >= MAX_FAILED_STARTS:
                    self.procs[i] = None  # stop trying: `broken` tells the caller, and queued jobs wait
                    continue
                self.procs[i], self.readies[i] = self._spawn()
                self.restarts += 1

    def _kill_stuck_cancels(self) -> None:
        now = time.time()
        mine = {p.pid: p for p in self.procs if p is not None}
        for flag in self.store.folder.glob("*.cancel"):  # only jobs someone asked to stop, not the whole queue
            try:
                asked = flag.stat().st_mtime
                job = self.store.get(flag.stem)
            except (FileNotFoundError, KinoraError):
                continue
            if job.state != "running" or job.worker not in mine:
                continue
            if now - asked > CANCEL_GRACE_S:
                p = mine[job.worker]
                p.kill()
                p.join(5)
                self.store.finish(job, "cancelled", error="cancelled (the worker was stopped)")

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        self.stop_event.set()
        for p in (p for p in self.procs if p is not None):
            p.join(timeout)
            if p.is_alive():
                p.kill()
                p.join(5)
        if self._watcher is not None:
            self._watcher.join(timeout)

    def __enter__(self) -> "WorkerPool":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def peak_rss_mb(pids: list[int]) -> dict[int, float]:
    """Each process's peak resident memory (VmHWM, Linux) in MB; what the soak bench reports."""
    out = {}
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    out[pid] = int(line.split()[1]) / 1024
        except OSError:
            continue
    return out
