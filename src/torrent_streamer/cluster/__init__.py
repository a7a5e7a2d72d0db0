"""Cluster wiring: node identity, one holder per torrent (a Redis lease), status through Redis,
and the stored metadata that lets any node add any torrent at once."""
