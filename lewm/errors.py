"""Exceptions shared by several modules (a leaf module: it imports nothing from :mod:`lewm`)."""
from __future__ import annotations


class CheckpointError(ValueError):
    """A checkpoint cannot be used; the message names the file and the problem."""
