"""How the partner API reads a query parameter: each one given at most once, and a whole
number only as the ASCII digits the OpenAPI document promises.

Python's int() also reads full-width (U+FF15) and Arabic-Indic digits and strips spaces,
and webargs keeps the first of a repeated parameter and drops the rest: so `?limit=５`,
`?limit=%205` and `?limit=5&limit=6` would each be read silently as a limit no partner
meant. Each is refused with 400 instead.
"""

from __future__ import annotations

import re
from typing import ClassVar

import marshmallow as ma

ASCII_WHOLE_NUMBER = re.compile(r"[0-9]{1,3}")  # the limit's 1 to 100 need no more


class GivenOnce(ma.fields.Field):
    """A query parameter that may be given once: webargs hands the field every value
    given (`is_multiple`), so a repeat is refused rather than dropped."""

    is_multiple = True
    default_error_messages: ClassVar[dict[str, str]] = {
        "repeated": "{name} is given more than once: give it once."
    }

    def _deserialize(self, value, attr, data, **kwargs):
        values = value if isinstance(value, list) else [value]
        if len(values) != 1:
            raise self.make_error("repeated", name=self.data_key or self.name)
        return super()._deserialize(values[0], attr, data, **kwargs)


class WholeNumber(ma.fields.Integer):
    """An integer written as 1 to 3 ASCII digits, nothing else (no sign, space or other
    script's digits); documented as the integer it is."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not ASCII_WHOLE_NUMBER.fullmatch(value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class OnceString(GivenOnce, ma.fields.String):
    pass


class OnceWholeNumber(GivenOnce, WholeNumber):
    pass
