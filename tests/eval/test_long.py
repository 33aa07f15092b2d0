"""The long-shot eval: events spread over the shot, chunk means, the tolerance against the simulator."""

import math

import pytest

from kinora.errors import KinoraError
from kinora.eval.long import LongSettings, chunk_means, run_long, spread_events, summarize_long
from kinora.plan.parse import parse


def test_events_are_spread_over_the_shot():
    spec = parse("a red ball rolls left, then a blue cube falls, then a green cylinder slides right", duration=8).spec
    assert [o.start for o in spec.objects] == [0.0, 1.0, 2.0]
    long = spread_events(spec, 60.0)
    assert long.duration == 60.0 and [o.start for o in long.objects] == [0.0, 20.0, 40.0]
    assert [o.start for o in spec.objects] == [0.0, 1.0, 2.0]  # a copy: the reader's spec is kept


def test_chunk_means_skip_frame_zero_and_missing_values():
    # 8 fps, 5 s chunks of 40 frames; the curve starts at frame 1.
    curve = [1.0] * 39 + [0.5] * 40 + [math.nan] * 5
    assert chunk_means(curve, 8.0) == [100.0, 50.0, None]


def test_tolerance_is_the_largest_gap_in_any_chunk():
    def shot(sim, free, guided):
        return {"curves": {m: {d: v for d in ("color", "size", "count")}
                           for m, v in (("simulator", sim), ("free", free), ("guided", guided))}}

    s = summarize_long([shot([100, 90], [80, 40], [99, 91.5]), shot([100, 80], [70, 30], [99, 80])],
                       LongSettings(seconds=10))
    assert s["modes"]["simulator"]["count"]["chunks"] == [100.0, 85.0]
    assert s["modes"]["free"]["count"]["first_last_drop"] == 40.0
    assert s["modes"]["free"]["count"]["max_gap_to_simulator"] == 50.0
    assert s["modes"]["guided"]["count"]["max_gap_to_simulator"] == 1.0
    assert s["modes"]["guided"]["count"]["within_tolerance"] and not s["modes"]["free"]["count"]["within_tolerance"]


def test_a_short_run_end_to_end(tmp_path):
    from tests.pipelines.test_physics import _weights

    run = run_long(LongSettings(n=1, seconds=10, model=str(_weights(tmp_path, signal=True)), steps=1,
                                out=str(tmp_path / "long")), progress=False)
    shot = run.summary["shots"][0]
    assert shot["frames"] == 80 and shot["objects"] == 5
    assert run.summary["modes"]["simulator"]["color"]["chunks"] == [100.0, 100.0]
    assert (tmp_path / "long" / "long.json").exists() and "| count | guided |" in run.report


def test_bad_settings_are_one_line(capsys):
    with pytest.raises(KinoraError, match="out of range for the long-shot eval"):
        run_long(LongSettings(seconds=3))
    from kinora.cli import main

    assert main(["eval", "--long", "--guided"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --long does not take --guided (it takes --seconds, --n, --model, --steps, --precision, "
                   "--threads, --out and --json)"]
