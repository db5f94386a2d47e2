"""The ledger, modelled on TigerBeetle's accounts and transfers.

Every transfer moves an amount from one account's debits to another's
credits, so total debits always equal total credits. Account rows carry their
running totals, updated in the same transaction as the transfer, so a balance
is read, never summed. Transfers are append-only: the database refuses an
UPDATE or DELETE of one (triggers in migration 0003).
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from shop.database import enum_column
from shop.extensions import db
from shop.timeutil import utcnow


class AccountKind(enum.StrEnum):
    TRAINEE = "trainee"  # one per trainee: credit-normal, never below zero
    WORKSHOP_POOL = "workshop_pool"  # units sold with no recorded makers
    SALE_SHARE_SOURCE = "sale_share_source"  # the store's side of every share
    WITHDRAWALS = "withdrawals"  # paid out to schools and suppliers
    REFUND_LOSS = "refund_loss"  # reversals a trainee had already spent

    @property
    def label(self) -> str:
        """For people (the reconciliation page), in the reader's language."""
        return _ACCOUNT_KIND_LABELS[self.value]


_ACCOUNT_KIND_LABELS = {
    "trainee": _l("Trainee"),
    "workshop_pool": _l("Workshop pool"),
    "sale_share_source": _l("Sale share source"),
    "withdrawals": _l("Withdrawals"),
    "refund_loss": _l("Refund loss"),
}


class TransferKind(enum.StrEnum):
    SALE_SHARE = "sale_share"
    REFUND_REVERSAL = "refund_reversal"
    # A reversal undone because its refund failed at the gateway: the mirror of each
    # reversal transfer of that refund (same subject, same amount, the other way).
    REVERSAL_UNDONE = "reversal_undone"
    WITHDRAWAL = "withdrawal"
    MATCH = "match"
    CORRECTION = "correction"

    @property
    def label(self) -> str:
        return _TRANSFER_KIND_LABELS[self.value]


_TRANSFER_KIND_LABELS = {
    "sale_share": _l("Sale share"),
    "refund_reversal": _l("Refund reversal"),
    "reversal_undone": _l("Reversal undone"),
    "withdrawal": _l("Withdrawal"),
    "match": _l("Match"),
    "correction": _l("Correction"),
}


class LedgerAccount(db.Model):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint("debits_posted >= 0 AND credits_posted >= 0", name="totals_not_negative"),
        # TigerBeetle's debits_must_not_exceed_credits: a flagged account never goes below zero.
        CheckConstraint(
            "NOT debits_must_not_exceed_credits OR debits_posted <= credits_posted",
            name="balance_not_negative",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # What the account is for, unique: trainee:12, pool:3, sale_share_source, withdrawals, refund_loss.
    code: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[AccountKind] = mapped_column(enum_column(AccountKind, "ledger_account_kind"))
    currency: Mapped[str] = mapped_column(String(3))
    trainee_id: Mapped[int | None] = mapped_column(
        ForeignKey("trainees.id"), unique=True, nullable=True
    )
    workshop_id: Mapped[int | None] = mapped_column(
        ForeignKey("workshops.id"), index=True, nullable=True
    )
    debits_must_not_exceed_credits: Mapped[bool] = mapped_column(default=False)
    debits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    # Sale shares and matches only: what a trainee earned, and when last.
    earned_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    last_credit_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    trainee = relationship("Trainee")
    workshop = relationship("Workshop")

    @property
    def balance(self) -> int:
        """Credit-normal balance (what the account holds for its owner)."""
        return self.credits_posted - self.debits_posted


class Transfer(db.Model):
    __tablename__ = "ledger_transfers"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="two_accounts"),
        Index("ix_ledger_transfers_cause", "cause_type", "cause_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    debit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    kind: Mapped[TransferKind] = mapped_column(enum_column(TransferKind, "transfer_kind"))
    # Derived from the cause (order line + account, refund line + account, withdrawal…): a
    # cause can post its transfer once, however often it is reported.
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    cause_type: Mapped[str] = mapped_column(
        String(32)
    )  # order_line, refund, withdrawal, correction
    cause_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The trainee or pool account a reversal is about, even when a shortfall is booked to
    # refund_loss instead: cumulative reversals per account are summed over it.
    subject_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("ledger_accounts.id"), index=True, nullable=True
    )
    # Never a buyer: sales read as product and month.
    memo: Mapped[str] = mapped_column(String(300), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )

    debit_account: Mapped[LedgerAccount] = relationship(foreign_keys=[debit_account_id])
    credit_account: Mapped[LedgerAccount] = relationship(foreign_keys=[credit_account_id])


class WithdrawalPurpose(enum.StrEnum):
    COURSE_FEES = "course_fees"
    SCHOOL_FEES = "school_fees"
    MATERIALS = "materials"
    BUSINESS = "business"

    @property
    def label(self) -> str:
        """In English, for records: the ledger's memo, the audit log."""
        return {
            "course_fees": "Course fees",
            "school_fees": "School fees",
            "materials": "Materials or tools",
            "business": "Starting a business",
        }[self.value]

    @property
    def shown(self) -> str:
        """In the reader's language, for pages and the form."""
        return _PURPOSES_SHOWN[self.value]


_PURPOSES_SHOWN = {
    "course_fees": _l("Course fees"),
    "school_fees": _l("School fees"),
    "materials": _l("Materials or tools"),
    "business": _l("Starting a business"),
}


class StaffRequest:
    """What a request one staff member makes and another decides (shop/training/four_eyes.py)
    keeps: whose account, who asked and when, who decided and when, the transfer posted."""

    id: Mapped[int] = mapped_column(primary_key=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("trainees.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decision_note: Mapped[str] = mapped_column(String(500), default="")
    transfer_id: Mapped[int | None] = mapped_column(
        ForeignKey("ledger_transfers.id"), nullable=True
    )

    @declared_attr
    def requested_by(cls):
        return relationship("User", foreign_keys=[cls.requested_by_id])

    @declared_attr
    def decided_by(cls):
        return relationship("User", foreign_keys=[cls.decided_by_id])

    @declared_attr
    def trainee(cls):
        return relationship("Trainee")


class WithdrawalStatus(enum.StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"  # the transfer is posted: paid to the payee
    REJECTED = "rejected"

    @property
    def label(self) -> str:
        return _REQUEST_STATUS_LABELS[self.value]


# A withdrawal's and a correction's status, as staff read it.
_REQUEST_STATUS_LABELS = {
    "requested": _l("Requested"),
    "approved": _l("Approved"),
    "rejected": _l("Rejected"),
}


WITHDRAWAL_EXCHANGE_CHECKS = (  # migration 0028 writes the same
    CheckConstraint("local_amount > 0", name="local_amount_positive"),
    CheckConstraint(
        "(rate IS NULL AND rate_source IS NULL AND rate_date IS NULL) OR "
        "(rate IS NOT NULL AND rate_source IS NOT NULL AND rate_date IS NOT NULL)",
        name="rate_all_or_none",
    ),
    CheckConstraint(  # no rate: paid as booked; a rate: between two currencies
        "(rate IS NULL AND local_currency = currency AND local_amount = amount) OR "
        "(rate IS NOT NULL AND local_currency <> currency)",
        name="rate_when_converted",
    ),
)


class Withdrawal(StaffRequest, db.Model):
    __tablename__ = "withdrawals"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "decided_by_id IS NULL OR decided_by_id <> requested_by_id", name="four_eyes"
        ),
        *WITHDRAWAL_EXCHANGE_CHECKS,
        Index("ix_withdrawals_local_currency", "local_currency", "id"),
    )

    # What the ledger posts, in the account's currency (converted when paid in another).
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # What the school or supplier is paid: in its currency (KHR, INR) at `rate`, typed as
    # "1 <currency> = <rate> <local_currency>" and kept as typed, from `rate_source` on
    # `rate_date`; without a rate, the account's currency and amount (shop/training/exchange.py).
    local_currency: Mapped[str] = mapped_column(String(3))
    local_amount: Mapped[int] = mapped_column(BigInteger)
    rate: Mapped[str | None] = mapped_column(String(40), nullable=True)
    rate_source: Mapped[str | None] = mapped_column(String(200), nullable=True)
    rate_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    purpose: Mapped[WithdrawalPurpose] = mapped_column(
        enum_column(WithdrawalPurpose, "withdrawal_purpose")
    )
    payee: Mapped[str] = mapped_column(String(200))  # the school or supplier paid
    details: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[WithdrawalStatus] = mapped_column(
        enum_column(WithdrawalStatus, "withdrawal_status"), default=WithdrawalStatus.REQUESTED
    )

    @property
    def exchange(self):
        """Its two amounts (shop.training.exchange.Exchange) when paid in another currency."""
        from shop.training.exchange import Exchange

        if self.rate is None:
            return None
        return Exchange(self.local_amount, self.local_currency, self.rate, self.rate_source or "",
                        self.rate_date, self.amount, self.currency)  # fmt: skip


class CorrectionStatus(enum.StrEnum):
    REQUESTED = "requested"  # proposed; nothing posted yet
    APPROVED = "approved"  # the transfer is posted
    REJECTED = "rejected"

    @property
    def label(self) -> str:
        return _REQUEST_STATUS_LABELS[self.value]


class CorrectionRequest(StaffRequest, db.Model):
    """A correction one staff member proposes and another decides: nobody moves money
    in or out of a trainee's account alone."""

    __tablename__ = "correction_requests"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        CheckConstraint(
            "decided_by_id IS NULL OR decided_by_id <> requested_by_id", name="four_eyes"
        ),
    )

    amount: Mapped[int] = mapped_column(BigInteger)  # > 0 credits her, < 0 takes back
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(250))
    # From the form that proposed it: pressing the button twice proposes once.
    request_key: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[CorrectionStatus] = mapped_column(
        enum_column(CorrectionStatus, "correction_status"), default=CorrectionStatus.REQUESTED
    )


class GoalStatus(enum.StrEnum):
    OPEN = "open"
    REACHED = "reached"
    DROPPED = "dropped"

    @property
    def label(self) -> str:
        return _GOAL_STATUS_LABELS[self.value]


_GOAL_STATUS_LABELS = {"open": _l("Open"), "reached": _l("Reached"), "dropped": _l("Dropped")}


class DevelopmentGoal(db.Model):
    """One goal of a trainee's individual development plan."""

    __tablename__ = "development_goals"
    __table_args__ = (CheckConstraint("target_amount > 0", name="target_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("trainees.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    target_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    target_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[GoalStatus] = mapped_column(
        enum_column(GoalStatus, "goal_status"), default=GoalStatus.OPEN
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
