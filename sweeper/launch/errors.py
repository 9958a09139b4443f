"""Errors the CLI prints as one line, as they are (besides the spec's and the data's)."""


class SweepAborted(RuntimeError):
    """A fault every later trial would meet (a full disk): the sweep stops; a relaunch continues."""
