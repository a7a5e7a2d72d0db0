"""Alembic migrations (run by ``torrent-streamer migrate`` and on start of the embedded default)."""
