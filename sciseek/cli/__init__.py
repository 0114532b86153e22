"""The ``sciseek`` command line (see ``sciseek --help``)."""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
