"""The edgeopt version: recorded in checkpoints and results, so a file says what wrote it."""

__version__ = "0.2.0"
