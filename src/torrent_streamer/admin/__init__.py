"""Administration API: users (role, disable, sessions) and the audit log listing."""
