"""Parts of the sandbox shared by the sync and async APIs."""
