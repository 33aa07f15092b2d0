"""The job queue: order, project locks, cancellation, failures in one line, lost workers, a real pool."""

import os
import threading
import time

import pytest

from kinora.errors import KinoraError
from kinora.jobs import JobStore, submit
from kinora.jobs.pool import WorkerPool, run_job


def shot_args(tiny_weights, **kw):
    return {"prompt": "a red ball bounces", "seconds": 1.0, "steps": 1, "model": str(tiny_weights), **kw}


def test_claims_oldest_first_and_one_job_per_project(tmp_path):
    store = JobStore(tmp_path)
    a = store.submit("edit", {}, lock="/p")
    b = store.submit("edit", {}, lock="/p")
    c = store.submit("shot", {})
    assert store.position(c) == 2
    assert store.claim(1).id == a.id
    assert store.claim(2).id == c.id  # b waits: a holds the project
    assert store.claim(3) is None
    store.finish(store.get(a.id), "done", {})
    assert store.claim(3).id == b.id


def test_cancel_a_queued_job_at_once_and_a_running_one_by_flag(tmp_path):
    store = JobStore(tmp_path)
    a, b = store.submit("shot", {}), store.submit("shot", {})
    store.claim(1)
    assert store.cancel(b.id).state == "cancelled"
    assert store.claim(2) is None  # a cancelled job never runs
    store.cancel(a.id)
    assert store.get(a.id).state == "running" and store.cancel_requested(a.id)


def test_recover_marks_jobs_of_dead_workers(tmp_path):
    store = JobStore(tmp_path)
    job = store.submit("shot", {})
    store.claim(999_999)
    assert store.recover(lambda pid: pid != 999_999) == [job.id]
    j = store.get(job.id)
    assert j.state == "interrupted" and "run it again" in j.error


def test_bad_arguments_are_refused_before_queueing(tmp_path, tiny_weights):
    store = JobStore(tmp_path)
    with pytest.raises(KinoraError, match="prompt is empty"):
        submit(store, "shot", shot_args(tiny_weights, prompt="  "))
    with pytest.raises(KinoraError, match="out of range"):
        submit(store, "shot", shot_args(tiny_weights, seconds=-1))
    with pytest.raises(KinoraError, match="nothing the micro-world can film"):
        submit(store, "storyboard", {"text": "The weather was nice."})
    with pytest.raises(KinoraError, match="unknown job kind"):
        submit(store, "paint", {})
    assert store.jobs() == []


def test_a_shot_job_runs_to_a_labeled_video_with_progress(tmp_path, tiny_weights):
    store = JobStore(tmp_path)
    job = submit(store, "shot", shot_args(tiny_weights, prompt="一个红色的球弹跳", steps=3))
    seen = []
    orig = store.update
    store.update = lambda j, f, m: (seen.append((f, m)), orig(j, f, m))
    import kinora.jobs.pool as pool

    pool.WRITE_EVERY_S, before = 0.0, pool.WRITE_EVERY_S
    try:
        done = run_job(store, store.claim(os.getpid()))
    finally:
        pool.WRITE_EVERY_S = before
    assert done.state == "done" and done.progress == 1.0, done.error
    r = done.result
    assert (store.output(job.id) / r["video"]).stat().st_size > 0
    assert r["label"]["ok"] and r["label"]["visible"]["found"] and r["label"]["aigc"]["Label"]
    assert r["frames"] == 8 and r["canonical"] == "a small red ball falls and bounces. the camera is static."
    fractions = [f for f, _ in seen]
    # 3 steps in the first 10/11 of the job, then the label check
    assert fractions == pytest.approx([0.0, 1 / 3.3, 2 / 3.3, 3 / 3.3, 1 / 1.1])
    assert any("sampling" in m for _, m in seen) and seen[-1][1] == "label check"


def test_cancel_stops_a_running_job_at_its_next_step(tmp_path, tiny_weights):
    store = JobStore(tmp_path)
    job = submit(store, "shot", shot_args(tiny_weights, seconds=20.0, steps=4))
    claimed = store.claim(os.getpid())
    t = threading.Thread(target=run_job, args=(store, claimed))
    t.start()
    while store.get(job.id).progress == 0.0:
        time.sleep(0.01)
    store.cancel(job.id)
    t.join(30)
    j = store.get(job.id)
    assert j.state == "cancelled" and j.progress < 1.0
    assert not (store.output(job.id) / "shot.mp4").exists()  # nothing half-written
    assert not store.cancel_requested(job.id)


def test_a_failure_is_one_line_and_a_bug_keeps_its_trace_in_a_file(tmp_path, tiny_weights, monkeypatch):
    store = JobStore(tmp_path)
    job = store.submit("edit", {"project": str(tmp_path / "nope"), "op": "trim", "shot": 1})
    j = run_job(store, store.claim(1))
    assert j.state == "failed" and j.error.startswith("no project at") and "\n" not in j.error
    import kinora.jobs.kinds as kinds

    monkeypatch.setitem(kinds.KINDS, "shot", (kinds.check_shot, lambda a, f: 1 / 0))
    job = store.submit("shot", {})
    j = run_job(store, store.claim(1))
    assert j.state == "failed" and "ZeroDivisionError" in j.error
    assert "Traceback" in (store.output(job.id) / "error.log").read_text()


def test_a_pool_runs_jobs_from_many_owners_and_replaces_a_killed_worker(tmp_path, tiny_weights):
    store = JobStore(tmp_path)
    with WorkerPool(store, workers=2, model=str(tiny_weights)) as pool:
        assert pool.wait_ready(120)
        long = submit(store, "shot", shot_args(tiny_weights, seconds=60.0, steps=8), owner="tab-0")
        while store.get(long.id).state != "running":
            time.sleep(0.02)
        jobs = [submit(store, "shot", shot_args(tiny_weights, seed=k), owner=f"tab-{k % 4}") for k in range(4)]
        os.kill(store.get(long.id).worker, 9)
        deadline = time.time() + 120
        while not all(store.get(j.id).is_finished for j in [long, *jobs]) and time.time() < deadline:
            time.sleep(0.1)
        assert store.get(long.id).state == "interrupted"
        assert [store.get(j.id).state for j in jobs] == ["done"] * 4
        assert pool.restarts == 1 and len(set(pool.pids())) == 2
        assert {store.get(j.id).worker for j in jobs} <= set(pool.pids()) | {store.get(long.id).worker}
