"""Command types shared by the sync and async APIs."""
