"""Filesystem of the async sandbox."""
