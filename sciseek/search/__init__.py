"""The engine: indexing paper files, retrieval, fusion, feedback, re-ranking and calibrated
relevance."""
