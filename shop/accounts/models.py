from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from shop.database import enum_column
from shop.extensions import db
from shop.timeutil import utcnow


class Role(enum.StrEnum):
    CUSTOMER = "customer"
    ADMIN = "admin"
    STAFF = "staff"


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-cased
    name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(default=True)
    email_verified_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Part of every session's user id (get_id): bumping it ends every session signed in
    # before, wherever their cookies were copied to (sign-out, password change or reset).
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    # The language the user chose for the store's pages (shop/i18n.py); None: not chosen.
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)

    roles: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        """Flask-Login's "alternative id": the session holds it, load_user checks it."""
        return f"{self.id}.{self.session_version}"

    @property
    def role_names(self) -> set[str]:
        return {r.role.value for r in self.roles}

    def has_role(self, role: Role | str) -> bool:
        return str(role) in self.role_names

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)  # scrypt, Werkzeug's default

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def label(self) -> str:
        """How staff see a colleague in lists: the name, else the email."""
        return self.name or self.email


class UserRole(db.Model):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[Role] = mapped_column(enum_column(Role, "user_role"), primary_key=True)

    user: Mapped[User] = relationship(back_populates="roles")
