"""A reader's library: saved papers and tags, and recommendations learned from them."""
