"""Catalog domain: entries, full-text and typo-tolerant search, moderation, Torznab indexers.

Routes in ``endpoints.py``, SQL in ``repository.py``, logic in ``service.py``.
"""
