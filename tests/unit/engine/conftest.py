"""Unit tests of the engine's pure parsers (no sockets)."""
