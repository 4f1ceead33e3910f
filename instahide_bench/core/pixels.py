"""Pixel spaces: how 8-bit images are mapped to the numbers an encoder mixes.

A pixel space is an affine map per channel, ``x = (v/255 - offset) / scale``. The challenge
used [-1, 1] (``v/127.5 - 1``); InstaHide's training code used per-channel dataset
normalisation; [0, 1] is the known-insecure range (every mixture is non-negative).
Scoring always clips to the space's valid box and computes SSIM on images mapped back to [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from instahide_bench.core.errors import ConfigError


@dataclass(frozen=True)
class PixelSpace:
    """Per-channel affine map between [0, 1] images and the encoder's pixel values.

    ``x = (u - offset) / scale`` for an image ``u`` in [0, 1]. One object carries the map both
    ways so that encoders, attacks and the scorer agree on the range a challenge's values live in
    (and so on what clipping to it means).

    Parameters
    ----------
    name : str
        The name written to challenge.json (``"[-1,1]"``, ``"cifar10-normalised"``, ...).
    offset : tuple of 3 float
        Per channel (RGB), the [0, 1] value that maps to 0.
    scale : tuple of 3 float
        Per channel, the [0, 1] width that maps to a width of 1; positive.

    Examples
    --------
    >>> import numpy as np
    >>> space = get_pixel_space("[-1,1]")
    >>> space.from_uint8(np.array([[[[0, 255, 0]]]], dtype=np.uint8)).ravel().tolist()
    [-1.0, 1.0, -1.0]
    >>> space.low.tolist(), space.high.tolist(), space.signed
    ([-1.0, -1.0, -1.0], [1.0, 1.0, 1.0], True)
    """

    name: str
    offset: tuple[float, float, float]
    scale: tuple[float, float, float]

    @property
    def _offset(self) -> npt.NDArray[np.float64]:
        return np.asarray(self.offset, dtype=np.float64)

    @property
    def _scale(self) -> npt.NDArray[np.float64]:
        return np.asarray(self.scale, dtype=np.float64)

    @property
    def low(self) -> np.ndarray:
        """Smallest valid value per channel (the image of 0)."""
        return (0.0 - self._offset) / self._scale

    @property
    def high(self) -> np.ndarray:
        """Largest valid value per channel (the image of 1)."""
        return (1.0 - self._offset) / self._scale

    @property
    def signed(self) -> bool:
        """True when some valid pixel values are negative, so that the sign mask hides information."""
        return bool(np.any(self.low < 0))

    def from_uint8(self, images: np.ndarray) -> np.ndarray:
        """uint8 NHWC images -> float32 values in this space (computed in float64, then rounded).

        Parameters
        ----------
        images : numpy.ndarray
            uint8 (or any real values in 0..255), channel last.

        Returns
        -------
        numpy.ndarray
            float32 values, same shape.
        """
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.shape[-1:] != (3,):
            return self.from_unit(np.asarray(images, dtype=np.float64) / 255.0)
        # The same float32 values from a 256-entry table per channel: training converts every
        # batch of every epoch, where the float64 arithmetic cost 3x the table lookups.
        table = _uint8_table(self.offset, self.scale)
        out = np.empty(images.shape, dtype=np.float32)
        for channel in range(3):
            np.take(table[channel], images[..., channel], out=out[..., channel])
        return out

    def from_unit(self, images: np.ndarray) -> np.ndarray:
        """Images in [0, 1] (channel last) -> float32 values in this space.

        Parameters
        ----------
        images : numpy.ndarray
            Real values, channel last (the last axis has 3 entries); not checked against [0, 1].

        Returns
        -------
        numpy.ndarray
            float32, same shape.
        """
        return ((np.asarray(images, dtype=np.float64) - self._offset) / self._scale).astype(np.float32)

    def to_unit(self, values: np.ndarray) -> np.ndarray:
        """Values in this space (channel last) -> float64 images in [0, 1] (not clipped).

        The inverse of :meth:`from_unit`; apply :meth:`clip` first to stay inside [0, 1], as
        the metric does.

        Parameters
        ----------
        values : numpy.ndarray
            Values of this space, channel last.

        Returns
        -------
        numpy.ndarray
            float64, same shape.
        """
        return np.asarray(values, dtype=np.float64) * self._scale + self._offset

    def clip(self, values: np.ndarray) -> np.ndarray:
        """Clip channel-last values to the valid box of this space, ``[low, high]`` per channel.

        Parameters
        ----------
        values : numpy.ndarray
            Values of this space, channel last.

        Returns
        -------
        numpy.ndarray
            float32, same shape (the bounds are rounded to float32 too, so clipped values
            compare equal to them).
        """
        clipped: np.ndarray = np.clip(values, self.low.astype(np.float32), self.high.astype(np.float32))
        return clipped.astype(np.float32, copy=False)

    def to_json(self) -> dict[str, object]:
        """The challenge.json form: ``{"name", "offset", "scale"}`` (read back by :func:`pixel_space_from_json`)."""
        return {"name": self.name, "offset": list(self.offset), "scale": list(self.scale)}


CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2023, 0.1994, 0.2010)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

PIXEL_SPACES: dict[str, PixelSpace] = {
    space.name: space
    for space in (
        PixelSpace("[-1,1]", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
        PixelSpace("[0,1]", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
        PixelSpace("cifar10-normalised", CIFAR10_MEAN, CIFAR10_STD),
        PixelSpace("imagenet-normalised", IMAGENET_MEAN, IMAGENET_STD),
    )
}


def to_pixel_values(values: np.ndarray, pixels: PixelSpace) -> np.ndarray:
    """A decryption (float or uint8) as float32 values of ``pixels``, not yet clipped."""
    values = np.asarray(values)
    if values.dtype == np.uint8:
        return pixels.from_uint8(values)
    return values.astype(np.float32, copy=False)


def get_pixel_space(name: str) -> PixelSpace:
    """The built-in pixel space called ``name`` (a key of :data:`PIXEL_SPACES`).

    Parameters
    ----------
    name : str
        ``"[-1,1]"`` (the 2020 challenge), ``"[0,1]"``, ``"cifar10-normalised"`` or ``"imagenet-normalised"``.

    Returns
    -------
    PixelSpace

    Raises
    ------
    ConfigError
        For an unknown name; the message lists the known ones.

    Examples
    --------
    >>> get_pixel_space("[0,1]").signed
    False
    """
    try:
        return PIXEL_SPACES[name]
    except KeyError:
        raise ConfigError(f"unknown pixel space {name!r}; known: {', '.join(PIXEL_SPACES)}") from None


def pixel_space_from_json(obj: object) -> PixelSpace:
    """Rebuild a pixel space from challenge.json (a name, or a dict with name/offset/scale)."""
    if isinstance(obj, str):
        return get_pixel_space(obj)
    if isinstance(obj, dict) and {"name", "offset", "scale"} <= obj.keys():
        offset, scale = tuple(map(float, obj["offset"])), tuple(map(float, obj["scale"]))
        if len(offset) != 3 or len(scale) != 3 or min(scale) <= 0:
            raise ConfigError(f"invalid pixel space {obj!r}")
        return PixelSpace(str(obj["name"]), offset, scale)
    raise ConfigError(f"invalid pixel space {obj!r}")


@lru_cache(maxsize=16)
def _uint8_table(offset: tuple[float, float, float], scale: tuple[float, float, float]) -> npt.NDArray[np.float32]:
    """3 x 256 float32: every 8-bit value of every channel mapped as :meth:`PixelSpace.from_unit` maps it."""
    unit = np.arange(256, dtype=np.float64)[None, :] / 255.0
    values = (unit - np.asarray(offset, dtype=np.float64)[:, None]) / np.asarray(scale, dtype=np.float64)[:, None]
    table = values.astype(np.float32)
    table.flags.writeable = False
    return table
