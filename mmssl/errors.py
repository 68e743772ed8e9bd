"""What a user error is: bad input, not a bug.

An exception of a class derived from :class:`UserError` says that something the user gave —
a config key or value, an annotation file, a run directory, a checkpoint, a name — cannot
be used, and its message says which and why. The command line prints such an error as one
line (``mmssl: error: <message>``, exit code 2) instead of a traceback; every other
exception is a bug and keeps its traceback. The module sits below every other one, so any
layer can raise a user error.
"""

from __future__ import annotations


class UserError(Exception):
    """Base class of the errors that mean "the input is wrong", with a message naming the
    file, record or setting and what was expected."""
