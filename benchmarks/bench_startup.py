"""Start-up: from launching unetgui to its window on screen with the starter model loaded.

Prints figures and PASS/MISS only. Target (issue "desktop bundle"): the bundle's cold
start under 5 s on this machine. Cold: the bundle's files are evicted from the page cache
first (drop_caches as root, and posix_fadvise on every file); warm: launched again at
once. Against the same from the source tree (``python -m unetgui``) on the same run.

The window is "on screen" when the X server lists a mapped top-level window whose title
starts with "unetgui" (xwininfo). The starter model is loaded in a thread after the window
is shown (ModelController); the app reports that moment on stderr when
UNETGUI_STARTUP_REPORT=1 ("unetgui: model loaded"). The target is on the later of the
two, the window shown with the model loaded. Needs Xvfb and xwininfo (x11-utils).

    python benchmarks/bench_startup.py [BUNDLE_DIR] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_gui import drop_page_cache  # noqa: E402

TARGET_S = 5.0
DISPLAY = ":97"


def window_shown(display: str) -> bool:
    tree = subprocess.run(["xwininfo", "-root", "-tree", "-display", display], capture_output=True, text=True)
    return any('"unetgui' in line for line in tree.stdout.splitlines())


def launch(command: list[str], display: str, data_dir: str) -> tuple[float, float]:
    """Seconds from starting ``command`` until its window is shown, and until it reports
    the model loaded; the process is then ended."""
    env = {**os.environ, "DISPLAY": display, "UNETGUI_DATA_DIR": data_dir, "UNETGUI_STARTUP_REPORT": "1"}
    env.pop("QT_QPA_PLATFORM", None)
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    loaded: list[float] = []

    def read_reports() -> None:
        for line in process.stderr:
            if "unetgui: model loaded" in line and not loaded:
                loaded.append(time.perf_counter() - start)

    reader = threading.Thread(target=read_reports, daemon=True)
    reader.start()
    shown = None
    try:
        while shown is None or not loaded:
            if shown is None and window_shown(display):
                shown = time.perf_counter() - start
            if process.poll() is not None:
                raise SystemExit(f"{command[0]} ended before showing a window (exit code {process.returncode})")
            if time.perf_counter() - start > 120:
                raise SystemExit(f"{command[0]} showed no window with its model within 120 s")
            time.sleep(0.02)
        return shown, loaded[0]
    finally:
        process.terminate()
        process.wait(10)


def files_of(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]


def measure(name: str, command: list[str], files: list[str], repeats: int, data_dir: str) -> float:
    """Prints cold and warm medians (window shown; model loaded); returns the cold median
    until the model is loaded."""
    cold, warm = [], []
    for _ in range(repeats):
        how = drop_page_cache(files)
        cold.append(launch(command, DISPLAY, data_dir))
        warm.append(launch(command, DISPLAY, data_dir))

    def medians(runs: list[tuple[float, float]]) -> str:
        shown, loaded = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        return (f"window {shown:.2f} s, with the model {loaded:.2f} s "
                f"(of {', '.join(f'{r[1]:.2f}' for r in runs)})")

    print(f"{name}:\n  cold: {medians(cold)}; cache: {how}\n  warm: {medians(warm)}")
    return statistics.median(r[1] for r in cold)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bundle", nargs="?", type=Path, help="a built bundle folder (dist/unetgui)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    server = subprocess.Popen(["Xvfb", DISPLAY, "-screen", "0", "1600x1000x24"], stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    try:
        with tempfile.TemporaryDirectory(prefix="unetgui-startup-") as data_dir:
            import site

            source_files = files_of(Path(__file__).resolve().parents[1] / "unetgui")
            for folder in site.getsitepackages():
                source_files += files_of(Path(folder) / "torch") + files_of(Path(folder) / "PySide6")
            measure("from source (python -m unetgui)", [sys.executable, "-m", "unetgui"], source_files,
                    args.repeats, data_dir)
            if args.bundle is not None:
                cold = measure(f"bundle ({args.bundle})", [str(args.bundle / "unetgui")], files_of(args.bundle),
                                  args.repeats, data_dir)
                print(f"bundle cold start target <= {TARGET_S:.0f} s: {'PASS' if cold <= TARGET_S else 'MISS'}")
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
