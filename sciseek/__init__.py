"""sciseek: a self-hostable search engine for the scientific literature."""

from .engine import Engine, Hit
from .papers import Filters, Paper
from .readers import ReadError, read_papers

__version__ = "0.1.0"
__all__ = ["Engine", "Filters", "Hit", "Paper", "ReadError", "read_papers", "__version__"]
