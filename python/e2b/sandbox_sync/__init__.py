"""The synchronous sandbox API."""
