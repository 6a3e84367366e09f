"""Cell size: a U-Net sees a fixed window, so cells far larger or smaller than the ones it
learned on fail. The image is rescaled so that its cells come out the size the model knows.

* A model records the cell diameters it was trained on (:class:`CellSize`: the typical
  one and the range it saw) in ``model.info["cell_size"]``; a model without that record
  (older files) has None, and its images are never rescaled.
* An image's diameter comes from the user (``--diameter``, the window's override), from
  the user's labels (:func:`typical_diameter`), or, failing both, from the model's own
  prediction (``core.predict.iter_predict_sized``): the plane is predicted at its own
  size and the cells found are measured (:func:`measured_diameter`); when they lie
  outside the model's range, the plane is predicted again at the scale that brings them
  back inside it (:meth:`CellSize.target`), and measured again (:func:`next_scale`), at most
  :data:`SIZE_PASSES` times. A model cuts cells far larger than it knows into pieces, so
  the first measurement of such cells is too small; the next pass, with the cells
  smaller, measures them better. This matched the labelled diameters on real nuclei
  (AP@0.5 0.717 against 0.713 with the labels' own diameter) where the image-only
  estimate (:func:`estimate_diameter`, the scale of the strongest blob response, which
  takes touching nuclei for one blob) gave 0.660. The image-only estimate stays as the
  baseline that ``benchmarks/cell_size.py`` compares with.
* :func:`scale_for` leaves images whose cells lie inside the model's range alone and
  brings others back inside it; :func:`resize_to` brings results back to the original
  shape exactly.
* Cells outside the range are brought halfway (geometrically) between the range's edge
  they crossed and the typical diameter (:meth:`CellSize.target`), not all the way to the
  typical one: each resizing costs detail (shrinking) or sharpness (enlarging), and the
  model handles its whole range. On the held-back sets of ``benchmarks/cell_size.py``,
  against resizing to the typical diameter: mean AP@0.5 0.895 against 0.889, AP@0.75
  0.821 against 0.749 (0.800 against 0.608 on cells of 90-120 px).

Diameters are equivalent-circle diameters in pixels, 2 * sqrt(area / pi).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from skimage.transform import resize

from unetgui.core.errors import InvalidInputError
from unetgui.core.postprocess import typical_cell_area

#: An estimated diameter counts as outside the model's range only beyond this factor of
#: it (the estimate's own spread, see BLOB_CALIBRATION): resizing on every estimate outside
#: the range enlarges images whose cells were only misjudged, and costs accuracy.
ESTIMATE_TOLERANCE = 1.5
#: At most this many predictions of a plane to find its cells' size (the first at its own size).
SIZE_PASSES = 3
#: The smallest and largest rescaling applied (beyond them a picture loses its cells).
MIN_SCALE, MAX_SCALE = 1 / 8, 4.0
#: Median of (labelled diameter / 2 sqrt(2) * strongest blob scale) on synthetic images:
#: an estimate is then within about +-35 %, enough to tell cells that need rescaling from
#: cells that do not.
BLOB_CALIBRATION = 0.66
_ESTIMATE_SIDE = 384  # the image is shrunk by halves to about this before the blob search


@dataclass(frozen=True)
class CellSize:
    """The cell diameters (px) a model was trained on: typical, and the range it saw."""

    typical: float
    low: float
    high: float

    def to_dict(self) -> dict:
        """The record as stored in ``model.info["cell_size"]``.

        Returns
        -------
        dict
            ``{"typical": ..., "low": ..., "high": ...}``, diameters in px.
        """
        return {"typical": self.typical, "low": self.low, "high": self.high}

    @classmethod
    def from_dict(cls, values) -> CellSize:
        """A record read from a model file (the inverse of :meth:`to_dict`).

        Parameters
        ----------
        values : mapping
            With "typical", "low" and "high" diameters (px), numbers or numeric strings.

        Returns
        -------
        CellSize
            The checked record; InvalidInputError unless 0 < low <= typical <= high, all finite.
        """
        try:
            size = cls(float(values["typical"]), float(values["low"]), float(values["high"]))
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidInputError(f"A cell size must have typical, low and high diameters: {values!r}.") from error
        if not (0 < size.low <= size.typical <= size.high and math.isfinite(size.high)):
            raise InvalidInputError(f"Cell diameters must satisfy 0 < low <= typical <= high: {values!r}.")
        return size

    def target(self, diameter: float) -> float:
        """The diameter (px) that cells of ``diameter`` px, outside the range, are resized to.

        Parameters
        ----------
        diameter : float
            The cells' diameter; callers pass one below ``low`` or above ``high``.

        Returns
        -------
        float
            The geometric mean of the typical diameter and the edge of the range on
            ``diameter``'s side of it (``high`` above the typical diameter, ``low`` below):
            inside the range with a margin for the measure's spread, and as little
            resizing as that allows.
        """
        return math.sqrt(self.typical * (self.high if diameter > self.typical else self.low))


def diameters(labels: np.ndarray) -> np.ndarray:
    """Equivalent-circle diameters (px) of the cells of (Y, X) or (P, Y, X) ``labels``,
    per plane (a cell id on two planes counts twice).

    Parameters
    ----------
    labels : ndarray
        (Y, X) or (P, Y, X) non-negative integer cell ids, 0 = background.

    Returns
    -------
    ndarray
        (N,) float64, one diameter ``2 * sqrt(area / pi)`` per cell and plane, planes in
        order, ids ascending within a plane.
    """
    labels = np.asarray(labels)
    planes = labels[None] if labels.ndim == 2 else labels
    out = []
    for plane in planes:
        areas = np.bincount(plane.ravel().astype(np.int64, copy=False))[1:]
        areas = areas[areas > 0]
        out.append(2 * np.sqrt(areas / np.pi))
    return np.concatenate(out) if out else np.zeros(0)


def typical_diameter(label_planes: Iterable[np.ndarray]) -> float | None:
    """The median cell diameter (px) over ``label_planes``, or None when they hold no cell.

    Parameters
    ----------
    label_planes : iterable of ndarray
        (Y, X) integer label planes, 0 = background.

    Returns
    -------
    float or None
        The median equivalent-circle diameter in px.
    """
    found = [diameters(plane) for plane in label_planes]
    found = np.concatenate(found) if found else np.zeros(0)
    return float(np.median(found)) if found.size else None


def cell_size_of(label_planes: Iterable[np.ndarray]) -> CellSize | None:
    """What a model trained on ``label_planes`` learns: median and 10-90th percentile.

    Parameters
    ----------
    label_planes : iterable of ndarray
        (Y, X) integer label planes the model is trained on.

    Returns
    -------
    CellSize or None
        Typical (median), low (10th) and high (90th percentile) diameters in px; None
        when the planes hold no cell.
    """
    planes = list(label_planes)
    found = np.concatenate([diameters(plane) for plane in planes]) if planes else np.zeros(0)
    if not found.size:
        return None
    low, typical, high = np.percentile(found, [10, 50, 90])
    return CellSize(float(typical), float(low), float(high))


def measured_diameter(labels: np.ndarray) -> float | None:
    """The diameter (px) of the cell that the median cell pixel belongs to, or None when
    ``labels`` hold no cell.

    Weighted by area, so that the debris and fragments a prediction also finds count for
    what they cover, not for how many they are (on real nuclei the plain median of
    predicted cells was 16 % below the labelled one; this, 4 % above).

    Parameters
    ----------
    labels : ndarray
        (Y, X) integer cell ids, 0 = background.

    Returns
    -------
    float or None
        Equivalent-circle diameter in px.
    """
    area = typical_cell_area(np.bincount(np.asarray(labels).ravel().astype(np.int64, copy=False))[1:])
    return None if area is None else 2 * math.sqrt(area / math.pi)


def next_scale(measured: float | None, scale: float, model_size: CellSize) -> float | None:
    """The scale for another prediction of a plane, or None when this one is to be kept.

    Parameters
    ----------
    measured : float or None
        :func:`measured_diameter` of the cells predicted at ``scale``, in px of the
        original plane; None (no cells) keeps the prediction.
    scale : float
        The scale the plane was predicted at.
    model_size : CellSize
        The diameters the model was trained on.

    Returns
    -------
    float or None
        None when the cells, as that prediction saw them (``measured * scale``), lie in the
        model's range, or when the scale would not change; else the scale that brings
        them to :meth:`CellSize.target`, within [MIN_SCALE, MAX_SCALE].
    """
    if measured is None or not measured > 0 or model_size.low <= measured * scale <= model_size.high:
        return None
    new = float(np.clip(model_size.target(measured * scale) / measured, MIN_SCALE, MAX_SCALE))
    return None if math.isclose(new, scale, rel_tol=0.05) else new


def estimate_diameter(plane: np.ndarray) -> float | None:
    """The typical cell diameter (px) of a (C, Y, X) image, from the image alone.

    The scale-normalised Laplacian of Gaussian responds most, summed over the image, at
    the scale of the blobs that dominate it; cells are that blob. The image is searched
    on a shrunken copy and a pyramid, so the cost stays small for large planes. None for
    a flat image.

    Parameters
    ----------
    plane : ndarray
        (C, Y, X) image plane, any real dtype; normalised and averaged over channels here.

    Returns
    -------
    float or None
        Estimated diameter in px of the original plane (within about +-35 %, see
        :data:`BLOB_CALIBRATION`), or None when the image has no contrast or is under 8 px along an axis.
    """
    from unetgui.core.normalize import Normalization

    image = Normalization().apply(np.asarray(plane, np.float32)).mean(axis=0)
    factor = 1.0
    while max(image.shape) * factor > _ESTIMATE_SIDE:
        factor /= 2
    if factor < 1:
        image = resize(image, scaled_shape(image.shape, factor), order=1, anti_aliasing=True)
    image = np.clip(image, 0, 1.5)  # a few saturated spots must not decide the scale
    if not image.any() or min(image.shape) < 8:
        return None
    sigmas = np.geomspace(1.0, max(image.shape) / 6, 40)
    # A pyramid: large scales are filtered on halved images (sigma halved too); the
    # scale-normalised response's image mean does not change, and the cost stays small.
    pyramid = [image]
    energy = []
    for s in sigmas:
        level = max(0, int(np.log2(s / 4)))
        while len(pyramid) <= level:
            pyramid.append(resize(pyramid[-1], scaled_shape(pyramid[-1].shape, 0.5), order=1, anti_aliasing=True))
        sigma_here = s / 2**level
        response = -sigma_here**2 * ndi.gaussian_laplace(pyramid[level], sigma_here, mode="reflect")
        energy.append(np.mean(np.maximum(0, response)))
    sigma = sigmas[int(np.argmax(energy))]
    return float(sigma * 2 * np.sqrt(2) / factor * BLOB_CALIBRATION)


def scale_for(image_diameter: float | None, model_size: CellSize | None, tolerance: float = 1.0) -> float:
    """The factor to resize an image by, so its cells suit the model (1.0: leave it).

    Inside the model's range, widened by ``tolerance`` (ESTIMATE_TOLERANCE for an
    estimated diameter), nothing changes; outside, cells are brought to
    :meth:`CellSize.target`, within [MIN_SCALE, MAX_SCALE].

    Parameters
    ----------
    image_diameter : float or None
        The image's typical cell diameter in px; None (unknown) gives 1.0.
    model_size : CellSize or None
        The diameters the model was trained on; None (not recorded) gives 1.0.
    tolerance : float
        Factor (>= 1) by which the model's range is widened on both sides.

    Returns
    -------
    float
        The resize factor: > 1 enlarges, < 1 shrinks.
    """
    if image_diameter is None or model_size is None or not image_diameter > 0:
        return 1.0
    if model_size.low / tolerance <= image_diameter <= model_size.high * tolerance:
        return 1.0
    return float(np.clip(model_size.target(image_diameter) / image_diameter, MIN_SCALE, MAX_SCALE))


def scaled_shape(shape: tuple[int, int], scale: float) -> tuple[int, int]:
    """(Y, X) after resizing by ``scale`` (at least 1 px per axis).

    Parameters
    ----------
    shape : tuple of int
        (Y, X) before resizing.
    scale : float
        The resize factor.

    Returns
    -------
    tuple of int
        (Y', X'), each ``round(n * scale)`` and at least 1.
    """
    return tuple(max(1, round(n * scale)) for n in shape)


def resize_image(plane: np.ndarray, scale: float) -> np.ndarray:
    """(C, Y, X) -> (C, Y', X') float32, linear, smoothed first when shrinking (no aliasing).

    Parameters
    ----------
    plane : ndarray
        (C, Y, X) image plane.
    scale : float
        The resize factor; 1.0 returns ``plane`` itself, unchanged.

    Returns
    -------
    ndarray
        (C, Y', X') float32 with (Y', X') = ``scaled_shape((Y, X), scale)``, values kept
        in the input's range.
    """
    if scale == 1.0:
        return plane
    shape = (plane.shape[0], *scaled_shape(plane.shape[1:], scale))
    return resize(np.asarray(plane, np.float32), shape, order=1, anti_aliasing=scale < 1,
                  preserve_range=True).astype(np.float32)


def resize_labels(labels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(Y, X) labels to ``shape`` by nearest neighbour: ids are kept, never blended.

    Parameters
    ----------
    labels : ndarray
        (Y, X) integer cell ids.
    shape : tuple of int
        The wanted (Y', X').

    Returns
    -------
    ndarray
        (Y', X') labels of ``labels``' dtype (``labels`` itself when the shape already fits).
    """
    labels = np.asarray(labels)
    if labels.shape == tuple(shape):
        return labels
    return resize(labels, shape, order=0, anti_aliasing=False, preserve_range=True).astype(labels.dtype)


def resize_to(probabilities: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(K, Y', X') probabilities back to (K, *shape), linear: exactly the original shape.

    Parameters
    ----------
    probabilities : ndarray
        (K, Y', X') float class probabilities of a resized image.
    shape : tuple of int
        The original (Y, X).

    Returns
    -------
    ndarray
        (K, Y, X) float32 (``probabilities`` itself when the shape already fits).
    """
    if probabilities.shape[1:] == tuple(shape):
        return probabilities
    return resize(probabilities, (probabilities.shape[0], *shape), order=1, anti_aliasing=False,
                  preserve_range=True).astype(np.float32)
