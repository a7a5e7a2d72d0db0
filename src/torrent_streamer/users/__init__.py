"""Users: the account table, the own-profile API (``/me``), export and deletion."""
