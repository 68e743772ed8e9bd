"""The method registry: ``METHODS.build(name, config=..., vocab_size=...)``."""

from mmssl.registry import Registry

METHODS = Registry("method")
