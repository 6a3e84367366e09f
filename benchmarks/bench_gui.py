"""GUI responsiveness: brush dab vs plane size, opening a 2 GB stack, event-loop pauses.

Prints figures and PASS/MISS only (no timing asserts). Targets:

1. dab: a brush dab on a 4096x4096 plane, through the real window until it is painted,
   costs at most 2x a dab on a 512x512 plane.
2. open: opening a 2 GB stack (and a zlib one) shows the first plane in at most 2x the
   window's open of a one-plane file of the same plane size; RSS grows by < 5% of the file.
3. pauses: no pause of the GUI event loop over 50 ms on a 2048x2048 plane while painting
   (A) and while the weight map recomputes (B); the worst trial is explained.

The benchmark attaches to public hooks only (public methods and signals of the window's
parts, ``LatestOnly.submit``, ``WeightMapController.busy``). How each part is measured,
and why, is in benchmarks/README.md ("The window benchmarks"). The 2 GB file goes to a
temporary folder and is deleted.

    python benchmarks/bench_gui.py [--only dab,open,pauses] [--repeats 40] [--open-repeats 3]
        [--stack-shape 256x2048x2048] [--trials 3] [--what-if switch-1ms] [--no-gc-freeze]
        [--profile]
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import tifffile  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _gui_probe import (  # noqa: E402  (shared with bench_finetune.py)
    PAUSE_LIMIT_S,
    PROBE_MS,
    CallLog,
    Probe,
    close_window,
    drag,
    explain_pauses,
    gc_summary,
    make_window,
    maybe_profile,
    ms,
    pause_stats,
    qt_app,
    run_loop,
    time_full_gc,
    verdict,
    wait_until,
)
from PySide6 import QtCore, QtGui  # noqa: E402

WEIGHTS_DELAY_MS = 250  # WeightMapController's debounce before a weight map recompute
MB = 1e6


# --------------------------------------------------------------------------- helpers


def proc_status() -> dict[str, int]:
    """VmRSS, RssAnon, RssFile, VmHWM of this process in bytes (Linux)."""
    out = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
    return out


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def drop_page_cache(paths) -> str:
    """Evict ``paths`` from the page cache: drop_caches (root) and posix_fadvise."""
    os.sync()
    how = []
    try:
        with open("/proc/sys/vm/drop_caches", "w") as handle:
            handle.write("3\n")
        how.append("drop_caches ok")
    except OSError as error:
        how.append(f"drop_caches failed ({error.strerror})")
    try:
        for path in paths:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
        how.append("fadvise(DONTNEED) ok")
    except (OSError, AttributeError) as error:
        how.append(f"fadvise failed ({error})")
    return ", ".join(how)


def paint_now(canvas) -> bool:
    """Let the event loop repaint the canvas; True if it rendered the image items itself.

    Falls back to a synchronous viewport repaint if an item still waits for its render.
    """
    qt_app().processEvents()
    items = (canvas.image_item, canvas.labels_item)
    if any(getattr(item, "_renderRequired", False) for item in items if item.image is not None):
        canvas.viewport().repaint()
        return False
    return True


def write_plane_tiff(path: Path, size: int, seed: int = 0) -> None:
    image = np.random.default_rng(seed).integers(100, 4000, (size, size), dtype=np.uint16)
    tifffile.imwrite(path, image, imagej=True, photometric="minisblack")


def touching_cells(size: int, n_cells: int, seed: int) -> np.ndarray:
    """(size, size) Voronoi-like cells grown from random seeds (as bench_weightmap.py)."""
    from skimage.segmentation import expand_labels

    rng = np.random.default_rng(seed)
    seeds = np.zeros((size, size), dtype=np.int32)
    points = rng.integers(0, size, size=(n_cells, 2))
    seeds[points[:, 0], points[:, 1]] = np.arange(1, n_cells + 1)
    return expand_labels(seeds, int(0.55 * size / np.sqrt(n_cells))).astype(np.uint32)


# --------------------------------------------------------------------------- PySide check

_TRUE_BALLAST: list[bool] = []


def signal_refcount_leak() -> int:
    """References to True that one emit of a Python-declared Signal loses (0 if sound).

    PySide6 6.12.0 loses one per emit of any Python-declared Signal; pyqtgraph emits
    several per repaint and mouse move, so the window aborts with "Fatal Python error:
    bool_dealloc" after ~1000 brush moves (6.11.3 is sound).
    """

    class Emitter(QtCore.QObject):
        fired = QtCore.Signal()

    emitter = Emitter()
    before = sys.getrefcount(True)
    for _ in range(100):
        emitter.fired.emit()
    return round((before - sys.getrefcount(True)) / 100)


# --------------------------------------------------------------------------- call timing


def install_call_log() -> CallLog:
    """Timed wrappers around public methods (before the window exists: signal connections
    bind methods then) and around the jobs the window hands to its thread pools."""
    import pyqtgraph as pg

    from unetgui.core.labels import LabelDocument
    from unetgui.gui.autosave import Autosaver
    from unetgui.gui.canvas import Canvas
    from unetgui.gui.main_window import MainWindow
    from unetgui.gui.view_state import ViewState
    from unetgui.gui.weight_map import WeightMapController
    from unetgui.gui.workers import LatestOnly

    log = CallLog()
    for attr in ("show_plane", "open_image"):
        log.wrap(MainWindow, attr, f"MainWindow.{attr}")
    for attr in ("labels_changed", "set_weights", "set_labels", "set_image", "set_layer_visible", "set_outlines"):
        log.wrap(Canvas, attr, f"Canvas.{attr}")
    for attr in ("show", "set_parameters"):
        log.wrap(WeightMapController, attr, f"WeightMapController.{attr}")
    log.wrap(ViewState, "set_visible", "ViewState.set_visible")
    for attr in ("changed", "save_soon"):
        log.wrap(Autosaver, attr, f"Autosaver.{attr}")
    log.wrap(LabelDocument, "stroke_to", "LabelDocument.stroke_to (dab and the window's handling)")
    log.wrap(LabelDocument, "set_plane_labels", "LabelDocument.set_plane_labels")
    log.wrap(pg.ImageItem, "render", lambda item, *_: "ImageItem.render " + (
        f"{item.image.dtype}" if getattr(item, "image", None) is not None else ""))
    log.wrap(pg.GraphicsView, "paintEvent", "GraphicsView.paintEvent (canvas repaint)")
    log.wrap_jobs(LatestOnly)  # weight maps and autosaves, timed in the worker threads
    return log


# --------------------------------------------------------------------------- 1. dab


def bench_dab(args, tmp: Path) -> None:
    from unetgui.core.labels import LabelDocument

    sizes = (512, 4096)
    print(f"1) Brush dab, full path (document -> event -> window -> canvas -> repaint); "
          f"radius {args.radius:g} px, window {args.window[0]}x{args.window[1]}, "
          f"best of {args.repeats}, interleaved")
    wins, docs = {}, {}
    for size in sizes:
        path = tmp / f"plane{size}.tif"
        write_plane_tiff(path, size)
        win = make_window(tmp, args.window)
        if not win.open_image(path):
            raise SystemExit(f"could not open {path}")
        win.session.autosaver.detach()  # no sidecar writes in the background while timing
        paint_now(win.canvas)
        wins[size] = win
        docs[size] = LabelDocument(1, (size, size))  # reference: the document alone
    viewport = wins[sizes[0]].canvas.viewport().size()
    print(f"   canvas viewport {viewport.width()}x{viewport.height()} px, whole plane in view")

    def dab(doc, i):
        doc.begin_stroke(0, value=1 + i % 2, radius=args.radius)
        doc.stroke_to(200.0 + i % 7, 200.0 + i % 5)
        doc.end_stroke()

    for size in sizes:  # allocate the planes and warm up
        for i in range(3):
            dab(wins[size].document, i)
            paint_now(wins[size].canvas)
            dab(docs[size], i)

    full = {s: [] for s in sizes}
    edit = {s: [] for s in sizes}
    doc_only = {s: [] for s in sizes}
    repaint_only = {s: [] for s in sizes}
    fallbacks = 0
    for i in range(args.repeats):
        for size in sizes:
            win = wins[size]
            t0 = time.perf_counter()
            dab(win.document, i)
            t1 = time.perf_counter()
            fallbacks += not paint_now(win.canvas)
            t2 = time.perf_counter()
            full[size].append(t2 - t0)
            edit[size].append(t1 - t0)
            t0 = time.perf_counter()
            dab(docs[size], i)
            doc_only[size].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            win.canvas.viewport().repaint()
            repaint_only[size].append(time.perf_counter() - t0)

    for label, data in (("full path (dab + repaint)", full),
                        ("  dab -> event -> labels_changed", edit),
                        ("  LabelDocument alone (no window)", doc_only),
                        ("  canvas repaint, nothing changed", repaint_only)):
        small, large = min(data[sizes[0]]), min(data[sizes[1]])
        print(f"   {label:34s} {sizes[0]}^2: {small * 1e3:6.3f} ms   {sizes[1]}^2: "
              f"{large * 1e3:6.3f} ms   ratio {large / small:5.2f}   (median {sizes[1]}^2: "
              f"{np.median(data[sizes[1]]) * 1e3:.3f} ms)")
    ratio = min(full[sizes[1]]) / min(full[sizes[0]])
    print(f"   -> dab ratio 4096^2 / 512^2 = {ratio:.2f} (target <= 2): {verdict(ratio <= 2)}"
          + (f"   [{fallbacks} repaint(s) needed a forced viewport repaint]" if fallbacks else ""))
    for win in wins.values():
        close_window(win)


# --------------------------------------------------------------------------- 2. open


def write_stack(path: Path, shape: tuple[int, int, int], compressed: bool) -> float:
    planes, rows, cols = shape
    rng = np.random.default_rng(1)
    if compressed:  # smooth content so that zlib has something to compress
        y, x = np.mgrid[0:rows, 0:cols]
        base = (1000 + 800 * np.sin(y / 37.0) * np.cos(x / 53.0)).astype(np.uint16)
        base += rng.integers(0, 16, (rows, cols), dtype=np.uint16)
    else:
        base = rng.integers(100, 4000, (rows, cols), dtype=np.uint16)

    def planes_of():
        for k in range(planes):
            yield base + np.uint16(k)

    start = time.perf_counter()
    options = dict(compression="zlib", compressionargs={"level": 1}, metadata={"axes": "ZYX"}) \
        if compressed else dict(imagej=True, metadata={"axes": "ZYX"})
    tifffile.imwrite(path, planes_of(), shape=shape, dtype=np.uint16, photometric="minisblack",
                     **options)
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())
    return time.perf_counter() - start


def bench_open(args, tmp: Path) -> None:
    from unetgui.core.io import open_image

    shape = args.stack_shape
    big = tmp / "stack_2gb.tif"
    zipped = tmp / "stack_zlib.tif"
    single = tmp / "single_plane.tif"
    write_plane_tiff(single, shape[1])  # same plane size, one plane
    nbytes = int(np.prod(shape)) * 2
    seconds = write_stack(big, shape, compressed=False)
    zshape = (args.zlib_planes, shape[1], shape[2])
    zseconds = write_stack(zipped, zshape, compressed=True) if args.zlib_planes else None
    print(f"2) Opening stacks (window {args.window[0]}x{args.window[1]})")
    print(f"   uncompressed ImageJ {shape[0]} x {shape[1]} x {shape[2]} uint16: "
          f"{big.stat().st_size / 1e9:.2f} GB, written in {seconds:.1f} s")
    if zseconds is not None:
        print(f"   zlib (level 1) {zshape[0]} x {zshape[1]} x {zshape[2]} uint16: "
              f"{zipped.stat().st_size / MB:.0f} MB on disk ({np.prod(zshape) * 2 / MB:.0f} MB "
              f"of pixels), written in {zseconds:.1f} s")
    with open_image(big) as stack:
        print(f"   core reads the big stack memory-mapped: {stack.is_memory_mapped}")
    if zseconds is not None:
        with open_image(zipped) as stack:
            print(f"   core reads the zlib stack memory-mapped: {stack.is_memory_mapped}")

    win = make_window(tmp, args.window)
    fresh = {}

    def tifffile_page(path):
        with tifffile.TiffFile(path) as tif:
            return tif.pages[0].asarray()

    def core_plane(path):
        with open_image(path) as stack:
            return stack.read_plane(0)

    def window_open(path):
        target = fresh.get("window", win)  # cold: a new window, so RSS counts every buffer
        if not target.open_image(path):
            raise SystemExit(f"window could not open {path}")
        target.session.autosaver.detach()
        paint_now(target.canvas)

    def measure(fn, path):
        before = proc_status()
        peak_ok = reset_peak_rss()
        start = time.perf_counter()
        fn(path)
        seconds = time.perf_counter() - start
        after = proc_status()
        grow = {k: after[k] - before[k] for k in ("VmRSS", "RssAnon", "RssFile")}
        grow["peak"] = after["VmHWM"] - before["VmRSS"] if peak_ok else None
        return seconds, grow

    window_open(single)  # the first open pays for imports and first-time widget work
    files = [p for p in (big, zipped, single) if p.exists()]
    readers = (("tifffile page 0", tifffile_page), ("core open + read_plane(0)", core_plane),
               ("window open -> first plane painted", window_open))
    big_name = f"{nbytes / 1e9:.1f} GB stack"
    cases = [(big_name, big)] + ([("zlib stack", zipped)] if zseconds is not None else []) \
        + [("one-plane file", single)]

    cold: dict[tuple[str, str], tuple[float, dict]] = {}
    how = ""
    for case, path in cases:
        for name, fn in readers:
            if fn is window_open:
                fresh["window"] = make_window(tmp, args.window)
            how = drop_page_cache(files)
            cold[case, name] = measure(fn, path)
            if fn is window_open:
                close_window(fresh.pop("window"))
    warm: dict[tuple[str, str], list[float]] = {}
    warm_mem: dict[tuple[str, str], dict] = {}
    for _ in range(args.open_repeats):
        for case, path in cases:
            for name, fn in readers:
                seconds, grow = measure(fn, path)
                warm.setdefault((case, name), []).append(seconds)
                warm_mem[case, name] = grow
    print(f"   cold = page cache dropped before each ({how}); warm = best of "
          f"{args.open_repeats}, interleaved")
    for case, _path in cases:
        print(f"   {case}:")
        for name, _fn in readers:
            c, w = cold[case, name][0], min(warm[case, name])
            print(f"     {name:36s} cold {ms(c):>9s}   warm {ms(w):>9s}")
    c_read = cold[big_name, "tifffile page 0"][0]
    print(f"   evidence the cache drop worked: tifffile page 0 of the {big_name} cold/warm = "
          f"{c_read / min(warm[big_name, 'tifffile page 0']):.1f}x")

    key = (big_name, "window open -> first plane painted")
    one = ("one-plane file", "window open -> first plane painted")
    page = (big_name, "tifffile page 0")
    for label, data in (("cold", {k: v[0] for k, v in cold.items()}),
                        ("warm", {k: min(v) for k, v in warm.items()})):
        vs_one = data[key] / data[one]
        vs_page = data[key] / data[page]
        print(f"   {label}: window open of the {big_name} = {vs_one:.2f}x the window open of one "
              f"plane, {vs_page:.1f}x a bare tifffile read of one plane; "
              f"{verdict(vs_one <= 2)} (target: about one plane's read, <= 2x)")
    if ("zlib stack", "window open -> first plane painted") in cold:
        zkey = ("zlib stack", "window open -> first plane painted")
        vs_one = cold[zkey][0] / cold[one][0]
        print(f"   zlib stack, cold: window open = {vs_one:.2f}x the one-plane open "
              f"({ms(cold[zkey][0])} vs {ms(cold[one][0])}; decoding one page: "
              f"{ms(cold['zlib stack', 'tifffile page 0'][0])})")

    for label, grow in (("cold, new window", cold[key][1]),
                        ("warm, window reused", warm_mem[key])):
        peak = grow["peak"]
        worst = max(grow["VmRSS"], peak or 0)
        print(f"   memory, window open of the {big_name}, {label}: RSS {grow['VmRSS'] / MB:+.0f} MB "
              f"(anon {grow['RssAnon'] / MB:+.0f}, file-backed {grow['RssFile'] / MB:+.0f})"
              + (f", peak {peak / MB:+.0f} MB" if peak is not None else ", peak n/a")
              + f" = {worst / nbytes:.1%} of {nbytes / 1e9:.2f} GB: "
              f"{verdict(worst < 0.05 * nbytes)} (target < 5%)")
    close_window(win)
    for path in files:
        path.unlink(missing_ok=True)
        shutil.rmtree(path.with_name(path.name + ".unetgui"), ignore_errors=True)


# --------------------------------------------------------------------------- 3. pauses


def bench_pauses(args, tmp: Path) -> None:
    size, n_cells = 2048, args.cells
    log = install_call_log()
    try:
        path = tmp / "plane2048.tif"
        write_plane_tiff(path, size)
        start = time.perf_counter()
        labels = touching_cells(size, n_cells, seed=1)
        n_found = len(np.unique(labels)) - 1
        print(f"3) Event-loop pauses (QTimer probe every {PROBE_MS} ms), {size}x{size} plane, "
              f"{n_found} cells (made in {time.perf_counter() - start:.1f} s), window "
              f"{args.window[0]}x{args.window[1]}, {args.trials} trial(s) per scenario; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        win = make_window(tmp, args.window)
        win.open_image(path)
        paint_now(win.canvas)
        results = []  # one entry per weight map the window was handed (WeightMapController.ready)
        win.weights.ready.connect(lambda _plane, _weights, _levels: results.append("weights"))

        log.clear()
        start = time.perf_counter()
        win.document.set_plane_labels(0, labels)
        set_s = time.perf_counter() - start
        paint_now(win.canvas)
        redraw = max((e - s for n, s, e in log.calls if n == "Canvas.labels_changed"), default=0)
        print(f"   setup (not probed): document.set_plane_labels on the GUI thread {ms(set_s)} "
              f"(Canvas.labels_changed of the whole plane {ms(redraw)})")
        weights_box = win.layers_panel.visible["weights"]
        weights_box.setChecked(True)  # the user turns the weight map layer on
        start = time.perf_counter()
        wait_until(lambda: "weights" in results and not win.weights.busy, 60)
        print(f"   first weight map shown {time.perf_counter() - start:.2f} s after the layer was "
              f"turned on ({WEIGHTS_DELAY_MS} ms debounce + worker)")
        win.session.autosaver.save_soon()  # the pending autosave lands before probing
        wait_until(lambda: not win.session.jobs.busy("autosave"), 60)
        if not args.no_gc_freeze:  # as unetgui.gui.app.run_app once the window is up
            gc.collect()
            gc.freeze()
        full_gc = time_full_gc()
        print(f"   objects the garbage collector tracks: {len(gc.get_objects())} "
              f"(+{gc.get_freeze_count()} frozen); a full collection takes {ms(full_gc)} and holds "
              f"the GIL, so each one Python starts now and then, in either thread, pauses the GUI "
              f"that long: {verdict(full_gc <= PAUSE_LIMIT_S)}")
        win.choose_tool("paint")
        win.tool_state.set_radius(8)
        rng = np.random.default_rng(2)

        def scenario_a():
            win.tool_state.set_label(win.document.next_free_id())
            moves = 0
            for _stroke in range(args.strokes):
                r0, c0 = rng.uniform(300, size - 300, 2)
                angle = rng.uniform(0, 2 * np.pi)
                n = args.moves // args.strokes
                steps = np.arange(n)[:, None] * 18.0 * np.array([[np.sin(angle), np.cos(angle)]])
                points = np.clip(np.array([[r0, c0]]) + steps + rng.normal(0, 4, (n, 2)), 5, size - 5)
                drag(win.canvas, [tuple(p) for p in points])
                moves += n
                run_loop(args.stroke_gap_ms)
            wait_until(lambda: not win.weights.busy, 60)
            run_loop(3300)  # the autosave fires 3 s after the last change
            wait_until(lambda: not win.session.jobs.busy("autosave"), 60)
            run_loop(100)
            return f"{moves} moves"

        def scenario_b():
            weights_box.setChecked(False)
            run_loop(300)
            log.clear()
            weights_box.setChecked(True)
            w0_values = (8.0, 12.0, 6.0)
            for k, value in enumerate(w0_values):  # changes during and after each compute
                QtCore.QTimer.singleShot(150 + 450 * k, lambda v=value: win.weights_panel.w0.setValue(v))
            run_loop(150 + 450 * len(w0_values))
            wait_until(lambda: not win.weights.busy, 60)
            run_loop(200)
            return f"w0 changed {len(w0_values)}x"

        verdicts = {}
        for key, title, scenario in (
            ("A", f"A painting: {args.strokes} strokes of synthetic drags (moves 12 ms apart, "
                  f"{args.stroke_gap_ms} ms between strokes), autosave included", scenario_a),
            ("B", "B weight map: weights layer toggled on, then w0 changed 3x 450 ms apart",
             scenario_b),
        ):
            print(f"   {title}")
            worst_trial = None
            for trial in range(args.trials):
                log.clear()
                results.clear()
                probe = Probe(worker_tids=lambda: log.worker_tids)
                t0 = time.perf_counter()
                probe.start()
                with maybe_profile(args.profile and trial == 0, f"{key}, trial 1"):
                    what = scenario()
                probe.stop()
                worst, p99, over = pause_stats(probe)
                jobs = [e - s for n, s, e in log.worker if n == "worker: weights job"]
                saves = sum(1 for n, *_ in log.calls if n == "Autosaver.save_soon")
                print(f"     trial {trial + 1}: {len(probe.ticks) - 1} gaps in {probe.ticks[-1] - t0:.1f} s, "
                      f"{what}; weight map computed {len(jobs)}x "
                      f"({ms(min(jobs)) if jobs else '-'}..{ms(max(jobs)) if jobs else '-'} in the worker), "
                      f"{results.count('weights')} shown"
                      + (f", autosave {saves}x" if saves else "")
                      + f": worst pause {worst * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms, "
                      f"{over} over {PAUSE_LIMIT_S * 1e3:.0f} ms" + gc_summary(log.gc))
                if worst_trial is None or worst > worst_trial[0]:
                    worst_trial = (worst, p99, trial, probe, (list(log.calls), list(log.worker),
                                                              list(log.gc)), t0)
            worst, p99, trial, probe, records, t0 = worst_trial
            saved = (log.calls, log.worker, log.gc)
            log.calls, log.worker, log.gc = records
            print(f"     -> worst over trials {worst * 1e3:.1f} ms (p99 of that trial {p99 * 1e3:.1f} ms): "
                  f"{verdict(worst <= PAUSE_LIMIT_S)} (target <= {PAUSE_LIMIT_S * 1e3:.0f} ms); "
                  f"trial {trial + 1} in detail:")
            explain_pauses(probe, log, t0, worker_note="a weight-map or autosave job running in a worker")
            log.calls, log.worker, log.gc = saved
            verdicts[key] = worst <= PAUSE_LIMIT_S
        print(f"   -> no pause over {PAUSE_LIMIT_S * 1e3:.0f} ms while painting: {verdict(verdicts['A'])}; "
              f"while the weight map recomputes: {verdict(verdicts['B'])}")
        close_window(win)
    finally:
        log.restore()


# --------------------------------------------------------------------------- main


def shape_arg(text: str) -> tuple[int, int, int]:
    parts = tuple(int(v) for v in text.lower().split("x"))
    if len(parts) != 3:
        raise argparse.ArgumentTypeError("use PLANESxROWSxCOLS, e.g. 256x2048x2048")
    return parts


def size_arg(text: str) -> tuple[int, int]:
    w, h = (int(v) for v in text.lower().split("x"))
    return w, h


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="dab,open,pauses", help="comma list of dab, open, pauses")
    parser.add_argument("--repeats", type=int, default=40, help="dabs per size (best of)")
    parser.add_argument("--radius", type=float, default=10.0)
    parser.add_argument("--window", type=size_arg, default=(1800, 1000),
                        help="window size WxH (at 1400x900 the docks leave the canvas ~570 px)")
    parser.add_argument("--stack-shape", type=shape_arg, default=(256, 2048, 2048))
    parser.add_argument("--zlib-planes", type=int, default=16, help="0: skip the zlib stack")
    parser.add_argument("--open-repeats", type=int, default=3)
    parser.add_argument("--cells", type=int, default=1200)
    parser.add_argument("--strokes", type=int, default=3)
    parser.add_argument("--moves", type=int, default=120, help="mouse moves in all strokes")
    parser.add_argument("--stroke-gap-ms", type=int, default=450)
    parser.add_argument("--trials", type=int, default=3, help="runs of each pause scenario")
    parser.add_argument("--profile", action="store_true", help="cProfile the pause scenarios")
    parser.add_argument("--tmpdir", default=None, help="where the test files go (default: system temp)")
    parser.add_argument("--what-if", default="",
                        help="comma list of changes to try in this process only (not the app's "
                             "code): switch-1ms (sys.setswitchinterval(0.001): the GIL changes "
                             "hands faster)")
    parser.add_argument("--no-gc-freeze", action="store_true",
                        help="leave out run_app's gc.collect(); gc.freeze() once the window is up")
    args = parser.parse_args()
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    args.what_if = {p.strip() for p in args.what_if.split(",") if p.strip()}

    tmp = Path(tempfile.mkdtemp(prefix="unetgui-bench-gui-", dir=args.tmpdir))
    os.environ["UNETGUI_DATA_DIR"] = str(tmp / "user-data")  # session markers, fallback sidecars
    qt_app()
    import pyqtgraph
    import PySide6

    print(f"Qt platform {QtGui.QGuiApplication.platformName()}, PySide6 {PySide6.__version__}, "
          f"pyqtgraph {pyqtgraph.__version__}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}, files in {tmp}")
    leak = signal_refcount_leak()
    if leak:
        _TRUE_BALLAST.extend([True] * 2_000_000)  # keeps this run alive; the app has no such luck
        print(f"WARNING: PySide6 {PySide6.__version__} loses {leak} reference(s) to True per "
              "Signal.emit(); the window aborts ('Fatal Python error: bool_dealloc') after about "
              "a thousand brush moves. This run holds extra references to True to finish.")
    if "switch-1ms" in args.what_if:
        sys.setswitchinterval(0.001)
    if args.what_if:
        print(f"WHAT-IF run (patched in this process only, not the app's code): "
              f"{', '.join(sorted(args.what_if))}")
    started = time.perf_counter()
    try:
        if "dab" in parts:
            bench_dab(args, tmp)
        if "open" in parts:
            bench_open(args, tmp)
        if "pauses" in parts:
            bench_pauses(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
