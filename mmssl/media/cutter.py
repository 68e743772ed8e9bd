"""The demux passes behind :func:`mmssl.media.decode.iter_segments`: decode only what the
segments need.

Segments are grouped into *runs*: sorted by start, a segment joins the run before it when
decoding on from where that run ends costs no more than decoding from the keyframe before
the segment: when the container's index lists keyframes (mp4 always, Matroska once its cues
are read), when that keyframe is not after the run's end; without an index, when the
segment starts less than :data:`SEEK_GAP_SECONDS` after the run's end. Each run seeks the
video to the keyframe at or before its start, decodes, and stops as soon as its last
segment is finished, so the video is decoded from the first needed keyframe to the end of
the last segment and the gaps between runs are skipped.

A decoder started at a keyframe gives the same frames as one that decoded everything before
it, and the frame picked for each output time depends only on timestamps, so the video of
every segment is the same as a pass from the start of the file would give. If a seek lands
after a run's start (a broken index), the run is decoded again from the start of the file.

Audio decoders carry state from every frame they decoded (AAC's noise substitution draws
from a generator that never forgets), so the sound is read from a second container of the
same file that never seeks: an :class:`~mmssl.media.audio.AudioTrack` decodes every audio
packet from the start of the track, and resamples only near the runs; each segment's
samples are those of :func:`~mmssl.media.audio.decode_audio`'s whole track, whatever it is
cut with.

A file that stops decoding part-way ends the cut there: an error from the demuxer or a
decoder, the end of the video data well before the duration its header gives (a truncated
download), or audio timestamps that jump ahead (data missing in the middle: the samples
after the jump would be out of step with the video). Every segment not yet finished then
comes out as a ``decode_error`` whose ``decoded_to`` says up to when the file decoded; the
segments handed out before stay valid.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

import av
import numpy as np

from mmssl.media.audio import AudioTrack, stream_start
from mmssl.media.clip import Clip, Segment, scaled_size
from mmssl.media.frames import Pictures
from mmssl.media.probe import MediaError, MediaSource

SEEK_GAP_SECONDS = 3.0  # about half a typical GOP of downloaded video (2-10 s)
# A file whose frames end this much before its header's duration was cut short.
TRUNCATION_SLACK_SECONDS = 1.0
_EPS = 1e-6

Outcome = tuple[int, Clip | MediaError]


def plan_runs(segments: list[Segment], keyframes: np.ndarray | None = None,
              gap: float = SEEK_GAP_SECONDS) -> list[list[int]]:
    """Indices of ``segments`` grouped into runs decoded in one go (see the module).
    ``keyframes``: the times of the video's keyframes, ascending, when the index gives
    them."""
    runs: list[list[int]] = []
    run_end = -np.inf
    for index in sorted(range(len(segments)), key=lambda i: (segments[i].start, i)):
        segment = segments[index]
        if runs and _decode_on(run_end, segment.start, keyframes, gap):
            runs[-1].append(index)
            run_end = max(run_end, segment.end)
        else:
            runs.append([index])
            run_end = segment.end
    return runs


def _decode_on(position: float, target: float, keyframes: np.ndarray | None,
               gap: float) -> bool:
    """Whether to decode on from ``position`` to ``target`` rather than seek."""
    if keyframes is None:
        return target - position <= gap
    before = keyframes[: np.searchsorted(keyframes, target, side="right")]
    return len(before) == 0 or before[-1] <= position


def index_keyframes(stream) -> np.ndarray | None:
    """Keyframe times (seconds, ascending) from the container's index of ``stream``, or
    None when it lists fewer than two (no index, or one not read yet)."""
    times = [entry.timestamp for entry in stream.index_entries if entry.is_keyframe]
    if len(times) < 2:
        return None
    return np.sort(np.array(times, np.float64) * float(stream.time_base))


class Damage(Exception):
    """The file stopped decoding at ``decoded_to`` seconds (``detail`` says how)."""

    def __init__(self, decoded_to: float, detail: str):
        super().__init__(detail)
        self.decoded_to, self.detail = decoded_to, detail


class SeekMissed(Exception):
    """A seek landed after the time it was asked for."""


class SegmentCutter:
    """Cuts ``wanted`` segments out of an open ``container`` (see the module), the sound
    from ``sound`` (the same file's audio, opened apart; None without audio): :meth:`run`
    yields ``(index, Clip | MediaError)`` as segments finish."""

    def __init__(self, container, sound: AudioTrack | None, wanted: list[Segment], fps: float,
                 short_side: int | None, source: MediaSource, pixel_format: str,
                 seek: bool = True):
        self.container, self.sound, self.source, self.wanted = container, sound, source, wanted
        self.fps, self.short_side = fps, short_side
        self.pictures = Pictures(pixel_format)
        self.video = container.streams.video[0]
        self.first_time = stream_start(self.video)
        self.expected_end = _expected_end(container, self.video)
        self.seek, self.gap = seek, SEEK_GAP_SECONDS if seek else np.inf
        self.at_start = True
        self.decoded_to = self.first_time
        self.open: set[int] = set()

    def run(self) -> Iterator[Outcome]:
        keyframes = index_keyframes(self.video) if self.seek else None
        runs = plan_runs(self.wanted, keyframes, self.gap)
        for number, indices in enumerate(runs):
            try:
                yield from self._run(indices)
            except Damage as damage:
                later = [i for run in runs[number + 1:] for i in run]
                yield from self._lost(sorted(self.open) + later, damage)
                return

    def _run(self, indices: list[int]) -> Iterator[Outcome]:
        start = min(self.wanted[i].start for i in indices)
        self.open = set(indices)
        if self.sound is not None:
            self.sound.start_at(start)
        landing = self._seek(start)
        try:
            yield from _Pass(self, indices, landing=start if landing else None).demux()
        except SeekMissed:
            self._seek_to_file_start()
            yield from _Pass(self, indices, landing=None).demux()

    def _seek(self, time: float) -> bool:
        """Move to the keyframe at or before ``time``; False when the demuxer stands at the
        start of the file and ``time`` is not after the first frame (nothing to skip)."""
        if not self.seek or (self.at_start and time <= self.first_time + _EPS):
            return False
        self._seek_at(max(time, self.first_time))
        return True

    def _seek_to_file_start(self) -> None:
        self._seek_at(self.first_time)

    def _seek_at(self, time: float) -> None:
        self.at_start = False
        try:
            self.container.seek(int(round(time / self.video.time_base)), stream=self.video,
                                backward=True)
        except av.FFmpegError as error:
            raise Damage(self.decoded_to, f"seek to {time:.2f} s failed: {error}") from error

    def _lost(self, indices: list[int], damage: Damage) -> Iterator[Outcome]:
        for index in sorted(indices, key=lambda i: self.wanted[i].start):
            segment = self.wanted[index]
            segment.frames = None
            yield index, MediaError(
                "decode_error", self.source,
                f"segment {segment.start:.2f}-{segment.end:.2f} s lost: the file stops "
                f"decoding after {damage.decoded_to:.2f} s ({damage.detail})",
                decoded_to=damage.decoded_to)


class _Pass:
    """One demux pass of the video: from where the container stands to the end of a run's
    segments, their sound pulled from the cutter's audio track as each one's frames are
    in."""

    def __init__(self, cutter: SegmentCutter, indices: list[int], landing: float | None):
        self.cutter, self.sound = cutter, cutter.sound
        self.router = FrameRouter({i: cutter.wanted[i] for i in indices}, cutter.fps,
                                  cutter.short_side, cutter.pictures)
        # After a seek, the first frame must come at or before ``landing``.
        self.landing = landing
        self.last_video: float | None = None

    def demux(self) -> Iterator[Outcome]:
        cutter = self.cutter
        try:
            for packet in cutter.container.demux(cutter.video):
                for frame in packet.decode():
                    self._take(frame)
                yield from self._finished(at_end=False)
                self._check_sound()
                if not cutter.open:
                    return  # the run is done: the rest of the file is not read
        except av.FFmpegError as error:
            yield from self._before_damage(Damage(cutter.decoded_to, str(error)))
        except Damage as damage:
            yield from self._before_damage(damage)
        yield from self._check_complete()
        self.router.finish()
        yield from self._finished(at_end=True)
        self._check_sound()

    def _take(self, frame) -> None:
        time = float(frame.time or 0.0)
        if self.landing is not None and time > self.landing + _EPS:
            raise SeekMissed()
        self.landing = None
        self.router.push(frame)
        self.last_video = time
        self.cutter.decoded_to = max(self.cutter.decoded_to, time)

    def _check_sound(self) -> None:
        """Segments still open whose sound broke off are lost."""
        if self.sound is not None and self.sound.broken and self.cutter.open:
            time, detail = self.sound.broken
            raise Damage(min(self.cutter.decoded_to, time), detail)

    def _check_complete(self) -> Iterator[Outcome]:
        """At the end of the data: was the file cut short (see the module)?"""
        expected = self.cutter.expected_end
        reached = self.last_video if self.last_video is not None else self.cutter.decoded_to
        if expected is not None and reached < expected - TRUNCATION_SLACK_SECONDS:
            yield from self._before_damage(Damage(
                reached, f"the data ends at {reached:.2f} s, the header says {expected:.2f} s"))

    def _before_damage(self, damage: Damage) -> Iterator[Outcome]:
        """Hand out the segments whose frames and sound all came before ``damage``, then
        raise it for the others."""
        yield from self._finished(at_end=False)
        raise damage

    def _finished(self, at_end: bool) -> Iterator[Outcome]:
        cutter = self.cutter
        done = [i for i in sorted(cutter.open) if self._complete(i, at_end)]
        for index in done:
            cutter.open.discard(index)
            yield index, self._clip(cutter.wanted[index])
        if done and cutter.open and self.sound is not None:
            self.sound.drop_before(min(cutter.wanted[i].start for i in cutter.open))

    def _complete(self, index: int, at_end: bool) -> bool:
        """Whether segment ``index`` has its frames (all there will be, ``at_end``) and its
        sound: up to where its frames end, or as far as a track that ended undamaged goes
        once the video is at its end too (only the video's end tells a short track from a
        truncated file)."""
        segment = self.cutter.wanted[index]
        if not at_end and self.router.pending(index):
            return False
        if self.sound is None or not segment.count:  # no sound, or an error to hand out
            return True
        # The clip's sound covers its frames, which may end a little past the segment.
        end = segment.start + segment.count / self.cutter.fps if segment.count else segment.end
        return self.sound.reaches(end) or (at_end and not self.sound.broken)

    def _clip(self, segment: Segment) -> Clip | MediaError:
        cutter = self.cutter
        if not segment.count:
            return MediaError("segment_out_of_range", cutter.source,
                              f"{segment.start:.2f}-{segment.end:.2f} s")
        # A segment running past the last frame ends where the frames end.
        end = segment.start + segment.count / cutter.fps
        audio = None
        if self.sound is not None and self.sound.started:
            audio = self.sound.slice(segment.start, end)
        return Clip(segment.start, end, segment.take(), audio, cutter.pictures.pixel_format)


def _expected_end(container, video) -> float | None:
    """Where the header says the video ends, in seconds (None when it does not say)."""
    if video.duration:
        return float(((video.start_time or 0) + video.duration) * video.time_base)
    if container.duration:
        return (container.duration + (container.start_time or 0)) / av.time_base
    return None


class FrameRouter:
    """Hands each decoded frame to the output times of ``segments`` ({index: segment}) it
    covers.

    A source frame at time ``ts`` covers output times in [ts, next_ts); the last frame
    covers one frame interval. Output times before the first frame are left out, never
    invented. Frames are converted (scaled, to the pictures' pixel format) only when an
    output time needs them, and at most once.
    """

    def __init__(self, segments: dict[int, Segment], fps: float, short_side: int | None,
                 pictures: Pictures):
        self.short_side, self.pictures = short_side, pictures
        self.queues = {index: (segment, deque(segment.frame_times(fps)))
                       for index, segment in segments.items()}
        self.previous = None
        self.previous_image = None
        self.last_time = 0.0
        self.interval = 0.0

    def push(self, frame) -> None:
        time = float(frame.time or 0.0)
        if self.previous is not None:
            self._emit_before(time)
            self.interval = time - self.last_time
        else:
            self._drop_before(time)
        self.previous, self.previous_image, self.last_time = frame, None, time

    def pending(self, index: int) -> bool:
        """Whether segment ``index`` still waits for output times."""
        return bool(self.queues[index][1])

    def finish(self) -> None:
        if self.previous is not None:
            self._emit_before(self.last_time + max(self.interval, _EPS))

    def _drop_before(self, time: float) -> None:
        for _, times in self.queues.values():
            while times and times[0] < time - _EPS:
                times.popleft()

    def _emit_before(self, time: float) -> None:
        for segment, times in self.queues.values():
            while times and times[0] < time - _EPS:
                segment.add(self._image(), capacity=segment.count + len(times))
                times.popleft()

    def _image(self) -> np.ndarray:
        if self.previous_image is None:
            frame = self.previous
            width, height = scaled_size(frame.width, frame.height, self.short_side)
            self.previous_image = self.pictures(frame, width, height)
        return self.previous_image
