"""The command wing: ``apptuit-like demo``, ``send`` and ``query``.

It may import the core and the reporter; nothing imports it back.
"""
from .main import main

__all__ = ["main"]
