"""Filesystem of the sync sandbox."""
