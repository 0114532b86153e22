"""Papers in: the record type, file readers and the OAI-PMH protocol."""
