"""Build the one-folder bundle into dist/unetgui and report its size and what dominates it.

    python packaging/build.py            # CPU torch, as installed in this environment: dist/unetgui
    python packaging/build.py --cuda     # CUDA torch (install it first): dist/unetgui-cuda
Run in an environment where unetgui is installed (``pip install -e .``) with PyInstaller
(``pip install pyinstaller``). The same script builds on Windows and macOS.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def main(argv: list[str]) -> int:
    import os

    cuda = "--cuda" in argv
    if cuda:
        import torch

        if torch.version.cuda is None:
            print("build.py --cuda: this environment has the CPU build of PyTorch. Install a CUDA build "
                  "first (pytorch.org, e.g. pip install torch --index-url "
                  "https://download.pytorch.org/whl/cu124).", file=sys.stderr)
            return 2
    name = "unetgui-cuda" if cuda else "unetgui"
    dist, work = ROOT / "dist", ROOT / "build" / f"pyinstaller-{name}"
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--distpath", str(dist),
               "--workpath", str(work), str(ROOT / "packaging" / "unetgui.spec")]
    done = subprocess.run(command, cwd=ROOT / "packaging", env={**os.environ, "UNETGUI_BUNDLE_NAME": name})
    if done.returncode:
        return done.returncode
    bundle = dist / name
    internal = bundle / "_internal"
    total = folder_size(bundle)
    print(f"bundle: {bundle} ({total / 2**20:.0f} MiB)")
    parts = sorted(((folder_size(p) if p.is_dir() else p.stat().st_size, p.name)
                    for p in (internal if internal.is_dir() else bundle).iterdir()), reverse=True)
    for size, name in parts[:12]:
        print(f"  {size / 2**20:8.1f} MiB  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
