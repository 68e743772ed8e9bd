"""The encoder registries, one per modality (kept apart so encoder files import only this)."""

from __future__ import annotations

from mmssl.registry import Registry

VIDEO_ENCODERS = Registry("video encoder")
AUDIO_ENCODERS = Registry("audio encoder")
TEXT_ENCODERS = Registry("text encoder")
