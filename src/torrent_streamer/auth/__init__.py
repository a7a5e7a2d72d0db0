"""Authentication and authorisation: passwords, tokens, sessions, MFA, roles and permissions."""
