"""Generic helpers, one job per module (issue 22 layout)."""
