"""Indexes derived from the store: BM25, the encoder models, dense and sparse vectors."""
