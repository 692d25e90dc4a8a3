"""Figures (matplotlib and movie writers; the core never imports this package)."""
