"""Artworks on disk with their provenance (the indexed gallery builds on this)."""
