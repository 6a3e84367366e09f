"""Choosing the compute device: CUDA if present, else Apple MPS, else the CPU."""

from __future__ import annotations

import torch

from unetgui.core.errors import DeviceError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(name: str = "auto") -> torch.device:
    """``'auto' | 'cpu' | 'cuda' | 'cuda:N' | 'mps'`` -> a usable torch.device.

    Raises DeviceError with a plain explanation when the device asked for is absent.

    Parameters
    ----------
    name : str
        The device asked for, case-insensitive; empty or None means ``"auto"`` (CUDA if
        present, else MPS, else the CPU).

    Returns
    -------
    torch.device
        A device that exists on this computer.
    """
    name = (name or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(
                "A CUDA GPU was asked for, but this computer has none that PyTorch can use "
                "(no NVIDIA GPU, no driver, or a CPU-only PyTorch). Use --device cpu or auto."
            )
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(
                f"GPU {device.index} was asked for, but only {torch.cuda.device_count()} "
                "CUDA GPU(s) are present."
            )
        return device
    if name == "mps":
        if not _mps_available():
            raise DeviceError("Apple's MPS GPU was asked for, but it is not available here.")
        return torch.device("mps")
    raise DeviceError(f"Unknown device {name!r}; choose one of {', '.join(DEVICE_CHOICES)}.")


def describe_device(device: torch.device) -> str:
    """A short human description, e.g. 'CUDA GPU 0 (NVIDIA H100, 80 GB)' or 'CPU (2 threads)'.

    Parameters
    ----------
    device : torch.device
        A device from :func:`resolve_device`.

    Returns
    -------
    str
        The description, for logs and the window.
    """
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        return f"CUDA GPU {index} ({props.name}, {props.total_memory / 2**30:.0f} GB)"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({torch.get_num_threads()} threads)"


def cuda_amp_dtype() -> torch.dtype:
    """The mixed-precision type on this CUDA GPU.

    bfloat16 where supported (no loss scaling needed), else float16.

    Returns
    -------
    torch.dtype
        ``torch.bfloat16`` or ``torch.float16``.
    """
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def free_memory_bytes(device: torch.device) -> int:
    """Memory free for new work on ``device``.

    The GPU's own for CUDA, else the system's (the CPU, and Apple GPUs that share it).

    Parameters
    ----------
    device : torch.device
        The device the work will run on.

    Returns
    -------
    int
        Bytes free now.
    """
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    from unetgui.core.memory import available_bytes

    return available_bytes()


def check_tile_fits(config, input_size: int, device: torch.device, *, batch_size: int = 1,
                    training: bool = False) -> None:
    """Raise InvalidInputError, with the numbers, if tiles of ``input_size`` cannot fit.

    Parameters
    ----------
    config : UNetConfig
        The network's shape.
    input_size : int
        Input tile side in px (a valid size for ``config``).
    device : torch.device
        Where the tiles run; its free memory is the limit.
    batch_size : int
        Tiles processed at once.
    training : bool
        Whether the pass is a training step (forward and backward) rather than inference.

    Returns
    -------
    None
        Returns only when the tiles fit.
    """
    from unetgui.core.memory import require
    from unetgui.core.unet import tile_memory_bytes

    need = tile_memory_bytes(config, input_size, batch_size=batch_size, training=training)
    what = (f"{'Training' if training else 'Prediction'} with tiles of {input_size} px "
            f"({config.base_channels}-channel network, {batch_size} tile(s) at a time)")
    require(need, what, available=free_memory_bytes(device),
            where="on the GPU" if device.type == "cuda" else "on this computer",
            advice="Choose a smaller tile size.")
