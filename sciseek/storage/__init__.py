"""The SQLite store, the source of truth, and the data dir's file plumbing."""
