"""Database backends of our own: Django's, with what its defaults cost us measured away."""
