"""Infrastructure shared by every domain: settings, database, errors, middleware.

Nothing in ``core`` imports a domain package or the engine.
"""
