"""Converters from public dataset layouts (videos + annotation files) to WebDataset shards.

The shard format is specified in :mod:`mmssl.shard_format`. Uses :mod:`mmssl.media`,
never the training code.
"""
