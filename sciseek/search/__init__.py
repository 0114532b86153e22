"""The engine: retrieval, fusion, feedback, re-ranking and calibrated relevance."""
