"""Input normalisation: make 8-bit, 16-bit and float images look alike to the network.

Each channel of each plane is mapped so that its low percentile goes to 0 and its high
percentile to 1 (values outside are kept, not clipped: bright structures stay bright).
The settings travel inside the model file, so a model is always fed images normalised the
way it was trained.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from unetgui.core.errors import InvalidInputError
from unetgui.core.io import check_finite


@dataclass(frozen=True)
class Normalization:
    """Per-plane, per-channel percentile normalisation."""

    low_percentile: float = 1.0
    high_percentile: float = 99.8

    def __post_init__(self) -> None:
        for value in (self.low_percentile, self.high_percentile):
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise InvalidInputError(f"Normalisation percentiles must be numbers, not {value!r}.")
        if not 0.0 <= self.low_percentile < self.high_percentile <= 100.0:
            raise InvalidInputError(
                "Normalisation percentiles must satisfy 0 <= low < high <= 100, "
                f"not {self.low_percentile} and {self.high_percentile}."
            )

    def to_dict(self) -> dict:
        """The settings as stored in a model file.

        Returns
        -------
        dict
            ``{"method": "percentile", "low_percentile": ..., "high_percentile": ...}``.
        """
        return {"method": "percentile", **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, values: dict) -> Normalization:
        """Settings read from a model file (the inverse of :meth:`to_dict`).

        Parameters
        ----------
        values : dict
            As :meth:`to_dict` writes it; ``"method"`` may be absent (percentile).

        Returns
        -------
        Normalization
            The checked settings; InvalidInputError for an unknown method or setting.
        """
        values = dict(values)
        method = values.pop("method", "percentile")
        if method != "percentile":
            raise InvalidInputError(f"Unknown normalisation method {method!r}.")
        known = {f.name for f in dataclasses.fields(cls)}
        if set(values) - known:
            raise InvalidInputError(f"Unknown normalisation settings: {sorted(map(str, set(values) - known))}.")
        return cls(**values)

    def limits(self, plane: np.ndarray) -> np.ndarray:
        """The (C, 2) low and high percentiles that :meth:`apply` maps to 0 and 1.

        Computed on a strided subsample of at least 262144 pixels
        (:func:`sample_step`): identical for large planes to within noise, at a fraction
        of the cost. A blockwise reader that gathers the same pixels
        (:func:`sample_block`) gets the same numbers without holding the plane.

        Parameters
        ----------
        plane : ndarray
            (C, Y, X) image plane, any real dtype.

        Returns
        -------
        ndarray
            (C, 2) float64: each channel's low and high percentile.
        """
        if plane.ndim != 3:
            raise InvalidInputError(f"Expected a (channels, rows, cols) plane, got shape {plane.shape}.")
        flat = np.asarray(plane, dtype=np.float32).reshape(plane.shape[0], -1)
        return self.limits_of_sample(flat[:, :: sample_step(flat.shape[1])])

    def limits_of_sample(self, sample: np.ndarray) -> np.ndarray:
        """(C, N) sampled pixels (float32) -> (C, 2) low and high percentiles."""
        lo, hi = np.percentile(np.asarray(sample, dtype=np.float32), [self.low_percentile, self.high_percentile],
                               axis=1)
        return np.stack([lo, hi], axis=1)

    def apply(self, plane: np.ndarray, limits: np.ndarray | None = None) -> np.ndarray:
        """(C, Y, X) any real dtype -> (C, Y, X) float32, low percentile 0, high 1.

        A flat channel (high == low) becomes all zeros rather than dividing by zero.
        NaN or infinite pixels are an error: they would poison every tile they touch.

        Parameters
        ----------
        plane : ndarray
            (C, Y, X) image plane, any real dtype; not changed.
        limits : ndarray, optional
            (C, 2) percentiles from :meth:`limits` of the whole plane, when ``plane`` is
            only a block of it; by default those of ``plane``.

        Returns
        -------
        ndarray
            (C, Y, X) float32, each channel mapped so its low percentile is 0 and its high
            percentile 1 (values outside are kept).
        """
        if plane.ndim != 3:
            raise InvalidInputError(f"Expected a (channels, rows, cols) plane, got shape {plane.shape}.")
        data = np.asarray(plane, dtype=np.float32)
        check_finite(data, "The image")
        lo, hi = (self.limits(data) if limits is None else np.asarray(limits)).T
        scale = np.where(hi > lo, hi - lo, 1.0).astype(np.float32)
        out = (data - lo[:, None, None].astype(np.float32)) / scale[:, None, None]
        out[hi <= lo] = 0.0
        return out


def sample_step(n_pixels: int) -> int:
    """Every how many pixels (in row-major order) :meth:`Normalization.limits` samples."""
    return max(1, int(n_pixels) // 262144)


def sample_block(block: np.ndarray, row0: int, col0: int, plane_width: int, step: int) -> np.ndarray:
    """The pixels of ``block`` that :meth:`Normalization.limits` samples from the whole plane.

    Pixel (r, c) of a plane ``plane_width`` wide is sampled when ``(r * width + c) % step
    == 0``; the samples of all blocks together are exactly the whole plane's sample.

    Parameters
    ----------
    block : ndarray
        (C, h, w) pixels at rows ``row0 ..`` and cols ``col0 ..`` of the plane.
    row0, col0 : int
        Where the block starts in the plane.
    plane_width : int
        Columns of the whole plane.
    step : int
        :func:`sample_step` of the whole plane's pixel count.

    Returns
    -------
    ndarray
        (C, n) float32 sampled pixels.
    """
    rows = np.arange(row0, row0 + block.shape[1], dtype=np.int64)[:, None]
    cols = np.arange(col0, col0 + block.shape[2], dtype=np.int64)[None, :]
    chosen = (rows * plane_width + cols) % step == 0
    return np.asarray(block, dtype=np.float32)[:, chosen]
