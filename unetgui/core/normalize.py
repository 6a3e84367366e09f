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

    def apply(self, plane: np.ndarray) -> np.ndarray:
        """(C, Y, X) any real dtype -> (C, Y, X) float32, low percentile 0, high 1.

        A flat channel (high == low) becomes all zeros rather than dividing by zero.
        NaN or infinite pixels are an error: they would poison every tile they touch.

        Parameters
        ----------
        plane : ndarray
            (C, Y, X) image plane, any real dtype; not changed.

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
        flat = data.reshape(data.shape[0], -1)
        # Percentiles on a strided subsample (at least 262144 pixels): identical for large
        # planes to within noise, at a fraction of the cost.
        step = max(1, flat.shape[1] // 262144)
        lo, hi = np.percentile(flat[:, ::step], [self.low_percentile, self.high_percentile], axis=1)
        scale = np.where(hi > lo, hi - lo, 1.0).astype(np.float32)
        out = (data - lo[:, None, None].astype(np.float32)) / scale[:, None, None]
        out[hi <= lo] = 0.0
        return out
