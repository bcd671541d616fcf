"""Commands and PTYs of the async sandbox."""
