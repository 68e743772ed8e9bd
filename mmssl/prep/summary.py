"""A prepared dataset at a glance: ``mmssl prep --summary DIR [DIR ...]``."""

from __future__ import annotations

from pathlib import Path

from mmssl.shard_format import is_complete, read_manifest


def describe(manifest: dict) -> str:
    """One line for the end of a conversion: samples, shards, failures by reason, and the
    truncated downloads whose early samples were kept."""
    return (f"{manifest['total_samples']} samples in {len(manifest['shards'])} shards; "
            f"failed: {manifest['failed'] or 'none'}" + truncated_note(manifest, "; "))


def truncated_note(manifest: dict, prefix: str) -> str:
    """``truncated_kept: N videos (S s kept)``, or nothing when no download was truncated
    (or the manifest predates the count)."""
    videos = manifest.get("truncated_kept", 0)
    if not videos:
        return ""
    return (f"{prefix}truncated_kept: {videos} video{'s' * (videos != 1)} "
            f"({manifest.get('truncated_seconds_kept', 0.0):.1f} s kept)")


def summarize(directory: str | Path) -> str:
    """Shards, samples, failures by reason and settings from ``manifest.json``, plus a
    check that every listed shard is still complete on disk."""
    manifest = read_manifest(directory)
    shards = manifest["shards"]
    missing = [s["name"] for s in shards if not is_complete(s["path"])]
    lines = [f"{directory}: {manifest['dataset']}, {manifest['total_samples']} samples in "
             f"{len(shards)} shards"]
    failed = manifest.get("failed") or {}
    total_failed = sum(failed.values())
    lines.append(f"  skipped: {total_failed}" + "".join(
        f"\n    {reason}: {count}" for reason, count in sorted(failed.items())))
    if truncated_note(manifest, ""):
        lines.append(truncated_note(manifest, "  ") + " of samples ending before the first "
                     "undecodable point")
    prep = manifest.get("prep", {})
    lines.append("  prep: " + ", ".join(f"{key}={prep[key]}" for key in
                                        ("fps", "short_side", "gop", "samples_per_shard")
                                        if key in prep))
    if missing:
        lines.append(f"  INCOMPLETE on disk: {', '.join(missing)} (re-run the conversion)")
    return "\n".join(lines)
