"""A durable queue of long jobs: one JSON file per job in a folder, shared by processes.

The studio submits work here and its workers (kinora.jobs.pool) take it; a browser that
reloads, a second tab or a second studio process reads the same files, so no running job
or finished result lives only in one page or one process. The layout:

    DIR/JOB.json        the job: kind, arguments, state, progress, result or error
    DIR/JOB/            what the job wrote (an MP4, a film folder, a storyboard)
    DIR/JOB.cancel      present when someone asked the job to stop
    DIR/.queue.lock     held (flock) while a job is submitted, claimed or finished

A job moves queued -> running -> done | failed | cancelled; a job whose worker died
without finishing it is `interrupted` (found when a pool starts or a worker is lost).
Jobs that share a `lock` key (a project's folder) run one at a time, in order, so two tabs
never change one project at once. Every write is atomic (kinora.io.atomic), so a reader
never sees half a job.

    store = JobStore("out/studio/jobs")
    job = store.submit("shot", {"prompt": "a red ball bounces"}, owner="tab-1")
    store.get(job.id).state, store.get(job.id).progress
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import fcntl
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from kinora.errors import KinoraError

STATES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
FINISHED = ("done", "failed", "cancelled", "interrupted")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class Job:
    id: str  # sorts in submission order: UTC time to the microsecond, then a random suffix
    kind: str  # a name in kinora.jobs.kinds.KINDS
    args: dict
    state: str = "queued"
    progress: float = 0.0  # 0..1 of the whole job
    message: str = ""  # what it is doing now ("shot 3/10 · sampling")
    result: dict | None = None  # the kind's result (paths relative to the job's folder)
    error: str | None = None  # one readable line (a KinoraError's), never a traceback
    owner: str | None = None  # who asked (a browser's id in the studio)
    lock: str | None = None  # jobs with the same key run one at a time
    created: str = ""
    started: str | None = None
    finished: str | None = None
    worker: int | None = None  # the pid running it
    log: list[str] = field(default_factory=list)  # the messages it went through, in order

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED


class JobStore:
    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    # --- files ----------------------------------------------------------------------------
    def path(self, job_id: str) -> Path:
        if not job_id or "/" in job_id or job_id.startswith("."):
            raise KinoraError(f"{job_id!r} is not a job id")
        return self.folder / f"{job_id}.json"

    def output(self, job_id: str) -> Path:
        """The folder the job writes into."""
        return self.folder / job_id

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """The queue's lock: submitting, claiming and finishing are one at a time across processes."""
        fd = os.open(self.folder / ".queue.lock", os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def write(self, job: Job) -> None:
        from kinora.io.atomic import write_json_atomic

        write_json_atomic(self.path(job.id), dataclasses.asdict(job))

    def get(self, job_id: str) -> Job:
        path = self.path(job_id)
        try:
            return Job(**json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise KinoraError(f"there is no job {job_id!r}") from None
        except (json.JSONDecodeError, TypeError) as e:
            raise KinoraError(f"job file {path} is damaged ({e})") from None

    def jobs(self) -> list[Job]:
        """Every job, oldest first."""
        out = []
        for p in sorted(self.folder.glob("*.json")):
            with contextlib.suppress(KinoraError, FileNotFoundError):
                out.append(self.get(p.stem))
        return out

    # --- the life of a job --------------------------------------------------------------------
    def submit(self, kind: str, args: dict, owner: str | None = None, lock: str | None = None) -> Job:
        json.dumps(args)  # refuse what cannot be stored before anything is written
        with self.locked():  # ids in submission order, even within one microsecond or across processes
            now = datetime.datetime.now(datetime.timezone.utc)
            key = now.strftime("%Y%m%dT%H%M%S%f")
            last = max((p.stem.split("-")[0] for p in self.folder.glob("*.json")), default="")
            if key <= last:
                key = last[:9] + f"{int(last[9:]) + 1:012d}"  # YYYYMMDDT + one microsecond after the last
            job = Job(id=f"{key}-{secrets.token_hex(3)}", kind=kind, args=args, owner=owner, lock=lock,
                      created=now.isoformat(timespec="milliseconds"), message="queued")
            self.write(job)
        return job

    def claim(self, worker: int) -> Job | None:
        """The oldest queued job whose lock key no running job holds, now running on `worker`."""
        with self.locked():
            jobs = self.jobs()
            busy = {j.lock for j in jobs if j.state == "running" and j.lock}
            for job in jobs:
                if job.state == "queued" and (job.lock is None or job.lock not in busy):
                    job.state, job.started, job.worker, job.message = "running", _now(), worker, "starting"
                    self.write(job)
                    return job
        return None

    def update(self, job: Job, progress: float, message: str) -> None:
        """A running job's progress (the worker's own copy, written atomically)."""
        job.progress, job.message = progress, message
        head = message.split(" · ")[0]  # "shot 3/10" of "shot 3/10 · take 1 · sampling": the log keeps the stages
        if head and (not job.log or job.log[-1] != head):
            job.log.append(head)
            del job.log[:-50]
        self.write(job)

    def finish(self, job: Job, state: str, result: dict | None = None, error: str | None = None) -> Job:
        if state not in FINISHED:
            raise ValueError(state)
        with self.locked():
            job.state, job.result, job.error, job.finished = state, result, error, _now()
            if state == "done":
                job.progress, job.message = 1.0, "done"
            else:
                job.message = state
            self.write(job)
            self.cancel_flag(job.id).unlink(missing_ok=True)
        return job

    # --- stopping -------------------------------------------------------------------------
    def cancel_flag(self, job_id: str) -> Path:
        return self.folder / f"{job_id}.cancel"

    def cancel(self, job_id: str) -> Job:
        """Stop a job: a queued one at once, a running one at its next progress report."""
        with self.locked():
            job = self.get(job_id)
            if job.state == "queued":
                job.state, job.finished, job.message = "cancelled", _now(), "cancelled"
                self.write(job)
            elif job.state == "running":
                self.cancel_flag(job_id).touch()
        return job

    def cancel_requested(self, job_id: str) -> bool:
        return self.cancel_flag(job_id).exists()

    def recover(self, alive) -> list[str]:
        """Mark running jobs whose worker is not `alive(pid)` as interrupted; their ids."""
        lost = []
        with self.locked():
            for job in self.jobs():
                if job.state == "running" and not alive(job.worker):
                    job.state, job.finished, job.error = "interrupted", _now(), \
                        "the worker running this job stopped before it finished; run it again"
                    job.message = "interrupted"
                    self.write(job)
                    self.cancel_flag(job.id).unlink(missing_ok=True)
                    lost.append(job.id)
        return lost

    def position(self, job: Job, jobs: list[Job] | None = None) -> int:
        """How many queued jobs are ahead of `job` (0 when it is next or not queued); `jobs`: the
        queue as already read, so a caller that has it does not read every file again."""
        if job.state != "queued":
            return 0
        return sum(1 for j in (self.jobs() if jobs is None else jobs) if j.state == "queued" and j.id < job.id)
