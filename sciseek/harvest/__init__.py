"""Keeping a data dir up to date with arXiv over OAI-PMH."""
