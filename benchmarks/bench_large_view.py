"""Opening a plane too large to edit in the window: time to the overview on screen, time
to the zoomed-in detail, and the process's peak memory (issue: scale out, the window part).

Three files of the same ``--size`` x ``--size`` uint16 field of synthetic nuclei, tiled
and zlib-compressed: an OME-TIFF with a pyramid (reduced levels in SubIFDs, as QuPath and
bfconvert write them), an OME-Zarr with its pyramid (written by unetgui), and a flat
BigTIFF with no pyramid (the overview is subsampled from the whole plane). Each is opened
by a fresh process that drives the real ``MainWindow`` offscreen: ``open_image``, until
the overview is painted; then 1:1 zoom on the middle, until the full-size pixels in view
are painted. Reference: the plane's own size in memory, and the screen copy that drawing
it at full size would need.

    python benchmarks/bench_large_view.py [--size 16384]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tifffile

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scaleout import make_image  # noqa: E402


def make_files(size: int, folder: Path) -> dict[str, Path]:
    flat = make_image(size, folder / "flat.tif")
    pyramid = folder / "pyramid.ome.tif"
    with tifffile.TiffFile(flat) as tiff:
        image = tiff.asarray()
    with tifffile.TiffWriter(pyramid, bigtiff=True) as out:
        levels = []
        level = image
        while min(level.shape) > 1024:
            level = level[::2, ::2]
            levels.append(level)
        out.write(image, subifds=len(levels), tile=(512, 512), compression="zlib")
        for level in levels:
            out.write(level, subfiletype=1, tile=(512, 512), compression="zlib")
    files = {"OME-TIFF with pyramid": pyramid, "BigTIFF without pyramid": flat}
    try:
        from unetgui.core.ome_zarr_files import write_ome_zarr

        files["OME-Zarr with pyramid"] = write_ome_zarr(folder / "image.ome.zarr", image[None, None])
    except Exception as error:  # noqa: BLE001 (the extra may be missing)
        print(f"OME-Zarr left out: {error}")
    return files


def _peak_rss() -> int:
    """This process's peak resident memory in bytes: VmHWM, which starts afresh at exec
    (ru_maxrss would carry over the parent's peak through fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def child(path: str) -> None:
    """Runs in a fresh process: open ``path`` in the window, time the views, print JSON."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtCore, QtWidgets

    import unetgui.gui  # noqa: F401
    from unetgui.gui.main_window import MainWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    settings = QtCore.QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QtCore.QSettings.Format.IniFormat)
    window = MainWindow(settings)
    window.resize(1400, 900)
    window.show()
    canvas = window.canvas

    def wait(condition, timeout=600.0) -> float:
        start = time.perf_counter()
        while not condition():
            app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
            if time.perf_counter() - start > timeout:
                raise TimeoutError
        app.processEvents()
        return time.perf_counter() - start

    start = time.perf_counter()
    window.open_image(path)
    wait(lambda: canvas.image_item.image is not None)
    overview = time.perf_counter() - start
    height, width = window.session.stack.height, window.session.stack.width
    canvas.view.setRange(QtCore.QRectF(width / 2, height / 2, canvas.view.width(), canvas.view.height()), padding=0)
    detail = wait(lambda: canvas.detail_item.image is not None)
    result = {"large": window.session.large, "overview_s": overview, "detail_s": detail,
              "overview_shape": list(canvas.image_item.image.shape),
              "detail_shape": list(canvas.detail_item.image.shape),
              "peak_rss_gib": _peak_rss() / 2**30}
    window.session.autosaver.detach()
    window.close()
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=16384)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.child and args.size**2 <= 8192**2:
        parser.error("--size must be over 8192: smaller planes open for editing, at full size")
    if args.child:
        child(args.child)
        return
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        files = make_files(args.size, Path(folder))
        print(f"{args.size} x {args.size} uint16 ({args.size**2 * 2 / 2**30:.2f} GiB a plane), "
              f"files made in {time.perf_counter() - start:.0f} s")
        print(f"reference: the whole plane alone is {args.size**2 * 2 / 2**30:.2f} GiB; drawn at full size it "
              f"would take {args.size**2 * 4 / 2**30:.2f} GiB more for the screen copy (ARGB)")
        print("| file | overview on screen | 1:1 detail on screen | overview px | peak memory |")
        print("|---|---|---|---|---|")
        for name, path in files.items():
            out = subprocess.run([sys.executable, __file__, "--child", str(path)], capture_output=True, text=True,
                                 env={**os.environ, "QT_QPA_PLATFORM": "offscreen",
                                      "UNETGUI_DATA_DIR": str(Path(folder) / "data")})
            lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
            if not lines:
                print(f"| {name} | failed: {out.stderr.strip().splitlines()[-1:]} |")
                continue
            r = json.loads(lines[-1])
            print(f"| {name} | {r['overview_s']:.2f} s | {r['detail_s']:.2f} s | "
                  f"{r['overview_shape'][1]} x {r['overview_shape'][0]} | {r['peak_rss_gib']:.2f} GiB |", flush=True)


if __name__ == "__main__":
    main()
