"""Reading and writing real media files (PyAV), and the log-mel audio front end."""

from mmssl.media.decode import AUDIO_RATE, Clip, cut_segments, decode_audio, scaled_size
from mmssl.media.encode import VideoEncoding, mp4_bytes, write_mp4
from mmssl.media.probe import MediaError, MediaInfo, probe
from mmssl.media.reader import ClipReader, decode_all

__all__ = [
    "AUDIO_RATE", "Clip", "ClipReader", "MediaError", "MediaInfo", "VideoEncoding",
    "cut_segments", "decode_all", "decode_audio", "mp4_bytes", "probe", "scaled_size",
    "write_mp4",
]
