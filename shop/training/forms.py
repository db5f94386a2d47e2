"""The staff forms of a trainee's page and the decisions (withdrawals, goals,
corrections): they read what was typed, in the store's words when it cannot be read;
the rules are shop.training.services'."""

from __future__ import annotations

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional, ValidationError

from shop.form_problems import at_most, required, stop_if_blank
from shop.money import MoneyError, parse_major
from shop.training.models import GoalStatus, WithdrawalPurpose


def _currency() -> str:
    return current_app.config["STORE_CURRENCY"]


class MoneyField(StringField):
    """An amount in major units ('12.50'), kept as minor units in `.cents`."""

    def __init__(self, *args, signed: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.signed = signed
        self.cents: int | None = None

    def pre_validate(self, form):
        text = (self.data or "").strip()
        stop_if_blank(self)
        negative = self.signed and text.startswith("-")
        try:
            cents = parse_major(text[1:] if negative else text, _currency())
        except MoneyError as exc:
            raise ValidationError(f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from None
        self.cents = -cents if negative else cents


class PrefixedForm(FlaskForm):
    """A form that shares its page with others: its fields are named and identified
    `<prefix>-<field>`, so two forms' "amount" fields never share an id or a name."""

    prefix: str = ""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", self.prefix)
        super().__init__(*args, **kwargs)


class WithdrawalForm(PrefixedForm):
    prefix = "withdrawal"
    amount = MoneyField("Amount", validators=[required("Enter the amount, like 45.00.")])
    purpose = SelectField(
        "Purpose", choices=[SelectChoice(p.value, p.label) for p in WithdrawalPurpose],
        validators=[required("Choose what the money is for.")],
        invalid_choice_message="Choose what the money is for.",
    )  # fmt: skip
    payee = StringField("Paid to (school, institution or supplier)", validators=[
        required("Say which school, institution or supplier is paid."),
        at_most(200, "The name of who is paid")])  # fmt: skip
    details = TextAreaField(
        "Details (course, invoice number)", validators=[Optional(), at_most(2000, "The details")]
    )


class DecisionForm(FlaskForm):
    note = StringField("Reason for rejecting", validators=[Optional(), at_most(500, "A reason")])


class GoalForm(FlaskForm):
    title = StringField(
        "Goal", validators=[required("Say what the goal is."), at_most(200, "A goal")]
    )
    target_amount = MoneyField(
        "Target amount", validators=[required("Enter the target amount, like 120.00.")]
    )
    target_date = DateField("Target date", validators=[Optional()],
                            invalid_value_message="Enter the target date, like 2026-12-31.")  # fmt: skip


class GoalStatusForm(FlaskForm):
    status = SelectField("Status", choices=[SelectChoice(s.value, s.label) for s in GoalStatus],
                         invalid_choice_message="Choose the goal's status.")  # fmt: skip


class CorrectionForm(PrefixedForm):
    prefix = "correction"
    amount = MoneyField("Amount (negative to take back)", signed=True,
                        validators=[required("Enter the amount, like 12.50 or -12.50.")])  # fmt: skip
    reason = StringField("Reason", validators=[required("A correction needs a reason."),
                                               at_most(250, "A reason")])  # fmt: skip
    request_key = HiddenField()
