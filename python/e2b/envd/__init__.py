"""envd (the in-sandbox daemon) helpers shared by the sync and async APIs."""
