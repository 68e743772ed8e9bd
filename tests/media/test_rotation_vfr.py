"""Sources as phones and screen recorders write them: frames stored sideways with a display
matrix, and variable frame rate (irregular timestamps)."""

import io
from fractions import Fraction

import av
import numpy as np
import pytest

from mmssl.media import cut_segments

HEIGHT, WIDTH = 32, 64


def encoded(images, times, rotation: int = 0) -> bytes:
    """H.264 mp4 of ``images`` (T, H, W, 3) shown at ``times`` seconds (ms time base)."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.options = {"bf": "0", "threads": "1"}
        if rotation:
            stream.set_display_rotation(rotation)
        for image, time in zip(images, times, strict=True):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = int(round(time * 1000)), Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def left_band(count: int) -> np.ndarray:
    """Black frames with a white band over the left quarter of the stored image."""
    images = np.zeros((count, HEIGHT, WIDTH, 3), np.uint8)
    images[:, :, : WIDTH // 4] = 255
    return images


@pytest.mark.parametrize(("rotation", "band_at"), [(90, "bottom"), (-90, "top"),
                                                   (180, "right"), (0, "left")])
def test_sideways_frames_come_out_upright(rotation, band_at):
    data = encoded(left_band(10), np.arange(10) / 10, rotation)
    frames = cut_segments(data, [(0.0, 1.0)], fps=5.0)[0].frames
    image = frames[2].mean(axis=2)
    upright_shape = (WIDTH, HEIGHT) if rotation in (90, -90) else (HEIGHT, WIDTH)
    assert image.shape == upright_shape
    edges = {"top": image[:4].mean(), "bottom": image[-4:].mean(),
             "left": image[:, :4].mean(), "right": image[:, -4:].mean()}
    assert max(edges, key=edges.get) == band_at
    assert edges[band_at] > 200 and min(edges.values()) < 30


def test_variable_frame_rate_picks_the_frame_on_screen():
    times = np.array([0.0, 0.05, 0.42, 0.43, 0.9, 1.6, 1.65, 1.7, 2.5])
    levels = (25 * np.arange(len(times))).astype(np.uint8)
    images = np.broadcast_to(levels[:, None, None, None], (len(times), HEIGHT, WIDTH, 3))
    clip = cut_segments(encoded(images.copy(), times), [(0.0, 2.4)], fps=5.0)[0]
    output_times = np.arange(len(clip.frames)) / 5.0
    on_screen = [levels[np.searchsorted(times, t + 1e-6) - 1] for t in output_times]
    np.testing.assert_allclose(clip.frames.reshape(len(clip.frames), -1).mean(axis=1),
                               on_screen, atol=4)
    assert len(clip.frames) == 12
