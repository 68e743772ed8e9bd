"""The training application: loop, optimisers, schedules, resumable state, logging.

``mmssl.train`` is the entry point (``mmssl train``, ``accelerate launch -m mmssl.train``);
this package holds its parts, one concept per file.
"""
