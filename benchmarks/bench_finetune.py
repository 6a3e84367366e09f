"""Fine-tuning in the window: event-loop pauses, brush strokes, throughput vs the CLI, stop.

Prints figures and PASS/MISS only (no timing asserts). Targets:

1. pauses: while training on the CPU (live predictions on, a brush stroke every ~2 s on
   the plane shown) the GUI event loop never pauses more than 50 ms (5 ms QTimer probe
   over --seconds), and each stroke is in the document as soon as its mouse events return.
2. throughput: training in the window runs at >= 90% of the steps/s of the same training
   from the command line (headless core training in a fresh process, set up as
   ``unetgui train IMAGE LABELS --planes 0,1 --base-channels 16 --tile-size T --seed 0``
   does), in rounds where other programs leave the machine idle.
3. cli: the real command line, end to end, once.
4. stop: a stop request ends training within one step.

The window side attaches to public hooks only: the TrainingWorker's ``after_item`` and
``run`` (in the training thread), ``CpuShare.computing`` (a live prediction pass),
``LivePredictor.idle``, ``TrainingController.training``, ``LatestOnly.submit`` and public
methods of the window's parts. How each part is measured and the what-if runs are
described in benchmarks/README.md ("The window benchmarks").

    python benchmarks/bench_finetune.py [--seconds 60] [--tile-size 252] [--tp-seconds 10]
        [--rounds 2] [--stops 5] [--skip pauses,throughput,cli,stop] [--what-if-threads N]
        [--no-passive-cli] [--no-preload] [--worker-threads N] [--no-gc-freeze] [--no-gui-collector]
        [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import gc
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HEADLESS = __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--headless-train"

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

if not HEADLESS:  # the headless side imports no Qt, like the command line
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from _gui_probe import (  # noqa: E402
        PAUSE_LIMIT_S,
        PROBE_MS,
        CallLog,
        Probe,
        close_window,
        explain_pauses,
        make_window,
        maybe_profile,
        ms,
        pause_stats,
        qt_app,
        run_loop,
        send_mouse,
        thread_schedstat,
        time_full_gc,
        verdict,
        viewport_point,
        wait_until,
    )
    from PySide6 import QtCore  # noqa: E402

THROUGHPUT_TARGET = 0.90
IDLE_CPUS = 0.25  # other programs' use below which a throughput round counts as idle
PLANES = (0, 1)
SHOWN_PLANE = 2
BASE_CHANNELS = 16
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# --------------------------------------------------------------------------- both sides


def cpu_sample() -> tuple[float, float, float]:
    """(wall, CPU seconds all CPUs of the machine were busy, CPU seconds of this process)."""
    busy = float("nan")
    try:
        with open("/proc/stat") as handle:
            fields = [int(v) for v in handle.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        busy = (sum(fields[:8]) - idle) / _CLK_TCK  # user..steal, guest is inside user
    except (OSError, ValueError, IndexError):
        pass
    times = os.times()
    return time.perf_counter(), busy, times.user + times.system


def cpu_delta(a, b) -> dict:
    wall = b[0] - a[0]
    ours = b[2] - a[2]
    return {"wall": wall, "ours": ours, "others": max((b[1] - a[1]) - ours, 0.0)}


def truncate(records: list, seconds: float) -> list:
    """Records up to and including the first whose elapsed reaches ``seconds``."""
    out = []
    for record in records:
        out.append(record)
        if record[2] >= seconds:
            break
    return out


def steady_rate(records: list, warm: int) -> float:
    """Steps per second from the end of step ``warm`` to the last record (step, elapsed)."""
    kept = [r for r in records if r[1] >= warm]
    if len(kept) < 2 or kept[-1][2] <= kept[0][2]:
        return float("nan")
    return (kept[-1][1] - kept[0][1]) / (kept[-1][2] - kept[0][2])


# --------------------------------------------------------------------------- headless side


def headless_train(spec: dict) -> dict:
    """What ``unetgui train IMAGE LABELS --planes 0,1 --base-channels 16 --tile-size T
    --seed 0`` runs (unetgui.cli.main -> _train), stopped after spec["seconds"] of training."""
    from unetgui.core import runtime

    runtime.tune_allocator()  # as unetgui.cli.main
    import torch

    from unetgui.core import recipes
    from unetgui.core.device import resolve_device
    from unetgui.core.io import open_image, read_labels
    from unetgui.core.model import new_model
    from unetgui.core.predict import model_input
    from unetgui.core.train import TrainingPlane, train

    device = resolve_device("auto")
    config = recipes.with_choices(recipes.SCRATCH, steps=spec["steps"], tile_size=spec["tile_size"], seed=0,
                                  **spec["options"])
    with open_image(spec["image"]) as stack:
        labels = read_labels(spec["labels"], expected_shape=(stack.n_planes, stack.height, stack.width))
        net_config = dataclasses.replace(recipes.SCRATCH_NETWORK, in_channels=stack.n_channels,
                                         base_channels=spec["base_channels"])
        model = new_model(net_config, seed=0)
        model.net.to(device)
        training = [TrainingPlane(model_input(stack.read_plane(i), model, None), labels[i], None, f"plane {i}")
                    for i in spec["planes"]]
    run = train(model, training, config, validation=[], note={"init": "trained from scratch"})
    records = []
    first = cpu_sample()
    marks = {}
    for progress in run:
        records.append((time.perf_counter(), progress.step, progress.elapsed, progress.loss))
        if progress.step == spec["warm"]:
            marks["warm"] = cpu_sample()
        if progress.elapsed >= spec["seconds"]:
            break
    last = cpu_sample()
    run.close()
    return {
        "records": records,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "device": str(device),
        "cpu_all": cpu_delta(first, last),
        "cpu_steady": cpu_delta(marks["warm"], last) if "warm" in marks else None,
        "config": repr(config),
    }


# --------------------------------------------------------------------------- window side


class Recorder:
    """Facts gathered in the worker threads by wrappers installed before the window opens."""

    def __init__(self) -> None:
        self.records: list[tuple[float, int, float, float]] = []  # wall, step, elapsed, loss
        self.marks: dict[str, tuple] = {}
        self.training: dict[str, object] = {}  # tid, torch threads, start/end of run()
        self.predictor: dict[str, object] = {}
        self.live_active = 0
        self.live_threads: set[int] = set()  # torch.get_num_threads() at the start of live passes
        self.passes: list[tuple[float, float]] = []
        self.warm = 2
        self.tile_size = 252
        self.worker_threads: int | None = None  # what-if: torch threads in the training worker
        self.scene_moves = 0  # mouse moves the canvas's GraphicsScene received (ours and Qt's)

    def tids(self) -> tuple[int, ...]:
        return tuple(t for t in (self.training.get("tid"), self.predictor.get("tid")) if t)


def install(log: CallLog, rec: Recorder) -> None:
    """Timed wrappers around public methods (class attributes; before the window exists, as
    signal connections bind methods then) and the recorders in the training and
    live-prediction threads (public hooks: TrainingWorker.after_item/run, LivePredictor.run,
    CpuShare.computing/prediction_threads)."""
    import pyqtgraph as pg
    import torch

    from unetgui.core.labels import LabelDocument
    from unetgui.core.model import UNetModel
    from unetgui.core.runtime import CpuShare
    from unetgui.gui.autosave import Autosaver
    from unetgui.gui.canvas import Canvas
    from unetgui.gui.main_window import MainWindow
    from unetgui.gui.model_controller import ModelController
    from unetgui.gui.panels.training import TrainingPanel
    from unetgui.gui.predictions import PredictionController
    from unetgui.gui.training import TrainingController
    from unetgui.gui.workers import LatestOnly, LivePredictor, TrainingWorker

    for attr in ("fine_tune", "stop", "request_snapshot"):
        log.wrap(TrainingController, attr, f"TrainingController.{attr}")
    log.wrap(ModelController, "set_model", "ModelController.set_model")
    for attr in ("show_progress", "show_curves", "show_status"):
        log.wrap(TrainingPanel, attr, f"TrainingPanel.{attr}")
    for attr in ("show_snapshot", "predict_plane", "set_plane"):
        log.wrap(PredictionController, attr, f"PredictionController.{attr}")
    log.wrap(LivePredictor, "request", "LivePredictor.request")
    log.wrap(MainWindow, "show_plane", "MainWindow.show_plane")
    for attr in ("labels_changed", "set_prediction", "set_prediction_tile", "set_weights"):
        log.wrap(Canvas, attr, f"Canvas.{attr}")
    for attr in ("changed", "save_soon"):
        log.wrap(Autosaver, attr, f"Autosaver.{attr}")
    for attr in ("begin_stroke", "stroke_to", "end_stroke"):
        log.wrap(LabelDocument, attr, f"LabelDocument.{attr}")
    log.wrap(UNetModel, "snapshot", "UNetModel.snapshot (weights copied for live predictions)")
    log.wrap(pg.PlotDataItem, "setData", "PlotDataItem.setData (loss curve)")
    log.wrap(pg.ImageItem, "render", lambda item, *_: "ImageItem.render " + (
        f"{item.image.dtype}" if getattr(item, "image", None) is not None else ""))
    log.wrap(pg.GraphicsView, "paintEvent", "GraphicsView.paintEvent (canvas/plot repaint)")
    log.wrap_jobs(LatestOnly)  # weight maps and autosaves, timed in the pool's threads

    original_move = pg.GraphicsScene.mouseMoveEvent

    @functools.wraps(original_move)
    def scene_move(self, ev):
        rec.scene_moves += 1
        return original_move(self, ev)

    pg.GraphicsScene.mouseMoveEvent = scene_move

    original_after = TrainingWorker.after_item

    @functools.wraps(original_after)
    def after_item(self, value):  # runs in the training thread right after item.emit
        rec.records.append((time.perf_counter(), value.step, value.elapsed, value.loss))
        if value.step == rec.warm:
            rec.marks["warm"] = cpu_sample()
        result = original_after(self, value)  # the app sets the next step's thread count here
        if rec.worker_threads:  # what-if: a fixed count from step 2 on, whatever the app chose
            torch.set_num_threads(rec.worker_threads)
        threads = torch.get_num_threads()
        if len(rec.records) == 1:  # what the training runs with (after the app's own choice)
            rec.training["threads"] = threads
        counts = rec.training.setdefault("thread_steps", {})
        counts[threads] = counts.get(threads, 0) + 1
        return result

    TrainingWorker.after_item = after_item

    original_run = TrainingWorker.run

    @functools.wraps(original_run)
    def training_run(self):
        before = torch.get_num_threads()
        rec.training.update(tid=threading.get_native_id(), start=time.perf_counter())
        try:
            return original_run(self)
        finally:
            rec.training["end"] = time.perf_counter()
            if rec.worker_threads:
                torch.set_num_threads(before)

    TrainingWorker.run = training_run

    original_predictor_run = LivePredictor.run

    @functools.wraps(original_predictor_run)
    def predictor_run(self):
        rec.predictor.update(tid=threading.get_native_id(), threads=torch.get_num_threads())
        return original_predictor_run(self)

    LivePredictor.run = predictor_run

    original_computing = CpuShare.computing

    @contextlib.contextmanager
    def computing(self):  # wraps each pass of the live predictor (its thread)
        start = time.perf_counter()
        rec.live_active += 1
        try:
            with original_computing(self):
                yield
        finally:
            rec.live_active -= 1
            end = time.perf_counter()
            rec.passes.append((start, end))
            log.worker.append(("live prediction pass", start, end))

    CpuShare.computing = computing

    original_prediction_threads = CpuShare.prediction_threads

    @functools.wraps(original_prediction_threads)
    def prediction_threads(self):  # what the live predictor sets before each pass
        threads = original_prediction_threads(self)
        rec.live_threads.add(threads)
        return threads

    CpuShare.prediction_threads = prediction_threads


def fresh_model(win, tile_size: int) -> None:
    """A new 16-base-channel network (seed 0) as the window's New network makes it; then the
    run's settings, which a new model's recipe resets (steps, optimiser)."""
    from unetgui.core import recipes
    from unetgui.core.model import new_model

    config = dataclasses.replace(recipes.SCRATCH_NETWORK, base_channels=BASE_CHANNELS)
    win.models.set_model(new_model(config, seed=0, info={"name": "bench"}), "bench")
    win.training_panel.tile_size.setValue(tile_size)
    win.training_panel.steps.setValue(1_000_000)


def settle(win, rec: Recorder, timeout_s: float = 120) -> None:
    """Training over, the prediction it starts at the end done, the autosave written."""
    wait_until(lambda: not win.training.training, timeout_s)
    wait_until(lambda: rec.live_active == 0 and win.predictions.live.idle, timeout_s)
    wait_until(lambda: not win.session.jobs.busy("autosave") and not win.weights.busy, timeout_s)
    run_loop(50)


def prepare_training(win, rec: Recorder, live: bool) -> None:
    """What comes before the press of Fine-tune: a fresh network, live predictions on/off."""
    doc = win.document
    if doc.planes_with_role("train") != PLANES or doc.planes_with_role("validation"):
        raise SystemExit(f"unexpected plane roles: train {doc.planes_with_role('train')}, "
                         f"validation {doc.planes_with_role('validation')}")
    fresh_model(win, rec.tile_size)
    win.prediction_panel.live.setChecked(live)
    rec.records.clear()
    rec.marks.clear()
    rec.training.pop("end", None)
    rec.training.pop("thread_steps", None)


def press_fine_tune(win) -> None:
    if not win.training.fine_tune():
        raise SystemExit("fine_tune() refused to start")


def start_training(win, rec: Recorder, live: bool) -> None:
    prepare_training(win, rec, live)
    press_fine_tune(win)


def window_run(win, rec: Recorder, seconds: float, live: bool, threads: int | None = None,
               log: CallLog | None = None) -> dict:
    """Train in the window for ``seconds`` of training time; the event loop runs meanwhile.
    threads: what-if (torch threads in the training thread)."""
    controller = win.training
    if log is not None:
        log.clear()
    first = cpu_sample()
    gui = thread_schedstat()
    rec.worker_threads = threads
    start_training(win, rec, live)
    while not (rec.records and rec.records[-1][2] >= seconds):
        run_loop(20)
        if not controller.training:
            break
    last = cpu_sample()
    gui_end = thread_schedstat()
    passes = sum(1 for s, _ in rec.passes if s >= first[0])
    totals: dict[str, float] = {}
    for name, s, e in (log.calls if log is not None else ()):
        if s <= last[0]:
            totals[name] = totals.get(name, 0.0) + (e - s)
    controller.stop()
    settle(win, rec)
    rec.worker_threads = None
    records = list(rec.records)
    return {
        "gui_totals": totals,
        "records": records,
        "cpu_all": cpu_delta(first, last),
        "cpu_steady": cpu_delta(rec.marks["warm"], last) if "warm" in rec.marks else None,
        "gui_cpu": gui_end[0] - gui[0],
        "live_passes": passes,
        "threads": rec.training.get("threads"),
        "thread_steps": dict(rec.training.get("thread_steps", {})),
    }


def headless_run(spec: dict, env: dict | None = None) -> dict:
    """The headless command-line training in a fresh process; its JSON result.
    env: extra environment variables for that process (what-if)."""
    result = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--headless-train", json.dumps(spec)],
                            capture_output=True, text=True, timeout=spec["seconds"] * 10 + 300,
                            env={**os.environ, **(env or {})})
    for line in reversed(result.stdout.splitlines()):
        if line.startswith("JSON:"):
            return json.loads(line[5:])
    raise SystemExit(f"headless training failed (exit {result.returncode}):\n{result.stderr[-3000:]}")


def cli_command() -> list[str]:
    script = Path(sys.executable).with_name("unetgui")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from unetgui.cli import main; sys.exit(main())"]


# --------------------------------------------------------------------------- 1. pauses


def stroke(win, rec: Recorder, rng, spacing_ms: int, moves: int, radius: int, stats: dict) -> None:
    """A synthetic brush stroke on the shown plane (as conftest.drag, with run_loop), and
    whether each dab is in the document when its mouse event returns."""
    canvas, doc = win.canvas, win.document
    left, none = QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.MouseButton.NoButton
    move, press, release = (QtCore.QEvent.Type.MouseMove, QtCore.QEvent.Type.MouseButtonPress,
                            QtCore.QEvent.Type.MouseButtonRelease)
    size = doc.labels_of(SHOWN_PLANE).shape
    label = doc.next_free_id()
    win.tool_state.set_label(label)
    angle = rng.uniform(0, 2 * np.pi)
    r0, c0 = rng.uniform(40, size[0] - 40), rng.uniform(40, size[1] - 40)
    step = 6.0 * np.array([np.sin(angle), np.cos(angle)])
    points = [(int(np.clip(r0 + k * step[0], 2, size[0] - 3)), int(np.clip(c0 + k * step[1], 2, size[1] - 3)))
              for k in range(moves)]
    viewport = canvas.viewport()
    pixels = [viewport_point(canvas, r, c) for r, c in points]

    def landed(upto: int) -> bool:
        labels = doc.labels_of(SHOWN_PLANE)
        return all(labels[r, c] == label for r, c in points[:upto + 1])

    scene = canvas.scene()
    start = time.perf_counter()
    scene_moves = rec.scene_moves
    send_mouse(viewport, move, pixels[0], none, none)
    send_mouse(viewport, press, pixels[0], left, left)
    for k, p in enumerate(pixels[1:], start=1):
        run_loop(spacing_ms)  # pyqtgraph drops moves faster than its mouseRateLimit (100/s)
        before = scene._lastMoveEventTime
        t = time.perf_counter()
        send_mouse(viewport, move, p, none, left)
        stats["move_s"].append(time.perf_counter() - t)
        stats["moves"] += 1
        if scene._lastMoveEventTime == before:  # pyqtgraph's rate limit dropped it
            stats["dropped"] += 1
        elif not scene.dragButtons:  # within pyqtgraph's click/drag threshold: no drag yet
            stats["before_drag"] += 1
        else:
            stats["accepted"] += 1
            stats["moves_landed"] += landed(k)
    t_release = time.perf_counter()
    send_mouse(viewport, release, pixels[-1], left, none)
    returned = time.perf_counter()
    immediate = landed(len(points) - 1)
    if not immediate:  # not yet: let the event loop run until it is (or 2 s pass)
        wait_until(lambda: landed(len(points) - 1), 2.0)
    found = time.perf_counter()
    stats["strokes"] += 1
    stats["synthetic"] += rec.scene_moves - scene_moves - len(pixels)  # moves Qt made itself
    stats["immediate"] += immediate
    stats["release_s"].append(returned - t_release)
    stats["latency_s"].append((returned if immediate else found) - t_release)
    stats["intervals"].append((start, returned))
    if not landed(len(points) - 1):
        stats["lost"] += 1


def named_split(probe: Probe, index: int, tid: int | None) -> tuple[float, float] | None:
    if not tid:
        return None
    a, b = probe.worker_sched[index], probe.worker_sched[index + 1]
    if tid not in a or tid not in b or not np.isfinite(a[tid][0]):
        return None
    return b[tid][0] - a[tid][0], b[tid][1] - a[tid][1]


def bench_pauses(args, win, log: CallLog, rec: Recorder) -> dict:
    controller = win.training
    print(f"1) Event-loop pauses while fine-tuning ({PROBE_MS} ms QTimer probe, {args.seconds:g} s from "
          f"the press of Fine-tune), live predictions every {win.prediction_panel.refresh_seconds.value()} s "
          f"on plane {SHOWN_PLANE}, a brush stroke ({args.moves} moves {args.spacing_ms} ms apart, "
          f"radius {args.radius}) every {args.stroke_every:g} s; load average {os.getloadavg()[0]:.1f}"
          + (f"; WHAT-IF: torch.set_num_threads({args.worker_threads}) in the training thread"
             if args.worker_threads else ""))
    win.choose_tool("paint")
    win.tool_state.set_radius(args.radius)
    rng = np.random.default_rng(args.seed)
    stats = {"strokes": 0, "immediate": 0, "lost": 0, "moves": 0, "moves_landed": 0, "accepted": 0,
             "dropped": 0, "synthetic": 0, "before_drag": 0,
             "move_s": [], "release_s": [], "latency_s": [], "intervals": []}
    prepare_training(win, rec, live=True)  # not probed: the probe starts with the press of Fine-tune
    run_loop(200)
    log.clear()
    probe = Probe(worker_tids=lambda: rec.tids() + tuple(log.worker_tids - set(rec.tids())))
    modules = set(sys.modules)
    first = cpu_sample()
    t0 = time.perf_counter()
    probe.start()
    rec.worker_threads = args.worker_threads
    with maybe_profile(args.profile, "pauses"):
        press_fine_tune(win)
        next_stroke = t0 + 1.0
        while time.perf_counter() - t0 < args.seconds:
            now = time.perf_counter()
            if now >= next_stroke:
                stroke(win, rec, rng, args.spacing_ms, args.moves, args.radius, stats)
                next_stroke += args.stroke_every
            else:
                run_loop(min(50, int((next_stroke - now) * 1e3) + 1))
    probe.stop()
    last = cpu_sample()
    records = list(rec.records)
    passes = [p for p in rec.passes if p[0] >= t0]
    controller.stop()
    settle(win, rec)
    rec.worker_threads = None
    win.document.set_role(SHOWN_PLANE, "none")  # painting marked it for training; not the next runs

    imported = sorted(set(sys.modules) - modules)
    worst, p99, over = pause_stats(probe)
    pauses, starts = probe.pauses()
    later = pauses[starts - t0 >= args.startup_s]
    later_gcs = [(n, s, e) for n, s, e in log.gc if s - t0 >= args.startup_s]
    gcs = [(n, s, e) for n, s, e in log.gc if s >= t0]
    print(f"   {len(probe.ticks) - 1} gaps in {probe.ticks[-1] - t0:.1f} s; {len(records)} training steps "
          f"(training thread: torch.get_num_threads() = {rec.training.get('threads')}), "
          f"{len(passes)} live prediction passes ({ms(np.median([e - s for s, e in passes])) if passes else '-'} "
          f"median), {stats['strokes']} strokes; CPU: this process {cpu_delta(first, last)['ours']:.0f} s, "
          f"other programs {cpu_delta(first, last)['others']:.0f} s in {cpu_delta(first, last)['wall']:.0f} s")
    print(f"   worst pause {worst * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms, median {np.median(pauses) * 1e3:.2f} ms, "
          f"{over} over {PAUSE_LIMIT_S * 1e3:.0f} ms, {(pauses > 0.020).sum()} over 20 ms; "
          f"garbage collections over 1 ms: {len(gcs)}"
          + (f" (longest {max(e - s for _, s, e in gcs) * 1e3:.1f} ms)" if gcs else ""))
    if later.size:
        print(f"   after the first {args.startup_s:g} s: worst pause {later.max() * 1e3:.1f} ms, p99 "
              f"{np.percentile(later, 99) * 1e3:.1f} ms, {(later > PAUSE_LIMIT_S).sum()} over "
              f"{PAUSE_LIMIT_S * 1e3:.0f} ms; garbage collections over 1 ms: {len(later_gcs)}"
              + (f" (longest {max(e - s for _, s, e in later_gcs) * 1e3:.1f} ms)" if later_gcs else ""))
    if imported:
        tops = sorted({name.split(".")[0] for name in imported})
        print(f"   modules first imported during this run (after gc.freeze(); their objects are what "
              f"later full collections walk): {len(imported)}, from {', '.join(tops[:12])}"
              + (" ..." if len(tops) > 12 else ""))

    def extra(index, a, b):
        lines = []
        parts = []
        for name, tid in (("training", rec.training.get("tid")), ("live-prediction", rec.predictor.get("tid"))):
            split = named_split(probe, index, tid)
            if split is not None:
                parts.append(f"{name} thread ran {split[0] * 1e3:.1f} ms, waited for a CPU {split[1] * 1e3:.1f} ms")
        pool = [named_split(probe, index, tid) for tid in log.worker_tids - set(rec.tids())]
        pool = [s for s in pool if s is not None and s[0] + s[1] > 0.001]
        if pool:
            ran, waited = max(pool, key=sum)
            parts.append(f"busiest pool thread (autosave / weight map) ran {ran * 1e3:.1f} ms, waited "
                         f"for a CPU {waited * 1e3:.1f} ms")
        if parts:
            lines.append("; ".join(parts))
        workers = sorted({n for n, s, e in log.overlapping(a, b, log.worker)})
        if workers:
            lines.append("worker calls then: " + ", ".join(workers))
        if any(s < b and e > a for s, e in stats["intervals"]):
            lines.append("during a brush stroke")
        steps = [r for r in records if a <= r[0] <= b]
        if steps:
            lines.append(f"training step {steps[0][1]} ended in this gap")
        return lines

    print(f"   -> worst pause {worst * 1e3:.1f} ms over {args.seconds:g} s of training: "
          f"{verdict(worst <= PAUSE_LIMIT_S)} (target <= {PAUSE_LIMIT_S * 1e3:.0f} ms); in detail:")
    explain_pauses(probe, log, t0, n=args.explain, worker_note="worker calls running (below)", extra=extra)
    share = {}
    for index in np.flatnonzero(pauses > 0.020):
        ran, waited, slept = probe.split(index)
        key = max((("ran (GUI work)", ran), ("waited for a CPU", waited), ("slept/blocked (GIL)", slept)),
                  key=lambda kv: kv[1])[0]
        share[key] = share.get(key, 0) + 1
    if share:
        print("        pauses over 20 ms by what the GUI thread mostly did: "
              + ", ".join(f"{k} {v}" for k, v in sorted(share.items(), key=lambda kv: -kv[1])))
    net = [max(pauses[i] - probe.split(i)[1], 0.0) for i in range(len(pauses))]
    if net:
        i = int(np.argmax(net))
        print(f"        without the time the GUI thread waited for a CPU (machine load), the worst pause is "
              f"{net[i] * 1e3:.1f} ms (at t={starts[i] - t0:.2f} s); "
              f"{sum(v > PAUSE_LIMIT_S for v in net)} over {PAUSE_LIMIT_S * 1e3:.0f} ms")

    move_ms = np.array(stats["move_s"]) * 1e3
    latency = max(stats["latency_s"]) if stats["latency_s"] else float("nan")
    landed_ok = stats["strokes"] > 0 and stats["immediate"] == stats["strokes"] \
        and stats["moves_landed"] == stats["accepted"]
    print(f"   brush: {stats['strokes']} strokes, {stats['moves']} moves; dab in the document when its "
          f"move event returned: {stats['moves_landed']}/{stats['accepted']} drag moves pyqtgraph took; whole "
          f"stroke there when the release returned: {stats['immediate']}/{stats['strokes']}"
          + (f", {stats['lost']} never" if stats["lost"] else ""))
    if stats["before_drag"]:
        print(f"   {stats['before_drag']} first move(s) came before pyqtgraph started the drag (under its "
              f"{win.canvas.scene()._moveDistance} px click/drag threshold from the press; the press point and "
              f"that move are painted when the drag starts, with the next move); not counted above")
    if stats["dropped"]:
        print(f"   {stats['dropped']} of our moves were dropped by pyqtgraph's mouse rate limit (under 10 ms "
              f"after the last move the scene took; the scene also got {stats['synthetic']} moves Qt made "
              f"itself, QGraphicsView replaying the last mouse event when the scene changes); the segment "
              f"through a dropped point is painted with the next move")
    if stats["strokes"]:
        print(f"   handling a move event (synchronous dab + signals): median {np.median(move_ms):.2f} ms, "
              f"max {move_ms.max():.1f} ms; the release {max(stats['release_s']) * 1e3:.1f} ms max; "
              f"latency from the last mouse event to the pixels in the document: max {latency * 1e3:.2f} ms")
    print(f"   -> a brush stroke lands at once during training: {verdict(landed_ok)} (every dab pyqtgraph "
          f"takes, and the whole stroke at release, in the document when the mouse event returns: no turn "
          f"of the event loop in between; the latency is the release's own handling, worst "
          f"{latency * 1e3:.2f} ms)")
    return {"worst": worst, "landed": landed_ok, "records": records, "latency": latency}


# --------------------------------------------------------------------------- 2. throughput


def bench_throughput(args, win, rec: Recorder, log: CallLog, paths) -> dict:
    image_path, labels_path = paths
    spec = {"image": str(image_path), "labels": str(labels_path), "planes": list(PLANES), "steps": 1_000_000,
            "tile_size": args.tile_size, "base_channels": BASE_CHANNELS, "seconds": args.tp_seconds,
            "warm": args.warm_steps, "options": cli_options(win)[0]}
    print(f"2) Throughput, {args.rounds} round(s) of: window with live predictions on (every "
          f"{win.prediction_panel.refresh_seconds.value()} s), window with them off, headless command-line "
          f"training in a fresh process; {args.tp_seconds:g} s of training each, order rotating; steady "
          f"rate from the end of step {args.warm_steps}")
    cli_mode = "command line (core, subprocess)"
    policy = os.environ.get("OMP_WAIT_POLICY", "").upper()
    if policy == "PASSIVE":  # the app's entry points ask for it: the what-if is libgomp's default
        other_env, passive_mode = {"GOMP_SPINCOUNT": "300000"}, "WHAT-IF command line, spinning"
        other_text = "GOMP_SPINCOUNT=300000, i.e. libgomp's default spin-waiting back"
    else:
        other_env, passive_mode = {"OMP_WAIT_POLICY": "PASSIVE"}, "WHAT-IF command line, PASSIVE"
        other_text = "OMP_WAIT_POLICY=PASSIVE (OpenMP threads sleep at once instead of spinning)"
    print(f"   OpenMP wait policy of this process and the command line: {policy or 'libgomp default (spin)'}")
    modes = ("window, live on", "window, live off", cli_mode)
    what_if = None
    if args.passive_cli:
        modes = modes + (passive_mode,)
        print(f"   WHAT-IF: the headless command line also with {other_text}")
    threads = args.what_if_threads
    if threads is None:  # the other choice than the app's: all cores if it keeps one free, else n-1
        cpus = os.cpu_count() or 2
        app = rec.training.get("threads") or app_training_threads()
        threads = cpus if app < cpus else max(cpus - 1, 1)
    if threads:
        what_if = f"WHAT-IF window, live on, {threads} training thread(s)"
        modes = modes + (what_if,)
        print(f"   WHAT-IF (this process only, not the app's code): torch.set_num_threads({threads}) in the "
              f"training thread from step 2 on (the app trains with "
              f"{rec.training.get('threads') or app_training_threads()})")
    results: dict[str, list[dict]] = {m: [] for m in modes}
    for round_ in range(args.rounds):
        k = round_ % len(modes)
        order = modes[k:] + modes[:k]
        for mode in order:
            load = os.getloadavg()[0]
            if mode == cli_mode:
                out = headless_run(spec)
            elif mode == passive_mode:
                out = headless_run(spec, other_env)
            else:
                out = window_run(win, rec, args.tp_seconds, live="live on" in mode,
                                 threads=threads if mode == what_if else None, log=log)
            out["records"] = truncate(out["records"], args.tp_seconds)
            out["rate"] = steady_rate(out["records"], args.warm_steps)
            out["load"] = load
            results[mode].append(out)
            steady = out.get("cpu_steady") or {}
            n = len([r for r in out["records"] if r[1] > args.warm_steps])
            cpu_step = steady.get("ours", float("nan")) / n if n else float("nan")
            others = steady.get("others", float("nan")) / steady["wall"] if steady.get("wall") else float("nan")
            times = np.diff([r[2] for r in out["records"] if r[1] >= args.warm_steps])
            spread = (f"step {np.median(times) * 1e3:.0f} ms median, {np.percentile(times, 90) * 1e3:.0f} p90"
                      if len(times) else "no steady steps")
            print(f"   round {round_ + 1}, {mode:32s}: {len(out['records']):3d} steps, steady "
                  f"{out['rate']:.3f} steps/s ({spread}); "
                  f"process CPU {cpu_step:.2f} s/step; other programs used {others:.2f} CPUs; "
                  f"torch threads {out.get('threads')}"
                  + (" (steps per count " + ", ".join(f"{k}: {v}" for k, v in sorted(out["thread_steps"].items()))
                     + ")" if out.get("thread_steps") else "")
                  + (f"; {out['live_passes']} live passes, GUI thread CPU {out['gui_cpu']:.1f} s = "
                     f"{out['gui_cpu'] / max(len(out['records']), 1) * 1e3:.1f} ms/step"
                     if "live_passes" in out else "") + f"; load avg {load:.1f}")
            if out.get("gui_totals"):
                top = sorted(out["gui_totals"].items(), key=lambda kv: -kv[1])[:4]
                print("        GUI thread, total time in: " + ", ".join(f"{n} {v:.2f} s" for n, v in top))
    median = {m: float(np.nanmedian([o["rate"] for o in results[m]])) for m in modes}
    cli = median[cli_mode]
    losses = {m: [r for r in results[m][0]["records"] if np.isfinite(r[3])][:3] for m in modes}
    same = max(abs(a[3] - b[3]) for a, b in zip(losses[modes[0]], losses[cli_mode]))
    print(f"   same training on both sides: first {len(losses[cli_mode])} losses window vs command line "
          f"differ by at most {same:.2e} ({', '.join(f'{r[3]:.5f}' for r in losses[cli_mode])})")
    import torch

    print(f"   torch threads: GUI thread {torch.get_num_threads()}, training thread "
          f"{rec.training.get('threads')}, live-prediction thread {rec.predictor.get('threads', '-')} "
          f"(in its passes: {sorted(rec.live_threads) or '-'}), "
          f"command line {results[cli_mode][0]['threads']}; CPUs this process may use "
          f"{len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()}")
    def others(out) -> float:
        steady = out.get("cpu_steady") or {}
        return steady["others"] / steady["wall"] if steady.get("wall") else float("nan")

    verdicts = {}
    print(f"   a round counts as idle when other programs used under {IDLE_CPUS:g} CPUs during both of the "
          f"runs compared; under load the command line's OpenMP threads spin-wait and it runs many times "
          f"slower, which says nothing about the window")
    for mode in modes:
        if mode == cli_mode:
            continue
        pairs = [(a["rate"] / b["rate"], max(others(a), others(b)) < IDLE_CPUS)
                 for a, b in zip(results[mode], results[cli_mode])]
        idle = [r for r, quiet in pairs if quiet]
        ratio = float(np.median(idle)) if idle else median[mode] / cli
        where = f"median of {len(idle)} idle round(s)" if idle else "all rounds, NONE idle: not comparable"
        if mode in modes[:2]:
            verdicts[mode] = (ratio, bool(idle))
        print(f"   -> {mode}: {ratio:.2f} of the command line ({where}; per round "
              f"{', '.join(f'{r:.2f}' + ('' if quiet else ' loaded') for r, quiet in pairs)}; medians "
              f"{median[mode]:.2f} vs {cli:.2f} steps/s)"
              + (f": {verdict(ratio >= THROUGHPUT_TARGET)} (target >= {THROUGHPUT_TARGET:.2f})"
                 if mode in modes[:2] else ""))
    if passive_mode in median:
        for mode in modes[:2]:
            ratio = median[mode] / median[passive_mode]
            print(f"   -> {mode} vs the {passive_mode[8:]} (all rounds): {ratio:.2f}")
    slowest = min((o["rate"] for o in results[cli_mode]), default=float("nan"))
    return {"median": median, "cli": cli, "verdicts": verdicts, "spec": spec, "slowest_cli": slowest}


def bench_cli(args, win, tmp: Path, paths, rate: float) -> None:
    image_path, labels_path = paths
    steps = max(args.warm_steps + 3, int(round(rate * args.tp_seconds))) if np.isfinite(rate) else 10
    # (the slowest headless rate seen: the run takes about --tp-seconds even if it is that slow)
    command = cli_command() + ["train", str(image_path), str(labels_path), "-o", str(tmp / "cli_model.unet"),
                               "--planes", ",".join(map(str, PLANES)), "--steps", str(steps),
                               "--base-channels", str(BASE_CHANNELS), "--tile-size", str(args.tile_size),
                               "--seed", "0", *cli_options(win)[1]]
    cap = max(3 * args.tp_seconds, 30.0)  # a time limit, so that a slow machine keeps the total short
    command += ["--minutes", f"{cap / 60:.4g}"]
    print(f"3) The real command line end to end, once: unetgui train IMAGE LABELS -o MODEL --planes 0,1 "
          f"--steps {steps} --base-channels {BASE_CHANNELS} --tile-size {args.tile_size} --seed 0 "
          f"{' '.join(cli_options(win)[1])} --minutes {cap / 60:.4g}")
    first = cpu_sample()
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, timeout=steps * 60 + 300)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        print(f"   failed (exit {result.returncode}): {result.stderr[-2000:]}")
        return
    bars = [part for part in re.split(r"[\r\n]", result.stderr) if "training:" in part]
    final = bars[-1].strip() if bars else ""
    match = re.search(r"\[([\d:]+)<[^,]*,\s*([\d.]+)(s/step|step/s)", final)
    tqdm_rate = float("nan")
    if match:
        value = float(match.group(2))
        tqdm_rate = value if match.group(3) == "step/s" else 1 / value
    children = cpu_delta(first, cpu_sample())
    print(f"   exit 0 in {wall:.1f} s wall ({steps / wall:.3f} steps/s end to end, start-up included); "
          + (f"tqdm's own average (from the first step, plane preparation included): {tqdm_rate:.3f} steps/s; "
             if bars else "no progress bar (the command line draws none into a pipe); ")
          + f"other programs used {children['others'] / children['wall']:.2f} CPUs (this CLI included)")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    print(f"   last progress line: {final[:160]}" if bars else
          f"   its last message: {lines[-1][:160] if lines else '-'}")


# --------------------------------------------------------------------------- 3. stop


def bench_stop(args, win, rec: Recorder) -> dict:
    controller = win.training
    rng = np.random.default_rng(args.seed + 1)
    print(f"4) Stop: {args.stops} runs, live predictions on; controller.stop() at a random moment "
          f"after step 2")
    worst_steps, worst_latency, worst_units = 0, 0.0, 0.0
    for trial in range(args.stops):
        start_training(win, rec, live=True)
        wait_until(lambda: len(rec.records) >= 2, 300)
        run_loop(int(rng.uniform(0.0, args.stop_delay) * 1e3))
        last = rec.records[-1]
        done = last[1]  # the worker's own count right now
        requested = time.perf_counter()
        since_step = requested - last[0]
        controller.stop()
        wait_until(lambda: "end" in rec.training, 300)
        ended = rec.training["end"] - requested
        wait_until(lambda: not controller.training, 300)
        shown = time.perf_counter() - requested
        entry = win.models.model.history[-1]
        after = entry["steps"] - done
        times = {r[1]: r[0] for r in rec.records}
        step_times = np.diff([times[s] for s in sorted(times)])
        median_step = float(np.median(step_times))
        running = times[done + 1] - times[done] if done + 1 in times else float("nan")
        units = ended / median_step
        worst_steps = max(worst_steps, after)
        worst_latency = max(worst_latency, ended)
        worst_units = max(worst_units, units)
        print(f"   run {trial + 1}: stop after step {done} (at {since_step:.2f} s into "
              f"the next step); history says '{entry['ended']}' after {entry['steps']} steps -> {after} step(s) "
              f"after the request; worker thread ended {ms(ended)} after it ({units:.2f} median steps of "
              f"{ms(median_step)}; the step then running took {ms(running)}); window shows it idle after "
              f"{ms(shown)}")
        settle(win, rec)
    ok = worst_steps <= 1
    print(f"   -> a stop request ends training within one step: worst {worst_steps} step(s) after the request, "
          f"worst {ms(worst_latency)} ({worst_units:.2f} median steps) until the worker ended: {verdict(ok)} "
          f"(target: at most 1 more step)")
    return {"ok": ok, "worst_steps": worst_steps, "worst_latency": worst_latency}


# --------------------------------------------------------------------------- main


def make_data(tmp: Path, args) -> tuple[Path, Path, np.ndarray]:
    from unetgui.core.io import write_image, write_labels
    from unetgui.core.synthetic import SyntheticConfig, synthetic_stack

    image, labels = synthetic_stack(args.planes, SyntheticConfig(shape=(args.size, args.size), n_cells=args.cells),
                                    np.random.default_rng(0))
    image_path = write_image(tmp / "cells.tif", image, axes="TYX")
    labels_path = write_labels(tmp / "cells_labels.tif", labels, plane_axis="T")
    return Path(image_path), Path(labels_path), labels


def cli_options(win) -> tuple[dict, list[str]]:
    """The window's settings that the command line can be given too: TrainingConfig
    arguments as unetgui.cli._train makes them, and the matching command-line options."""
    gui = win.training.training_config()
    options = {"optimizer": gui.optimizer, "learning_rate": gui.learning_rate, "w0": gui.w0, "sigma": gui.sigma}
    argv = ["--optimizer", gui.optimizer, "--w0", f"{gui.w0:g}", "--sigma", f"{gui.sigma:g}"]
    if gui.learning_rate is not None:
        argv += ["--lr", f"{gui.learning_rate:g}"]
    return options, argv


def compare_configs(win, tile_size: int) -> str:
    """The window's TrainingConfig vs the command line's for the same run (steps aside)."""
    from unetgui.core import recipes
    from unetgui.core.train import TrainingConfig

    gui = win.training.training_config()
    cli = recipes.with_choices(recipes.SCRATCH, steps=gui.steps, tile_size=tile_size, seed=0,
                               **cli_options(win)[0])
    diff = [f"{f.name}: window {getattr(gui, f.name)!r} vs CLI {getattr(cli, f.name)!r}"
            for f in dataclasses.fields(TrainingConfig)
            if f.name not in ("steps", "max_seconds") and getattr(gui, f.name) != getattr(cli, f.name)]
    return "identical" if not diff else "; ".join(diff)


def bench_preload(runtime) -> dict:
    """Start runtime.preload_training_modules() as run_app does and probe the event loop
    until its thread ends (a user may act during it: it starts as the window shows)."""
    probe = Probe()
    probe.start()
    start = time.perf_counter()
    thread = runtime.preload_training_modules()
    while thread.is_alive():
        run_loop(20)
    seconds = time.perf_counter() - start
    probe.stop()
    pauses, _ = probe.pauses()
    return {"seconds": seconds, "worst": float(pauses.max(initial=0.0)), "over_20ms": int((pauses > 0.020).sum())}


def main_gui(args) -> None:
    import pyqtgraph as pg
    import PySide6
    import torch

    from unetgui.core import runtime
    from unetgui.core.device import describe_device

    tmp = Path(tempfile.mkdtemp(prefix="unetgui-bench-finetune-", dir=args.tmpdir))
    os.environ["UNETGUI_DATA_DIR"] = str(tmp / "user-data")
    allocator = runtime.tune_allocator()  # as run_app
    qt_app()
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)  # as run_app
    log = CallLog()
    rec = Recorder()
    rec.warm = args.warm_steps
    rec.tile_size = args.tile_size
    install(log, rec)
    started = time.perf_counter()
    try:
        image_path, labels_path, labels = make_data(tmp, args)
        collector = None
        if not args.no_gui_collector:
            from unetgui.gui.app import collect_garbage_on_gui_thread

            collector = collect_garbage_on_gui_thread()  # as run_app: no collection in the training thread
        win = make_window(tmp, args.window)
        if not win.open_image(image_path):
            raise SystemExit(f"could not open {image_path}")
        for plane in PLANES:
            win.document.set_plane_labels(plane, labels[plane])
        win.show_plane(SHOWN_PLANE)
        win.prediction_panel.refresh_seconds.setValue(args.refresh)
        fresh_model(win, args.tile_size)
        run_loop(100)
        if not args.no_gc_freeze:
            gc.collect()
            gc.freeze()  # as run_app, once the window is up
        preload = None
        if hasattr(runtime, "preload_training_modules") and not args.no_preload:
            preload = bench_preload(runtime)  # as run_app, right after the freeze
        cells = [len(np.unique(labels[p])) - 1 for p in range(args.planes)]
        omp = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT") if k in os.environ}
        print(f"Qt platform offscreen, PySide6 {PySide6.__version__}, pyqtgraph {pg.__version__}, torch "
              f"{torch.__version__}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
              + (f"environment (as the entry point sets it) {omp}; " if omp else "") +
              f"{describe_device(win.models.device)}; allocator tuned: {allocator}")
        print(f"stack {args.planes} x {args.size} x {args.size} uint16, cells per plane {cells}; training on "
              f"planes {PLANES}, {BASE_CHANNELS}-base-channel new network (seed 0), tile {args.tile_size} px; "
              f"window {args.window[0]}x{args.window[1]}; garbage collected "
              f"{'automatically' if collector is None else 'on a GUI-thread timer'}; gc.freeze(): "
              f"{'no' if args.no_gc_freeze else f'yes ({gc.get_freeze_count()} objects)'}, then a full "
              f"collection takes {ms(time_full_gc())}")
        if preload is not None:
            print(f"start-up preload of the training modules (runtime.preload_training_modules(), as run_app): "
                  f"{ms(preload['seconds'])} in its thread; event-loop pauses meanwhile: worst "
                  f"{ms(preload['worst'])}, {preload['over_20ms']} over 20 ms")
        config = win.training.training_config()
        print(f"window's training settings: optimizer {config.optimizer}, learning rate "
              f"{config.learning_rate if config.learning_rate is not None else 'automatic'}; the command line is given "
              f"'{' '.join(cli_options(win)[1])}' to match; remaining differences: "
              f"{compare_configs(win, args.tile_size)}")
        verdicts = []
        if "pauses" not in args.skip:
            out = bench_pauses(args, win, log, rec)
            verdicts += [("no event-loop pause over 50 ms while training", out["worst"] <= PAUSE_LIMIT_S,
                          f"worst {out['worst'] * 1e3:.1f} ms"),
                         ("a brush stroke lands at once", out["landed"],
                          f"latency {out['latency'] * 1e3:.2f} ms")]
        rate = float("nan")
        if "throughput" not in args.skip:
            out = bench_throughput(args, win, rec, log, (image_path, labels_path))
            rate = out["slowest_cli"]
            for mode, (ratio, idle) in out["verdicts"].items():
                verdicts.append((f"throughput {mode} >= {THROUGHPUT_TARGET:.0%} of the command line",
                                 ratio >= THROUGHPUT_TARGET,
                                 f"{ratio:.2f}" + ("" if idle else "; no idle round, machine loaded")))
        if "cli" not in args.skip:
            bench_cli(args, win, tmp, (image_path, labels_path), rate)
        if "stop" not in args.skip:
            out = bench_stop(args, win, rec)
            verdicts.append(("a stop request ends training within one step", out["ok"],
                             f"worst {out['worst_steps']} step(s) after, {ms(out['worst_latency'])}"))
        print("Summary:")
        for name, ok, detail in verdicts:
            print(f"   {verdict(ok)}  {name} ({detail})")
        close_window(win)
    finally:
        log.restore()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"total {time.perf_counter() - started:.0f} s")


def size_arg(text: str) -> tuple[int, int]:
    w, h = (int(v) for v in text.lower().split("x"))
    return w, h


def app_training_threads() -> int:
    """Torch threads the app trains with beside the window (unetgui.core.runtime, if it says)."""
    from unetgui.core import runtime

    if hasattr(runtime, "training_threads"):
        return runtime.training_threads()
    import torch

    return torch.get_num_threads()


def entry_point_settings() -> None:
    """What unetgui.cli.main (the entry point of the window and the command line) sets up
    before torch loads: e.g. OMP_WAIT_POLICY=PASSIVE (runtime.quiet_openmp), where it does."""
    from unetgui.core import runtime

    if hasattr(runtime, "quiet_openmp"):
        runtime.quiet_openmp()


def main() -> None:
    entry_point_settings()
    if HEADLESS:
        print("JSON:" + json.dumps(headless_train(json.loads(sys.argv[2]))), flush=True)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="probed training run (s)")
    parser.add_argument("--tile-size", type=int, default=252)
    parser.add_argument("--refresh", type=int, default=5, help="live prediction every N s")
    parser.add_argument("--stroke-every", type=float, default=2.0)
    parser.add_argument("--moves", type=int, default=16, help="mouse moves per stroke")
    parser.add_argument("--spacing-ms", type=int, default=12)
    parser.add_argument("--radius", type=int, default=6)
    parser.add_argument("--explain", type=int, default=3, help="longest pauses to explain")
    parser.add_argument("--tp-seconds", type=float, default=10.0, help="training time per throughput run")
    parser.add_argument("--rounds", type=int, default=2, help="throughput rounds (one run of each mode)")
    parser.add_argument("--warm-steps", type=int, default=2, help="steps left out of the steady rate")
    parser.add_argument("--what-if-threads", type=int, default=None,
                        help="add window runs with torch.set_num_threads(N) in the training thread "
                             "(this process only; default: the other choice than the app's, all CPUs or "
                             "CPUs - 1; 0: leave out)")
    parser.add_argument("--worker-threads", type=int, default=None,
                        help="WHAT-IF for the probed run (section 1): torch.set_num_threads(N) in the "
                             "training thread (this process only)")
    parser.add_argument("--no-passive-cli", dest="passive_cli", action="store_false",
                        help="leave out the headless runs with the other OpenMP wait policy")
    parser.add_argument("--startup-s", type=float, default=5.0,
                        help="also report the pauses after this many seconds of the probed run")
    parser.add_argument("--stops", type=int, default=5)
    parser.add_argument("--stop-delay", type=float, default=3.0, help="stop within this many s after step 2")
    parser.add_argument("--planes", type=int, default=3)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--cells", type=int, default=60)
    parser.add_argument("--window", type=size_arg, default=(1400, 900))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip", default="", help="comma list of pauses, throughput, cli, stop")
    parser.add_argument("--no-gui-collector", action="store_true",
                        help="leave Python's collector automatic, in whichever thread trips it (run_app "
                             "collects on a GUI-thread timer)")
    parser.add_argument("--no-preload", action="store_true",
                        help="leave out run_app's runtime.preload_training_modules()")
    parser.add_argument("--no-gc-freeze", action="store_true", help="leave out run_app's gc.freeze()")
    parser.add_argument("--profile", action="store_true", help="cProfile the GUI thread in the probed run")
    parser.add_argument("--tmpdir", default=None)
    args = parser.parse_args()
    args.skip = {p.strip() for p in args.skip.split(",") if p.strip()}
    main_gui(args)


if __name__ == "__main__":
    main()
