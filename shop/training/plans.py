"""Development plans: a trainee's goals, and how far her balance carries them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _

from shop.extensions import db
from shop.provenance.models import Trainee
from shop.training.accounts import TrainingError
from shop.training.models import DevelopmentGoal, GoalStatus


def add_goal(
    *, trainee_id: int, title: str, target_amount: int, target_date: date | None, currency: str
) -> DevelopmentGoal:
    if not title.strip():
        raise TrainingError(_("Say what the goal is."), "title")
    if target_amount <= 0:
        raise TrainingError(_("The target amount must be more than zero."), "target_amount")
    if db.session.get(Trainee, trainee_id) is None:
        raise TrainingError(_("There is no such trainee."))
    goal = DevelopmentGoal(
        trainee_id=trainee_id, title=title.strip()[:200], target_amount=target_amount,
        target_date=target_date, currency=currency,
    )  # fmt: skip
    db.session.add(goal)
    db.session.flush()
    return goal


def set_goal_status(goal_id: int, status: GoalStatus) -> DevelopmentGoal:
    goal = db.session.get(DevelopmentGoal, goal_id)
    if goal is None:
        raise TrainingError(_("There is no such goal."))
    goal.status = status
    db.session.flush()
    return goal


@dataclass(frozen=True)
class GoalProgress:
    goal: DevelopmentGoal
    covered: int  # how much of the target the balance carries, after earlier open goals
    percent: int


def goal_progress(goals: list[DevelopmentGoal], balance: int) -> list[GoalProgress]:
    """Open goals are funded in order of target date (undated last), from the balance."""
    left = max(balance, 0)
    progress = []
    dated = sorted(
        goals, key=lambda g: (g.status != GoalStatus.OPEN, g.target_date or date.max, g.id)
    )
    for goal in dated:
        if goal.status == GoalStatus.OPEN:
            covered = min(left, goal.target_amount)
            left -= covered
        else:
            covered = goal.target_amount if goal.status == GoalStatus.REACHED else 0
        progress.append(GoalProgress(goal, covered, covered * 100 // goal.target_amount))
    return progress
