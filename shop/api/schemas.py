"""The partner API's shapes (marshmallow): what each answer holds, field by field, and
what the OpenAPI document says of it. A field not declared here never leaves the store,
whatever a record holds."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from shop.api.cursors import DEFAULT_LIMIT, MAX_CURSOR_LENGTH, MAX_LIMIT
from shop.api.passport_state import STATUSES
from shop.api.query import OnceString, OnceWholeNumber
from shop.api.records import REASONS
from shop.provenance.models import WorkshopKind
from shop.provenance.services import ONBOARDING_STEPS

F = ma.fields
LIMIT_MESSAGE = f"limit must be a whole number from 1 to {MAX_LIMIT}"
MONTH = {"pattern": r"^[0-9]{4}-(0[1-9]|1[0-2])$"}


def _doc(description: str, *examples, **more) -> dict:
    """A field's description (and examples) for the OpenAPI document."""
    metadata = {"description": description, **more}
    if examples:
        metadata["examples"] = list(examples)
    return metadata


def _text(description: str, *examples, **kwargs) -> F.String:
    return F.String(required=True, metadata=_doc(description, *examples), **kwargs)


# --- requests ---------------------------------------------------------------------------


class PageArgsSchema(ma.Schema):
    # Each is given at most once (shop.api.query). An oversized cursor is refused by
    # shop.api.cursors.read_cursor with the other cursor refusals' words; its maxLength
    # is only stated here.
    cursor = OnceString(
        metadata=_doc(
            "Where the page starts: the opaque cursor of the previous page's `next` link. "
            "Leave it out (or empty) for the first page. A cursor this API did not give "
            "out for this listing is refused with 400.",
            maxLength=MAX_CURSOR_LENGTH,
        ),
    )
    limit = OnceWholeNumber(
        load_default=DEFAULT_LIMIT,
        validate=validate.Range(min=1, max=MAX_LIMIT, error=LIMIT_MESSAGE),
        error_messages={"invalid": LIMIT_MESSAGE},
        metadata=_doc(
            f"How many items a page holds, 1 to {MAX_LIMIT}, in ASCII digits.", DEFAULT_LIMIT
        ),
    )


# --- shared -----------------------------------------------------------------------------


class ErrorDetailSchema(ma.Schema):
    status = F.Integer(required=True, metadata=_doc("The HTTP status code.", 404))
    message = _text("What went wrong, for the developer reading it.", "No product 'x' is on sale.")


class ErrorSchema(ma.Schema):
    class Meta:
        description = "Every refusal: its HTTP status and what went wrong."

    error = F.Nested(ErrorDetailSchema, required=True)


class MoneySchema(ma.Schema):
    class Meta:
        description = "An amount of money: integer minor units, the currency, and the same as a decimal string (never a float)."

    amount = F.Integer(
        required=True,
        metadata=_doc("The amount in the currency's minor units (cents for USD).", 2400),
    )
    currency = _text("ISO 4217 currency code.", "USD", validate=validate.Length(equal=3))
    decimal = _text(
        "The same amount in major units, as a decimal string with the currency's digits.",
        "24.00",
    )


class NamedSchema(ma.Schema):
    class Meta:
        description = (
            "Another record this one names: its slug (the key of its own endpoint) and name."
        )

    slug = _text("Its slug: the key of its own endpoint.", "mekong-stitch-works")
    name = _text("Its name.", "Mekong Stitch Works")


class CategorySchema(ma.Schema):
    slug = _text("The category's slug.", "bags")
    name = _text("The category's name.", "Bags")


def _options():
    return F.Dict(
        keys=F.String(),
        values=F.String(),
        required=True,
        metadata=_doc("The variant's options, name to value.", {"colour": "natural"}),
    )


def _next_link():
    return F.String(
        required=True,
        allow_none=True,
        metadata=_doc("The next page, or null on the last one (also in the Link header)."),
    )


# --- products ---------------------------------------------------------------------------


class VariantSchema(ma.Schema):
    class Meta:
        description = "A variant of a product: what a buyer chooses and pays for."

    sku = _text("Stock-keeping unit, unique in the store.", "TOTE-BHB-NAT")
    options = _options()
    price = F.Nested(MoneySchema, required=True, metadata=_doc("The price of one unit."))
    training_share = F.Nested(
        MoneySchema,
        required=True,
        metadata=_doc(
            "What one unit sold at this price credits to its makers' training accounts "
            "(the price x impact_share_bps / 10000, rounded down to the minor unit)."
        ),
    )
    availability = F.String(
        required=True,
        validate=validate.OneOf(["in_stock", "out_of_stock"]),
        metadata=_doc(
            "Whether a buyer can take one now. Never a count. `out_of_stock` also while "
            "the product cannot be bought at all (its workshop is suspended).",
            "in_stock",
        ),
    )


class ProductSchema(ma.Schema):
    class Meta:
        description = "A product on sale."

    slug = _text("The product's slug.", "buy-her-bag-tote")
    name = _text("The product's name.", "Buy Her Bag Tote")
    description = _text("The product's description, plain text.")
    category = F.Nested(
        CategorySchema,
        required=True,
        allow_none=True,
        metadata=_doc("The product's category; null when it has none."),
    )
    workshop = F.Nested(NamedSchema, required=True, metadata=_doc("The workshop that makes it."))
    impact_share_bps = F.Integer(
        required=True,
        validate=validate.Range(min=0, max=10000),
        metadata=_doc(
            "The share of each sale credited to the makers' training accounts, in basis "
            "points (1000 = 10 %).",
            1000,
        ),
    )
    available = F.Boolean(
        required=True,
        metadata=_doc("Whether any variant can be bought now.", True),
    )
    variants = F.List(F.Nested(VariantSchema), required=True)
    url = _text(
        "The product's page in the store.", "https://shop.example/products/buy-her-bag-tote"
    )


class ProductPageSchema(ma.Schema):
    class Meta:
        description = "A page of products: follow `next` until it is null."

    items = F.List(F.Nested(ProductSchema), required=True)
    next = _next_link()


# --- workshops --------------------------------------------------------------------------


class CountrySchema(ma.Schema):
    code = _text("ISO 3166-1 alpha-2 code.", "KH", validate=validate.Length(equal=2))
    name = _text("The country's name in English.", "Cambodia")


class VettingSchema(ma.Schema):
    class Meta:
        description = "The public summary of a workshop's vetting by the store's staff."

    vetted = F.Boolean(
        required=True,
        metadata=_doc("Every onboarding step done, and not suspended.", True),
    )
    suspended = F.Boolean(
        required=True,
        metadata=_doc("Suspended while a concern is looked into: nothing of it can be bought."),
    )
    steps_done = F.List(
        F.String(validate=validate.OneOf([step.value for step in ONBOARDING_STEPS])),
        required=True,
        metadata=_doc(
            "The onboarding steps passed, in the order they happen.",
            [step.value for step in ONBOARDING_STEPS],
        ),
    )
    last_visit_month = F.String(
        required=True,
        allow_none=True,
        metadata=_doc("The month of the last visit by the store's staff.", "2026-02", **MONTH),
    )


class WorkshopSchema(ma.Schema):
    class Meta:
        description = (
            "A workshop's public record. Never an address, a contact, coordinates or a head count."
        )

    slug = _text("The workshop's slug.", "mekong-stitch-works")
    name = _text("The workshop's trading name.", "Mekong Stitch Works")
    kind = F.String(
        required=True,
        validate=validate.OneOf([kind.value for kind in WorkshopKind]),
        metadata=_doc("What kind of workshop it is.", "production_site"),
    )
    country = F.Nested(
        CountrySchema,
        required=True,
        allow_none=True,
        metadata=_doc("Its country; null where it is withheld for the makers' safety."),
    )
    region = F.String(
        required=True,
        allow_none=True,
        metadata=_doc("Its region (at most province level); null when withheld or unknown."),
    )
    location_withheld = F.Boolean(
        required=True,
        metadata=_doc("True when the country (and so the region) is not published."),
    )
    crafts = F.List(F.String(), required=True, metadata=_doc("Its crafts.", ["sewing"]))
    story = _text("Its public story, plain text.")
    partner_since = F.String(
        required=True,
        allow_none=True,
        metadata=_doc("The month it became a partner.", "2019-06", **MONTH),
    )
    vetting = F.Nested(VettingSchema, required=True)
    url = _text("The workshop's page in the store.")


class WorkshopPageSchema(ma.Schema):
    class Meta:
        description = "A page of workshops: follow `next` until it is null."

    items = F.List(F.Nested(WorkshopSchema), required=True)
    next = _next_link()


# --- batches ----------------------------------------------------------------------------


class BatchVariantSchema(ma.Schema):
    sku = _text("The variant made.", "TOTE-BHB-NAT")
    options = _options()


class BatchLinksSchema(ma.Schema):
    page = _text("The batch's public record, where the QR code on the tag leads.")
    passport = _text("Its digital product passport (a W3C verifiable credential, vc+jwt).")
    linkset = _text("Its RFC 9264 linkset (application/linkset+json).")
    verify = _text("Its check in this API.")


class BatchProductSchema(ma.Schema):
    slug = F.String(
        required=True,
        allow_none=True,
        metadata=_doc(
            "The product's slug, the key of /products/<slug>; null once the product is no "
            "longer on sale (archived), as /products/<slug> no longer finds it.",
            "buy-her-bag-tote",
        ),
    )
    name = _text("The product's name.", "Buy Her Bag Tote")


class BatchSchema(ma.Schema):
    class Meta:
        description = "A production batch's public record. Never its makers."

    code = _text("The batch code printed on the tag.", "MS-2026-03-BHB-N")
    produced_month = F.String(
        required=True, metadata=_doc("The month it was made.", "2026-03", **MONTH)
    )
    materials = _text("Its materials.", "12 oz cotton canvas, water-based ink")
    product = F.Nested(
        BatchProductSchema,
        required=True,
        metadata=_doc(
            "The product made. A batch of an archived product keeps its record (its tags "
            "still lead to it), with the product's name but no slug."
        ),
    )
    variant = F.Nested(BatchVariantSchema, required=True)
    workshop = F.Nested(NamedSchema, required=True, metadata=_doc("The workshop that made it."))
    links = F.Nested(BatchLinksSchema, required=True)


class BatchPageSchema(ma.Schema):
    class Meta:
        description = "A page of batches: follow `next` until it is null."

    items = F.List(F.Nested(BatchSchema), required=True)
    next = _next_link()


# --- the check of a batch ---------------------------------------------------------------


class CheckedWorkshopSchema(ma.Schema):
    slug = _text("The workshop that made the batch.", "mekong-stitch-works")
    vetted = F.Boolean(required=True)
    suspended = F.Boolean(required=True)


class PassportStateSchema(ma.Schema):
    url = F.String(
        required=True,
        allow_none=True,
        metadata=_doc("The passport (application/vc+jwt); null while none was issued."),
    )
    status = F.String(
        required=True,
        validate=validate.OneOf(STATUSES),
        metadata=_doc(
            "valid, revoked (its status bit is set: the workshop is suspended or the batch "
            "recalled), invalid (its signature does not hold against the store's published "
            "key), or not_issued.",
            "valid",
        ),
    )


class ReasonSchema(ma.Schema):
    code = F.String(
        required=True,
        validate=validate.OneOf(list(REASONS)),
        metadata=_doc(
            "workshop_suspended, workshop_not_vetted, batch_recalled (the store recalled "
            "the batch, whatever its passport says; a recall also revokes it), "
            "passport_revoked (a recall, a suspension, or a version withdrawn), "
            "passport_invalid or passport_not_issued.",
            "batch_recalled",
        ),
    )
    message = _text("The reason in words.")


class BatchCheckSchema(ma.Schema):
    class Meta:
        description = "The check of a batch: its workshop's vetting and its passport's status, and the verdict."

    batch = _text("The batch code checked.", "MS-2026-03-BHB-N")
    workshop = F.Nested(CheckedWorkshopSchema, required=True)
    made_by_vetted_workshop = F.Boolean(
        required=True,
        metadata=_doc("Made by a workshop that passed every vetting step and is not suspended."),
    )
    passport = F.Nested(PassportStateSchema, required=True)
    verdict = F.String(
        required=True,
        validate=validate.OneOf(["ok", "not_ok"]),
        metadata=_doc(
            "ok: made by a vetted workshop that is not suspended, with a valid passport."
        ),
    )
    reasons = F.List(
        F.Nested(ReasonSchema),
        required=True,
        metadata=_doc("Why the verdict is not_ok; empty when it is ok."),
    )
