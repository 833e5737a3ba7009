"""The package's own error type, kept free of heavy imports so any caller can catch it."""

from __future__ import annotations

import os


class CheckpointError(Exception):
    """A checkpoint could not be read; the message names the file and the problem."""

    def __init__(self, source: str | os.PathLike, problem: str):
        self.source, self.problem = str(source), problem
        super().__init__(f"{source}: {problem}")
