"""Projects: switching images, opening a large project, memory over many images, and
fine-tuning across images.

Prints figures and PASS/MISS only (no timing asserts). Targets (issue "Projects"):

1. switch: moving to the next 2048x2048 image (Project > Next image), until its first
   plane is painted with its labels, takes at most 300 ms when warm (each image visited
   once before). Against the window opening the same file from nothing (File > Open).
2. open: while a project of 200 images opens (the list fills in, thumbnails and states
   come from a worker), the event loop never pauses over 50 ms.
3. memory: the window's resident memory after visiting 100 images of 2048x2048 stays
   within a fixed budget over the memory after the first 10 (printed), rather than
   growing with the number of images.
4. steps: fine-tuning on planes from 10 images has the same steps/s as on one image,
   within 10% (core.project_jobs.training_set, then core.train.train; the two runs are
   interleaved, median of the repeats).

Everything is written to a temporary folder and deleted. The 100 images of part 3 are
hard links of 10 files (so the disk holds 10): each link is its own image to the
window (its own path, sidecar and annotations).

    python benchmarks/bench_project.py [--only switch,open,memory,steps] [--images 200]
        [--visits 100] [--budget-mb 150] [--steps 20] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import tifffile  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _gui_probe import PAUSE_LIMIT_S, Probe, close_window, make_window, ms, qt_app, verdict  # noqa: E402
from PySide6 import QtCore  # noqa: E402

SWITCH_LIMIT_S = 0.300


def cells_image(size: int, seed: int, planes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(planes, size, size) uint16 synthetic cells and the labels of the first plane."""
    from unetgui.core.synthetic import SyntheticConfig, synthetic_stack

    config = SyntheticConfig(shape=(size, size), n_cells=max(8, (size // 40) ** 2), radius_range=(8, 14))
    image, labels = synthetic_stack(planes, config, np.random.default_rng(seed))
    return image.astype(np.uint16), labels[0]


def write_annotated(path: Path, image: np.ndarray, labels: np.ndarray) -> None:
    """The image, and its first plane's labels saved as the window's autosave does."""
    from unetgui.core import annotations

    tifffile.imwrite(path, image, imagej=True, metadata={"axes": "TYX"})
    shape = (image.shape[0], 1, *image.shape[1:])
    annotations.save_annotations(path, annotations.AnnotationState(shape, {0: labels.astype(np.uint32)}, {},
                                                                   {0: "train"}, {}))


def painted(win) -> None:
    """Until the canvas has painted what the window shows (as bench_gui.paint_now)."""
    app = qt_app()
    app.processEvents()
    items = (win.canvas.image_item, win.canvas.labels_item)
    if any(getattr(item, "_renderRequired", False) for item in items if item.image is not None):
        win.canvas.viewport().repaint()


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def wait_idle(win, seconds: float = 60.0) -> None:
    """Until the project's list has its thumbnails and states."""
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        qt_app().processEvents()
        panel = win.images_panel
        if all("..." not in panel.list.item(r).text() for r in range(panel.list.count())):
            return
        time.sleep(0.01)


# ------------------------------------------------------------------ 1. switching


def bench_switch(tmp: Path, size: int, n_images: int, rounds: int) -> None:
    folder = tmp / "switch"
    folder.mkdir()
    for i in range(n_images):
        image, labels = cells_image(size, i)
        write_annotated(folder / f"img{i:02d}.tif", image, labels)
    win = make_window(tmp, (1400, 900))
    win.open_folder(folder)
    wait_idle(win)
    for _ in range(n_images):  # warm: every image opened once
        win.project.step(+1)
        painted(win)
    win.project.go(0)
    painted(win)
    times = []
    for _ in range(rounds):
        for _ in range(n_images - 1):
            start = time.perf_counter()
            win.actions_by_id["next_image"].trigger()
            painted(win)
            times.append(time.perf_counter() - start)
            assert win.document.labels_of(0).any(), "the labels were not shown"
        win.project.go(0)
        painted(win)
    single = []
    for i in range(min(4, n_images)):
        start = time.perf_counter()
        win.session.open(folder / f"img{i:02d}.tif")
        painted(win)
        single.append(time.perf_counter() - start)
    close_window(win)
    median, worst = statistics.median(times), max(times)
    print(f"\n1. Next image, {size}x{size} with labels, warm ({len(times)} switches of {n_images} images)")
    print(f"   median {ms(median)}, worst {ms(worst)}; File > Open of the same files: median "
          f"{ms(statistics.median(single))}")
    print(f"   target <= {ms(SWITCH_LIMIT_S)} (worst): {verdict(worst <= SWITCH_LIMIT_S)}")


# ------------------------------------------------------------------ 2. opening 200 images


def bench_open(tmp: Path, n_images: int, size: int) -> None:
    folder = tmp / "open"
    folder.mkdir()
    for i in range(n_images):
        image, labels = cells_image(size, 1000 + i % 10, planes=1)
        (write_annotated if i % 20 == 0 else lambda p, im, _l: tifffile.imwrite(p, im, imagej=True))(
            folder / f"field{i:03d}.tif", image, labels)
    win = make_window(tmp, (1400, 900))
    probe = Probe()
    loop = QtCore.QEventLoop()
    start = time.perf_counter()
    finished = {}

    def run():
        win.open_folder(folder)
        finished["listed"] = time.perf_counter() - start

    win.session.opened.connect(lambda: finished.setdefault("opened", time.perf_counter() - start))

    def check():
        panel = win.images_panel
        if panel.list.count() == n_images and all("..." not in panel.list.item(r).text() for r in range(n_images)):
            finished["filled"] = time.perf_counter() - start
            loop.quit()

    probe.start()
    QtCore.QTimer.singleShot(20, run)
    poll = QtCore.QTimer()
    poll.timeout.connect(check)
    poll.start(50)
    QtCore.QTimer.singleShot(300_000, loop.quit)
    loop.exec()
    probe.stop()
    poll.stop()
    close_window(win)
    print(f"\n2. Opening a project of {n_images} images of {size}x{size} (every 20th annotated)")
    nan = float("nan")
    print(f"   list shown after {ms(finished.get('listed', nan))}, first image open after "
          f"{ms(finished.get('opened', nan))}, every thumbnail and state after {ms(finished.get('filled', nan))}")
    pauses, _ = probe.pauses()
    worst = int(np.argmax(pauses))
    ran, waited, slept = probe.split(worst)
    print(f"   worst event-loop pause {ms(pauses[worst])} (the GUI thread ran {ms(ran)}, waited for a CPU "
          f"{ms(waited)}, slept {ms(slept)}); target <= {ms(PAUSE_LIMIT_S)}: {verdict(pauses[worst] <= PAUSE_LIMIT_S)}")
    for line in probe.stacks.get(worst, [])[:6]:
        print(f"     meanwhile: {line}")


# ------------------------------------------------------------------ 3. memory


def bench_memory(tmp: Path, visits: int, size: int, budget_mb: float) -> None:
    folder = tmp / "memory"
    folder.mkdir()
    sources = []
    for i in range(10):
        image, labels = cells_image(size, 2000 + i)
        path = tmp / f"source{i}.tif"
        tifffile.imwrite(path, image, imagej=True, metadata={"axes": "TYX"})
        sources.append((path, labels))
    from unetgui.core import annotations

    for i in range(visits):
        path, labels = sources[i % 10]
        link = folder / f"visit{i:03d}.tif"
        os.link(path, link)
        annotations.save_annotations(link, annotations.AnnotationState((2, 1, size, size),
                                                                       {0: labels.astype(np.uint32)}, {},
                                                                       {0: "train"}, {}))
    win = make_window(tmp, (1400, 900))
    win.open_folder(folder)
    wait_idle(win, 300)
    marks = {}
    for visit in range(1, visits):
        win.project.step(+1)
        document = win.document  # a stroke on each, so each has an undo history and an autosave
        document.begin_stroke(0, value=7, radius=6)
        document.stroke_to(size / 2, size / 2)
        document.stroke_to(size / 2 + 40, size / 2)
        document.end_stroke()
        painted(win)
        if visit + 1 in (10, 25, 50, visits):
            marks[visit + 1] = rss_mb()
    close_window(win)
    growth = marks[visits] - marks[10]
    print(f"\n3. Resident memory while visiting {visits} images of {size}x{size} (2 planes, labels on one)")
    print("   " + ", ".join(f"after {k}: {v:.0f} MB" for k, v in marks.items()))
    print(f"   growth from image 10 to {visits}: {growth:+.0f} MB; budget {budget_mb:.0f} MB: "
          f"{verdict(growth <= budget_mb)}")


# ------------------------------------------------------------------ 4. steps/s


def bench_steps(tmp: Path, steps: int, repeats: int, size: int) -> None:
    import torch

    from unetgui.core import recipes
    from unetgui.core.model import new_model
    from unetgui.core.project import open_project
    from unetgui.core.project_jobs import training_set
    from unetgui.core.train import train

    torch.set_num_threads(max(1, (os.cpu_count() or 2)))
    one, many = tmp / "one", tmp / "many"
    one.mkdir()
    many.mkdir()
    image, labels = cells_image(size, 3000)
    write_annotated(one / "only.tif", image, labels)
    for i in range(10):
        image, labels = cells_image(size, 3100 + i)
        write_annotated(many / f"img{i}.tif", image, labels)
    model = new_model(recipes.SCRATCH_NETWORK, seed=0)
    sets = {"1 image": training_set(open_project(one).project, model),
            "10 images": training_set(open_project(many).project, model)}
    config = recipes.with_choices(recipes.SCRATCH, steps=steps, tile_size=188, validation_every=10**6,
                                  auto_validation=0)
    rates = {name: [] for name in sets}
    for _ in range(repeats):
        for name, found in sets.items():
            run = train(new_model(recipes.SCRATCH_NETWORK, seed=0), found.training, config)
            next(run)  # the first step pays for start-up
            start = time.perf_counter()
            done = sum(1 for _ in run)
            rates[name].append(done / (time.perf_counter() - start))
    a, b = (statistics.median(rates[n]) for n in ("1 image", "10 images"))
    print(f"\n4. Fine-tuning steps/s, {steps} steps of 188 px tiles, 16-channel network, CPU "
          f"({torch.get_num_threads()} threads), median of {repeats}")
    print(f"   planes of 1 image: {a:.2f} steps/s; one plane from each of 10 images: {b:.2f} steps/s "
          f"(ratio {b / a:.2f})")
    print(f"   target within 10%: {verdict(abs(b / a - 1) <= 0.10)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="switch,open,memory,steps")
    parser.add_argument("--images", type=int, default=200, help="images of the project that opens (part 2)")
    parser.add_argument("--visits", type=int, default=100, help="images visited for memory (part 3)")
    parser.add_argument("--budget-mb", type=float, default=150.0, help="allowed growth from image 10 on (part 3)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ["UNETGUI_DATA_DIR"] = tempfile.mkdtemp(prefix="unetgui-bench-data-")
    only = set(args.only.split(","))
    qt_app()
    print(f"bench_project on {os.cpu_count()} CPU(s); load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="unetgui-bench-project-") as tmp:
        tmp = Path(tmp)
        if "switch" in only:
            bench_switch(tmp, 2048, 6, 2)
        if "open" in only:
            bench_open(tmp, args.images, 512)
        if "memory" in only:
            bench_memory(tmp, args.visits, 2048, args.budget_mb)
        if "steps" in only:
            bench_steps(tmp, args.steps, args.repeats, 512)
    shutil.rmtree(os.environ["UNETGUI_DATA_DIR"], ignore_errors=True)


if __name__ == "__main__":
    main()
