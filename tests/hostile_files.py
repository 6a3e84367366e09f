"""Hostile files made in code, shared by the command-line and window tests."""

from __future__ import annotations

import errno
import os
import struct
import zlib
from pathlib import Path

from unetgui.core.model import new_model, save_model
from unetgui.core.unet import UNetConfig


def raw_tiff(width: int, height: int, *, bits: int = 8, compression: int = 1, data: bytes = b"") -> bytes:
    """A minimal little-endian baseline TIFF: one strip, whatever the header claims."""
    entries = [(256, 4, width), (257, 4, height), (258, 3, bits), (259, 3, compression), (262, 3, 1),
               (273, 4, 0), (277, 3, 1), (278, 4, max(height, 1)), (279, 4, len(data))]
    ifd_offset = 8
    data_offset = ifd_offset + 2 + 12 * len(entries) + 4
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        value = data_offset if tag == 273 else value
        ifd += struct.pack("<HHI", tag, kind, 1) + (struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
    return b"II*\x00" + struct.pack("<I", ifd_offset) + ifd + struct.pack("<I", 0) + data


def bomb_tiff(width: int, height: int) -> bytes:
    """A deflate-compressed 16-bit plane of zeros: a few kB on disk, width*height*2 decoded."""
    return raw_tiff(width, height, bits=16, compression=8, data=zlib.compress(bytes(width * height * 2), 9))


def model_with_metadata(path: Path, **changes) -> Path:
    """A tiny real model file, with header metadata fields replaced by ``changes``."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    save_model(new_model(UNetConfig(depth=1, base_channels=2), seed=0), path)
    with safe_open(str(path), framework="pt") as handle:
        metadata = dict(handle.metadata())
    tensors = load_file(str(path))
    metadata.update(changes)
    save_file(tensors, str(path), metadata=metadata)
    return path


def flipped_weights(path: Path) -> Path:
    """A model file with a few bytes inside its weights flipped (header intact)."""
    save_model(new_model(UNetConfig(depth=1, base_channels=2), seed=0), path)
    data = bytearray(path.read_bytes())
    header_end = 8 + struct.unpack("<Q", data[:8])[0]
    for offset in (header_end + 5, header_end + 77, len(data) - 3):
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def simulate_read_only_disk(monkeypatch) -> None:
    """Every file creation fails as on a read-only file system (root ignores chmod)."""
    real_open = os.open

    def read_only(path, flags, *args):
        if flags & os.O_CREAT:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", read_only)
