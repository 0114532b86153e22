"""sciseek: a self-hostable search engine for the scientific literature."""

from sciseek.ingest.papers import Filters, Paper
from sciseek.ingest.readers import ReadError, read_papers
from sciseek.search.engine import Engine, Hit

__version__ = "0.1.0"
__all__ = ["Engine", "Filters", "Hit", "Paper", "ReadError", "read_papers", "__version__"]
