"""Errors that reach the user as one line naming the file or item and the problem."""

from __future__ import annotations


class HarnessError(Exception):
    """Any problem the user can fix (bad input, bad config, unknown name)."""


class InputError(HarnessError):
    """A bad input file or metadata entry: `where` names the file or item, `problem` says what is wrong."""

    def __init__(self, where, problem: str):
        self.where = str(where)
        self.problem = problem
        super().__init__(f"{self.where}: {problem}")

    def __reduce__(self):  # rebuilt from its two parts, so it crosses process boundaries (a training worker)
        return type(self), (self.where, self.problem)
