"""Command-line entry points behind the thin scripts of tools/ (issue 22 layout)."""
