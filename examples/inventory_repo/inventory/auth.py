"""Users and logins."""

from __future__ import annotations

import hashlib

SALT = "inventory"


def hash_password(password: str) -> str:
    """The stored form of a password: salted SHA-256, in hex."""
    return hashlib.sha256((SALT + password).encode()).hexdigest()


class UserStore:
    """Users and their password hashes."""

    def __init__(self, passwords: dict[str, str] | None = None) -> None:
        self.hashes: dict[str, str] = {}
        for username, password in (passwords or {}).items():
            self.add(username, password)

    def add(self, username: str, password: str) -> None:
        """Store a user's password hash."""
        self.hashes[username] = hash_password(password)

    def get_hash(self, username: str) -> str | None:
        """The stored hash of a user, or None for an unknown user."""
        return self.hashes.get(username)


class AuthService:
    """Checks logins against a user store."""

    def __init__(self, store: UserStore) -> None:
        self.store = store

    def authenticate(self, username: str, password: str) -> bool:
        """True when the user exists and the password's hash matches the stored one."""
        raise NotImplementedError
