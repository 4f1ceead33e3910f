"""The image shape every challenge, source and decryption shares, and the one check of it.

Challenges store 32 x 32 RGB images channel-last (NHWC), as the InstaHide Challenge did. Arrays
from PyTorch code are often channel-first (NCHW); those are refused with a message that says
how to fix them rather than transposed silently, since a wrong guess would scramble pixels.
"""

from __future__ import annotations

import os

from instahide_bench.core.errors import InputFileError

#: Height, width, channels of every image (NHWC).
IMAGE_SHAPE: tuple[int, int, int] = (32, 32, 3)
#: The same image channel-first, as torch stores it.
#: Values per image (pixels x channels).
IMAGE_VALUES: int = IMAGE_SHAPE[0] * IMAGE_SHAPE[1] * IMAGE_SHAPE[2]
IMAGE_SHAPE_NCHW: tuple[int, int, int] = (IMAGE_SHAPE[2], IMAGE_SHAPE[0], IMAGE_SHAPE[1])


def check_image_shape(
    shape: tuple[int, ...], path: str | os.PathLike[str], *, rows: str = "N", what: str = "images"
) -> None:
    """Raise :class:`InputFileError` unless ``shape`` is ``rows`` x 32 x 32 x 3.

    Parameters
    ----------
    shape : tuple of int
        The array's shape.
    path : path-like
        The file the array came from (named in the message).
    rows : str
        What the first axis counts, for the message (``N``, ``E``).
    what : str
        What the images are, for the message (``encryptions``, ``decryptions``).
    """
    shape = tuple(int(d) for d in shape)
    expected = f"{rows} x 32 x 32 x 3"
    if len(shape) == 4 and shape[1:] == IMAGE_SHAPE_NCHW:
        raise InputFileError(
            path, f"shape {shape} looks like NCHW; {what} must be NHWC ({expected}): use array.transpose(0, 2, 3, 1)"
        )
    if len(shape) != 4 or shape[1:] != IMAGE_SHAPE:
        raise InputFileError(path, f"shape {shape}, expected {expected} (NHWC)")


__all__ = ["IMAGE_SHAPE", "IMAGE_SHAPE_NCHW", "IMAGE_VALUES", "check_image_shape"]
