"""Core of instahide-bench: data sources, challenge format, scoring, runners and the CLI."""
