"""CLI commands, one module each; shared options in `options.py`."""
