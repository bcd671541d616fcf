"""The asynchronous sandbox API."""
