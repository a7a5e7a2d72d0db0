"""Data files shipped with the package (common-password list)."""
