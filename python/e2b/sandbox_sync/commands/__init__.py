"""Commands and PTYs of the sync sandbox."""
