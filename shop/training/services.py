"""Training accounts: every service staff pages, commands and order listeners call.

The services live by what they are about (sale shares and refund reversals,
withdrawals, corrections, development plans); this module gathers them so that
callers keep one import. Services take plain arguments, flush and never commit.
"""

from __future__ import annotations

from shop.training.accounts import TrainingError, trainee_account
from shop.training.corrections import (
    approve_correction,
    pending_corrections,
    propose_correction,
    reject_correction,
)
from shop.training.plans import GoalProgress, add_goal, goal_progress, set_goal_status
from shop.training.reversals import reverse_for_refund, undo_for_failed_refund
from shop.training.shares import credit_sale_shares, split_share
from shop.training.withdrawals import (
    RateNeedsConfirmation,
    approve_withdrawal,
    pending_withdrawals,
    reject_withdrawal,
    request_withdrawal,
)

__all__ = [
    "GoalProgress",
    "RateNeedsConfirmation",
    "TrainingError",
    "add_goal",
    "approve_correction",
    "approve_withdrawal",
    "credit_sale_shares",
    "goal_progress",
    "pending_corrections",
    "pending_withdrawals",
    "propose_correction",
    "reject_correction",
    "reject_withdrawal",
    "request_withdrawal",
    "reverse_for_refund",
    "set_goal_status",
    "split_share",
    "trainee_account",
    "undo_for_failed_refund",
]
