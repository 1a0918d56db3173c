"""Search at scale: a seeded 100,000-video corpus, indexed and queried in-process and through the API."""
