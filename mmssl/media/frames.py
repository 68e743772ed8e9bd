"""Decoded pictures as numpy arrays, in one of two pixel formats.

``"rgb24"``
    ``(H, W, 3)`` uint8 per frame, what a model or a person looks at.
``"yuv420p"``
    ``(H * 3 // 2, W)`` uint8 per frame: the full-size luma plane Y, then the two
    half-size chroma planes U and V, each ``(H/2, W/2)``, row after row (PyAV's
    ``VideoFrame.to_ndarray`` / ``from_ndarray`` layout). It is what H.264 stores, so a
    converter that re-encodes asks for it and each output frame is converted once — source
    planes scaled straight to the encoder's — instead of scaled to RGB and converted back
    in the encoder.

A clip's frames stack these along a first axis T. H and W are even (4:2:0 chroma).
"""

from __future__ import annotations

import numpy as np
from av.video.reformatter import VideoReformatter

RGB = "rgb24"
YUV420 = "yuv420p"
PIXEL_FORMATS = (RGB, YUV420)


def frame_size(frames: np.ndarray, pixel_format: str) -> tuple[int, int]:
    """``(height, width)`` of the frames of a clip ``frames`` (T, ...) in ``pixel_format``."""
    check_format(pixel_format)
    if pixel_format == RGB:
        return int(frames.shape[1]), int(frames.shape[2])
    return int(frames.shape[1]) * 2 // 3, int(frames.shape[2])


def check_format(pixel_format: str) -> None:
    if pixel_format not in PIXEL_FORMATS:
        raise ValueError(f"pixel format {pixel_format!r}: expected one of {PIXEL_FORMATS}")


def upright(image: np.ndarray, rotation: int, pixel_format: str = RGB) -> np.ndarray:
    """``image`` as it is meant to be shown: phones store frames sideways with a display
    matrix saying to rotate them ``rotation`` degrees counter-clockwise (±90, 180). A
    yuv420p picture has each of its three planes turned."""
    turns = int(round(rotation / 90)) % 4
    if not turns:
        return image
    if pixel_format == RGB:
        return np.ascontiguousarray(np.rot90(image, turns))
    luma, blue, red = yuv_planes(image)
    turned = [np.rot90(plane, turns) for plane in (luma, blue, red)]
    height, width = turned[0].shape
    chroma = np.concatenate([turned[1].ravel(), turned[2].ravel()])
    return np.concatenate([turned[0], chroma.reshape(height // 2, width)])


def yuv_planes(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The Y (H, W), U and V (H/2, W/2) planes of one yuv420p picture (H * 3 // 2, W)."""
    height, width = image.shape[0] * 2 // 3, image.shape[1]
    chroma = image[height:].reshape(2, height // 2, width // 2)
    return image[:height], chroma[0], chroma[1]


class Pictures:
    """Turns decoded frames into upright arrays of one size and pixel format, through one
    swscale context reused for every frame (PyAV keeps it while the sizes and formats stay
    the same; a new context per frame costs several times the conversion)."""

    def __init__(self, pixel_format: str = RGB, interpolation: str = "AREA"):
        check_format(pixel_format)
        self.pixel_format = pixel_format
        self.interpolation = interpolation
        self.reformatter = VideoReformatter()

    def __call__(self, frame, width: int, height: int) -> np.ndarray:
        """``frame`` (a PyAV ``VideoFrame``) scaled to ``width`` × ``height`` as stored
        (before its rotation is applied), converted once, then turned upright."""
        picture = self.reformatter.reformat(frame, width=width, height=height,
                                            format=self.pixel_format,
                                            interpolation=self.interpolation, threads=1)
        return upright(picture.to_ndarray(), frame.rotation, self.pixel_format)
