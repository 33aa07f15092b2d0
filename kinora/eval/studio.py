"""The studio's bench stage: how fast the page is usable, how fast a click shows progress,
and whether many queued jobs from several tabs finish intact in bounded memory.

Measured against a real studio (kinora.studio.app.serve on the loopback, warm workers) and,
where Debian's Chromium and Playwright are installed, a real browser:

* first screen: from the moment `kinora studio` would print its address to the page being
  interactive (the Generate button there and the page's load handler done);
* first progress: from the click on Generate for a 4 s shot to the bar showing progress;
* soak: `jobs` shot jobs submitted from `tabs` pages (5 each, by clicking), all run to the
  end; every result checked (the MP4 there, its label report passing, its frame count) and
  each worker's resident memory after the first few jobs and after the last, and its peak.

Without a browser the soak submits through the job queue directly and the two page times
are left out (the notes say so).
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def bench_studio(folder: Path, model: str | None = None, jobs: int = 20, tabs: int = 4, seconds: float = 4.0,
                 steps: int | None = None, browser: bool = True) -> dict:
    from kinora.jobs import submit
    from kinora.jobs.pool import peak_rss_mb
    from kinora.studio.app import serve

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    use_browser = browser and sync_playwright is not None and Path(chromium).exists()
    out: dict = {"jobs": jobs, "tabs": tabs, "shot_seconds": seconds, "browser": use_browser, "notes": []}
    args = {"prompt": "a red ball bounces on the floor", "seconds": seconds, "model": model,
            **({"steps": steps} if steps else {})}
    ready: list[float] = []

    def start():
        t0 = time.perf_counter()
        served = serve(port=_free_port(), workdir=folder, model=model, block=False,
                       on_ready=lambda u: ready.append(time.perf_counter()))
        out["serve_s"] = round(ready[0] - t0, 3)  # to the printed address (the workers still warming up)
        out["workers"] = served[1].size
        return served

    if use_browser:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)  # open before the studio
            demo, pool, url = start()
            try:
                store = pool.store
                pages = []
                page = browser.new_context().new_page()
                page.goto(url)  # as soon as the address is printed, the workers still loading
                page.wait_for_selector("#shot-go")
                page.wait_for_function("document.querySelector('#k-lang input:checked') !== null")
                out["first_screen_after_address_s"] = round(time.perf_counter() - ready[0], 3)
                pool.wait_ready(120)
                out["workers_ready_after_address_s"] = round(time.perf_counter() - ready[0], 3)
                # First progress of a 4 s shot, on warm workers (what a user meets after the first seconds).
                page.fill("#shot-prompt textarea", args["prompt"])
                t = time.perf_counter()
                page.click("#shot-go")
                page.wait_for_function(
                    "Number(document.querySelector('#shot-progress .k-progress')?.dataset.progress) > 0 || "
                    "document.querySelector('#shot-progress .k-progress.done') !== null", timeout=30_000, polling=20)
                out["first_progress_s"] = round(time.perf_counter() - t, 3)
                page.wait_for_selector("#shot-progress .k-progress.done", timeout=120_000)
                pages.append(page)
                for _ in range(tabs - 1):
                    pg = browser.new_context().new_page()
                    pg.goto(url)
                    pg.wait_for_selector("#shot-go")
                    pages.append(pg)
                before = {j.id for j in store.jobs()}
                t = time.perf_counter()
                for k in range(jobs):
                    pg = pages[k % tabs]
                    last = pg.get_attribute("#shot-progress .k-progress", "data-job") or ""
                    pg.fill("#shot-prompt textarea", f"{args['prompt']} (job {k + 1})")
                    pg.click("#shot-go")
                    # the page shows its new job before the next click (a click while one is pending is dropped)
                    pg.wait_for_function(f"(document.querySelector('#shot-progress .k-progress')?.dataset.job "
                                         f"|| '') !== '{last}'")
                deadline = time.time() + 1800
                while len({j.id for j in store.jobs()} - before) < jobs and time.time() < deadline:
                    time.sleep(0.1)
                soak = [j for j in store.jobs() if j.id not in before]
                out.update(_soak(store, soak, pool, t, peak_rss_mb))
            finally:
                browser.close()
                demo.close(verbose=False)
                pool.stop()
        return out
    out["notes"].append(("no Chromium or Playwright here" if browser else "without a browser") +
                        ": the soak submits through the job queue and the page timings are not measured")
    demo, pool, url = start()
    try:
        store = pool.store
        pool.wait_ready(120)
        t = time.perf_counter()
        soak = [submit(store, "shot", {**args, "prompt": f"{args['prompt']} (job {k + 1})"},
                       owner=f"tab-{k % tabs}") for k in range(jobs)]
        out.update(_soak(store, soak, pool, t, peak_rss_mb))
    finally:
        demo.close(verbose=False)
        pool.stop()
    return out


def _soak(store, soak, pool, t_start: float, peak_rss_mb) -> dict:
    from kinora.label.inspect import inspect_video

    rss_early: dict[int, float] = {}
    deadline = time.time() + 1800
    while time.time() < deadline:
        states = [store.get(j.id) for j in soak]
        done = sum(s.is_finished for s in states)
        if not rss_early and done >= pool.size * 2:
            rss_early = {pid: _rss_mb(pid) for pid in pool.pids()}
        if done == len(soak):
            break
        time.sleep(0.1)
    wall = time.perf_counter() - t_start
    states = [store.get(j.id) for j in soak]
    intact = 0
    for s in states:
        if s.state != "done":
            continue
        path = store.output(s.id) / s.result["video"]
        rep = inspect_video(path)
        intact += int(rep["ok"] and rep["video"]["frames"] == s.result["frames"] and s.result["label"]["ok"])
    rss_late = {pid: _rss_mb(pid) for pid in pool.pids()}
    peaks = peak_rss_mb(pool.pids())
    early = [v for v in rss_early.values() if v]
    late = [rss_late[p] for p in rss_early if rss_late.get(p)]
    return {"soak_wall_s": round(wall, 2), "done": sum(s.state == "done" for s in states),
            "failed": [s.error for s in states if s.state != "done"], "intact": intact,
            "owners": len({s.owner for s in states}),
            "worker_rss_early_mb": [round(v, 1) for v in early], "worker_rss_end_mb": [round(v, 1) for v in late],
            "worker_peak_rss_mb": [round(v, 1) for v in peaks.values()],
            "worker_rss_growth_mb": round(max((b - a for a, b in zip(early, late)), default=0.0), 1),
            "worker_restarts": pool.restarts,
            "studio_process_rss_mb": round(_rss_mb(os.getpid()) or 0.0, 1)}  # the web server (and this bench)
