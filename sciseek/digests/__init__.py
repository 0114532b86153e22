"""Subscriptions and email digests: interests, opt-in, signed links, mail."""
