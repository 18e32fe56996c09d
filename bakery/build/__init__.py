"""Turning definitions into images: fingerprint and render (pure), builders (I/O)."""
