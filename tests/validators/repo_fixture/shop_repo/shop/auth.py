"""Logins."""

from __future__ import annotations

import hashlib

SALT = "shop"


def hash_password(password: str) -> str:
    """The stored form of a password."""
    return hashlib.sha256((SALT + password).encode()).hexdigest()


class UserDB:
    """Users and their password hashes."""

    def __init__(self, users: dict[str, str]) -> None:
        self.users = {name: hash_password(pw) for name, pw in users.items()}

    def lookup(self, username: str) -> str | None:
        """The stored hash of a user, or None."""
        return self.users.get(username)


class AuthService:
    """Checks passwords against a user database."""

    def __init__(self, db: UserDB) -> None:
        self.db = db

    def authenticate(self, username: str, password: str) -> bool:
        """True when the user exists and the password matches."""
        raise NotImplementedError

    class Policy:
        """What a logged-in user may do."""

        def __init__(self, admin: bool) -> None:
            self.admin = admin

        def allows(self, action: str) -> bool:
            """Admins may do anything, others only read."""
            raise NotImplementedError
