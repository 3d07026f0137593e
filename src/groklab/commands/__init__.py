"""CLI commands, one module per verb; each exposes `register(app)`."""
