"""Catalog errors, each carrying its HTTP status through the core error tree (problem JSON)."""

from __future__ import annotations

from torrent_streamer.core.errors import BadRequest, Conflict, NotFound


class EntryNotFound(NotFound):
    slug, title = "catalog-entry-not-found", "Catalog entry not found"


class DuplicateEntry(Conflict):
    slug, title = "catalog-duplicate", "An entry with this info-hash already exists"


class InvalidTransition(Conflict):
    slug, title = "catalog-invalid-transition", "The entry cannot move to that status"


class AlreadyReported(Conflict):
    slug, title = "catalog-already-reported", "You already reported this entry"


class InvalidCursor(BadRequest):
    slug, title = "invalid-cursor", "The cursor is invalid for this query"


class IndexerNotFound(NotFound):
    slug, title = "indexer-not-found", "Indexer not found"


class IndexerNameTaken(Conflict):
    slug, title = "indexer-name-taken", "An indexer with this name already exists"
