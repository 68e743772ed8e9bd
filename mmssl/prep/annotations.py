"""Errors for annotation records that do not match their published format."""

from __future__ import annotations

from mmssl.prep.convert import Failure


class AnnotationError(ValueError):
    """A record that does not match the published format, naming file and record."""

    def __init__(self, path, record: str, problem: str):
        self.path, self.record, self.problem = str(path), record, problem
        super().__init__(f"{path}: record {record!r}: {problem}")

    def as_failure(self) -> Failure:
        return Failure(self.record, "bad_annotation", f"{self.path}: {self.problem}")


def collect(errors: list[AnnotationError], error: AnnotationError, strict: bool) -> None:
    """Raise in strict mode; otherwise remember the error so it is counted, and go on."""
    if strict:
        raise error
    errors.append(error)
