"""Measured peak memory of one U-Net pass against unet.tile_memory_bytes' estimate.

Each case runs in a fresh process (peak RSS is per process). The estimate only has to be
of the right size: it decides whether a tile is refused before it is tried. Prints, per
case, the measured peak, the estimate and their ratio (estimate / measured, want ~1).

    python benchmarks/bench_memory.py
"""

from __future__ import annotations

import subprocess
import sys

CASES = [(16, 572, False), (16, 572, True), (64, 572, False), (64, 572, True), (16, 1084, False)]

CHILD = """
import gc, resource, sys, torch
from unetgui.core.unet import UNet, UNetConfig, tile_memory_bytes
base, tile, training = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
config = UNetConfig(base_channels=base)
net = UNet(config)
x = torch.zeros(1, 1, tile, tile)
gc.collect()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
if training:
    net(x).sum().backward()
else:
    with torch.inference_mode():
        net.eval()(x)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
print(peak, tile_memory_bytes(config, tile, training=training))
"""


def main() -> None:
    print(f"{'base':>4} {'tile':>5} {'pass':>9} {'measured MiB':>13} {'estimate MiB':>13} {'ratio':>6}")
    for base, tile, training in CASES:
        out = subprocess.run([sys.executable, "-c", CHILD, str(base), str(tile), str(int(training))],
                             capture_output=True, text=True, check=True).stdout.split()
        measured, estimate = int(out[0]), int(out[1])
        print(f"{base:>4} {tile:>5} {'training' if training else 'inference':>9} "
              f"{measured / 2**20:>13.0f} {estimate / 2**20:>13.0f} {estimate / measured:>6.2f}")


if __name__ == "__main__":
    main()
