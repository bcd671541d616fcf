"""Network configuration constants."""

ALL_TRAFFIC = "0.0.0.0/0"
"""CIDR range that matches all traffic."""
