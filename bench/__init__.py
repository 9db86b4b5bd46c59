"""Benchmarks of the handbook system (``make bench``)."""
