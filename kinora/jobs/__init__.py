"""Long work as jobs: a durable queue in a folder (store), what a job can be (kinds), and the
worker processes that run them (pool). The studio and batch runs submit here.

    from kinora.jobs import JobStore, WorkerPool, submit
    store = JobStore("out/studio/jobs")
    with WorkerPool(store, workers=2):
        job = submit(store, "shot", {"prompt": "一个红色的球弹跳", "seconds": 4})
"""

from kinora.jobs.store import FINISHED, Job, JobStore


def submit(store: JobStore, kind: str, args: dict, owner: str | None = None) -> Job:
    """Check the job's arguments (one readable line if they are wrong) and queue it."""
    from kinora.jobs.kinds import check, lock_key

    check(kind, args)
    return store.submit(kind, args, owner=owner, lock=lock_key(kind, args))


def __getattr__(name):
    if name == "WorkerPool":  # multiprocessing is only imported by whoever runs workers
        from kinora.jobs.pool import WorkerPool

        return WorkerPool
    raise AttributeError(name)


__all__ = ["FINISHED", "Job", "JobStore", "WorkerPool", "submit"]
