"""How much memory there is, and a clear refusal before asking for more than that.

numpy and torch fail on a too-large allocation with raw errors ("Unable to allocate
37.3 GiB", "DefaultCPUAllocator: can't allocate memory") or, worse, after the machine
has started swapping. Work whose size is known up front (a plane, a stack, a tile)
is checked here first, and the refusal names both numbers.
"""

from __future__ import annotations

import psutil

from unetgui.core.errors import InvalidInputError, UnetguiError

#: Below this, an allocation is never checked: asking the system costs more than it saves.
CHECK_ABOVE_BYTES = 64 * 2**20
#: Keep this share of what is available for everything else (the GUI, the OS, caches).
USABLE_SHARE = 0.9


def available_bytes() -> int:
    """Memory the system can give this process now without swapping (psutil's 'available').

    Returns
    -------
    int
        Bytes available.
    """
    return int(psutil.virtual_memory().available)


def describe_bytes(nbytes: float) -> str:
    """1536 -> '1.5 KiB'; 3.2e10 -> '29.8 GiB' (binary units, as system monitors show).

    Parameters
    ----------
    nbytes : float
        A number of bytes.

    Returns
    -------
    str
        The amount with one decimal and a binary unit (whole bytes below 1 KiB).
    """
    value = float(nbytes)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def require(nbytes: int, what: str, *, available: int | None = None, where: str = "on this computer",
            advice: str = "", error: type[UnetguiError] = InvalidInputError) -> None:
    """Raise ``error`` if ``nbytes`` cannot fit in memory now.

    Amounts below :data:`CHECK_ABOVE_BYTES` are never checked; the check keeps
    :data:`USABLE_SHARE` of what is free for everything else.

    Parameters
    ----------
    nbytes : int
        Bytes the work will allocate.
    what : str
        The work, as the start of a sentence ("Reading one plane of 'big.tif'").
    available : int or None
        Bytes free (default: :func:`available_bytes`; e.g. a GPU's free memory for device work).
    where : str
        Where that memory is, to end the sentence ("on the GPU").
    advice : str
        A sentence added to the message, e.g. what to choose instead.
    error : type[UnetguiError]
        The UnetguiError subclass to raise.

    Returns
    -------
    None
        Returns only when the work fits.
    """
    if nbytes < CHECK_ABOVE_BYTES:
        return
    free = available_bytes() if available is None else int(available)
    if nbytes > free * USABLE_SHARE:
        raise error(f"{what} needs about {describe_bytes(nbytes)} of memory, but only "
                    f"{describe_bytes(free)} is free {where}.{' ' + advice if advice else ''}")


def out_of_memory(what: str, nbytes: int | None = None, *,
                  error: type[UnetguiError] = InvalidInputError) -> UnetguiError:
    """The error to raise when an allocation failed anyway (``raise ... from`` the original).

    Parameters
    ----------
    what : str
        The work that failed, as the start of a sentence.
    nbytes : int or None
        Bytes it needed, when known.
    error : type[UnetguiError]
        The UnetguiError subclass to build.

    Returns
    -------
    UnetguiError
        An ``error`` instance naming the need and the memory free now.
    """
    need = f" (about {describe_bytes(nbytes)})" if nbytes else ""
    return error(f"{what} ran out of memory{need}; only {describe_bytes(available_bytes())} is "
                 "free. Close other programs, or use a smaller tile size.")


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is an allocation failure of numpy or torch (CPU or GPU).

    Parameters
    ----------
    error : BaseException
        Any caught exception.

    Returns
    -------
    bool
        True for MemoryError and for torch's "can't allocate memory" / "out of memory" RuntimeErrors.
    """
    if isinstance(error, MemoryError):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and ("can't allocate memory" in text
                                                 or "out of memory" in text.lower())
