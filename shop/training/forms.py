"""The staff forms of a trainee's page and the decisions (withdrawals, goals,
corrections): they read what was typed, in the store's words when it cannot be read;
the rules are shop.training.services'."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional, ValidationError

from shop.form_problems import required, stop_if_blank
from shop.money import MAX_MINOR_UNITS, MoneyError, as_sentence, parse_major
from shop.training.accounts import TrainingError
from shop.training.exchange import MAX_LOCAL_MINOR_UNITS, parse_rate
from shop.training.models import GoalStatus, WithdrawalPurpose
from shop.training.withdrawals import withdrawal_currencies


def _currency() -> str:
    return current_app.config["STORE_CURRENCY"]


class MoneyField(StringField):
    """An amount in major units ('12.50'), kept as minor units in `.cents`: in the store's
    currency, or in the one the form's `currency_of` field names (with the larger bound of
    local amounts when that is another)."""

    def __init__(self, *args, signed: bool = False, currency_of: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.signed = signed
        self.currency_of = currency_of
        self.cents: int | None = None

    def pre_validate(self, form):
        text = (self.data or "").strip()
        stop_if_blank(self)
        negative = self.signed and text.startswith("-")
        currency, maximum = _currency(), MAX_MINOR_UNITS
        chosen = str(form[self.currency_of].data or "") if self.currency_of else ""
        if chosen and chosen != currency and chosen in dict(form[self.currency_of].choices):
            currency, maximum = chosen, MAX_LOCAL_MINOR_UNITS
        try:
            cents = parse_major(text[1:] if negative else text, currency, maximum=maximum)
        except MoneyError as exc:
            raise ValidationError(as_sentence(exc)) from None
        self.cents = -cents if negative else cents


class RateField(StringField):
    """An exchange rate as typed ('4100', '83.25'): checked here so a bad one is said beside
    the field; the typed text is what the service is given and what is kept."""

    def pre_validate(self, form):
        if (self.data or "").strip():
            try:
                parse_rate(self.data)
            except TrainingError as exc:
                raise ValidationError(str(exc)) from None


class PrefixedForm(FlaskForm):
    """A form that shares its page with others: its fields are named and identified
    `<prefix>-<field>`, so two forms' "amount" fields never share an id or a name."""

    prefix: str = ""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", self.prefix)
        super().__init__(*args, **kwargs)


class WithdrawalForm(PrefixedForm):
    prefix = "withdrawal"
    currency = SelectField(_l("Currency paid in"), default=_currency,
                           invalid_choice_message=_l("Choose one of the currencies listed."))  # fmt: skip
    amount = MoneyField(_l("Amount"), currency_of="currency",
                        validators=[required(_l("Enter the amount, like 45.00."))])  # fmt: skip
    rate = RateField(_l("Exchange rate (units of the currency paid in for 1 unit of the "
                        "account's currency)"), validators=[Optional()])  # fmt: skip
    rate_source = StringField(_l("Source of the rate (bank, board rate)"), validators=[
        Optional(), Length(max=200, message=_l("The rate's source is at most 200 characters."))])  # fmt: skip
    rate_date = DateField(_l("Date of the rate"), validators=[Optional()],
                          invalid_value_message=_l("Enter the rate's date, like 2026-11-30."))  # fmt: skip
    purpose = SelectField(
        _l("Purpose"), choices=[SelectChoice(p.value, p.shown) for p in WithdrawalPurpose],
        validators=[required(_l("Choose what the money is for."))],
        invalid_choice_message=_l("Choose what the money is for."),
    )  # fmt: skip
    payee = StringField(_l("Paid to (school, institution or supplier)"), validators=[
        required(_l("Say which school, institution or supplier is paid.")),
        Length(max=200, message=_l("The name of who is paid is at most 200 characters."))])  # fmt: skip
    details = TextAreaField(_l("Details (course, invoice number)"), validators=[
        Optional(), Length(max=2000, message=_l("The details is at most 2,000 characters."))])  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency.choices = [(c, c) for c in withdrawal_currencies(_currency())]


class DecisionForm(FlaskForm):
    note = StringField(_l("Reason for rejecting"), validators=[
        Optional(), Length(max=500, message=_l("A reason is at most 500 characters."))])  # fmt: skip


class GoalForm(FlaskForm):
    title = StringField(_l("Goal"), validators=[
        required(_l("Say what the goal is.")),
        Length(max=200, message=_l("A goal is at most 200 characters."))])  # fmt: skip
    target_amount = MoneyField(
        _l("Target amount"), validators=[required(_l("Enter the target amount, like 120.00."))]
    )
    target_date = DateField(_l("Target date"), validators=[Optional()],
                            invalid_value_message=_l("Enter the target date, like 2026-12-31."))  # fmt: skip


class GoalStatusForm(FlaskForm):
    status = SelectField(_l("Status"), choices=[SelectChoice(s.value, s.label) for s in GoalStatus],
                         invalid_choice_message=_l("Choose the goal's status."))  # fmt: skip


class CorrectionForm(PrefixedForm):
    prefix = "correction"
    amount = MoneyField(_l("Amount (negative to take back)"), signed=True,
                        validators=[required(_l("Enter the amount, like 12.50 or -12.50."))])  # fmt: skip
    reason = StringField(_l("Reason"), validators=[
        required(_l("A correction needs a reason.")),
        Length(max=250, message=_l("A reason is at most 250 characters."))])  # fmt: skip
    request_key = HiddenField()
