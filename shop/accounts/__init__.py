"""Users, roles and signing in."""
