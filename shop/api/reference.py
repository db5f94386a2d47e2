"""The partner API's OpenAPI document (/api/v1/openapi.json) and its reference page
(/api/v1/docs), both from the document flask-smorest generated from the code.

The page is rendered on the server by a Jinja template (templates/api/reference.html):
no script, so it works under the store's content security policy (`script-src 'self'`)
where Swagger UI and ReDoc, loaded from CDNs, would not. It is a public page like any
other (shop.page_cache: kept per release, the visitor's header filled in).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache

from flask import Blueprint, Response, current_app, render_template
from markdown_it import MarkdownIt
from markupsafe import Markup

from shop.content.markup import SAFE_LINK
from shop.page_cache.pages import public_page

bp = Blueprint("api_v1_reference", __name__, url_prefix="/api/v1")
DOCUMENT = "shop_api_document"  # app.extensions: the document, as a dict and as JSON
METHODS = ("get", "head", "options", "post", "put", "patch", "delete")


def keep_document(app, document: dict) -> None:
    app.extensions[DOCUMENT] = (document, json.dumps(document, indent=2, ensure_ascii=False))


def document() -> dict:
    return current_app.extensions[DOCUMENT][0]


@bp.get("/openapi.json")
def openapi_json():
    return Response(current_app.extensions[DOCUMENT][1], mimetype="application/json")


@bp.get("/docs")
def docs():
    return public_page("api_reference", "", lambda: render_template(
        "api/reference.html", ref=reference(document())
    ))  # fmt: skip


# --- the document, as the page reads it ------------------------------------------------


@cache
def _markdown() -> MarkdownIt:
    """The document's descriptions are CommonMark: text, never HTML (raw HTML off), with
    links only where the store's content pages allow them."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.validateLink = lambda url: bool(SAFE_LINK.match(url))
    return md


def markdown(text: str | None) -> Markup:
    return Markup(_markdown().render(text or ""))  # noqa: S704 (escaped by the parser)


@dataclass(frozen=True)
class TypePart:
    text: str
    anchor: str | None = None  # the schema it names, linked on the page


@dataclass(frozen=True)
class Row:
    name: str
    type: list[TypePart]
    required: bool
    description: Markup


@dataclass(frozen=True)
class Answer:
    status: str
    description: Markup
    schema: list[TypePart]
    headers: list[Row]
    example: str | None


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    anchor: str
    summary: str
    description: Markup
    tags: list[str]
    parameters: list[Row]
    answers: list[Answer]


@dataclass(frozen=True)
class SchemaDoc:
    name: str
    anchor: str
    description: Markup
    rows: list[Row]


@dataclass
class Reference:
    title: str
    version: str
    openapi: str
    description: Markup
    tags: list[dict]
    operations: list[Operation] = field(default_factory=list)
    schemas: list[SchemaDoc] = field(default_factory=list)


def schema_anchor(name: str) -> str:
    return f"schema-{name}"


def type_parts(schema: dict | None) -> list[TypePart]:
    """A JSON Schema as words: "Money", "array of Product", "string or null"."""
    if not schema:
        return []
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return [TypePart(name, schema_anchor(name))]
    for combined in ("anyOf", "oneOf", "allOf"):
        if combined in schema:
            parts: list[TypePart] = []
            for i, option in enumerate(schema[combined]):
                parts += ([TypePart(" or ")] if i else []) + type_parts(option)
            return parts
    kinds = schema.get("type", "any")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    parts = []
    for i, kind in enumerate(kinds):
        if i:
            parts.append(TypePart(" or "))
        if kind == "array":
            parts += [TypePart("array of "), *type_parts(schema.get("items"))]
        elif kind == "object" and isinstance(schema.get("additionalProperties"), dict):
            parts += [TypePart("object of "), *type_parts(schema["additionalProperties"])]
        else:
            parts.append(TypePart(kind))
    constraints = []
    if "enum" in schema:
        constraints.append("one of " + ", ".join(str(v) for v in schema["enum"]))
    if "minimum" in schema and "maximum" in schema:
        constraints.append(f"{schema['minimum']} to {schema['maximum']}")
    if "pattern" in schema:
        constraints.append(f"matching {schema['pattern']}")
    if constraints:
        parts.append(TypePart(f" ({'; '.join(constraints)})"))
    return parts


def _rows(schema: dict) -> list[Row]:
    required = set(schema.get("required", []))
    return [
        Row(name, type_parts(prop), name in required, markdown(_described(prop)))
        for name, prop in schema.get("properties", {}).items()
    ]


def _described(prop: dict) -> str:
    text = prop.get("description", "")
    examples = prop.get("examples") or ([prop["example"]] if "example" in prop else [])
    if examples:
        text += f" Example: `{json.dumps(examples[0], ensure_ascii=False)}`."
    return text


def _parameter(parameter: dict, components: dict) -> Row:
    if "$ref" in parameter:
        parameter = components["parameters"][parameter["$ref"].rsplit("/", 1)[-1]]
    where = parameter["in"]
    return Row(
        f"{parameter['name']} ({where})",
        type_parts(parameter.get("schema")),
        bool(parameter.get("required")),
        markdown(_described({**parameter.get("schema", {}), **parameter})),
    )


def _answer(status: str, answer: dict, components: dict) -> Answer:
    if "$ref" in answer:
        answer = components["responses"][answer["$ref"].rsplit("/", 1)[-1]]
    content = answer.get("content", {}).get("application/json", {})
    example = content.get("example")
    headers = [
        Row(name, type_parts(header.get("schema")), bool(header.get("required")),
            markdown(header.get("description")))
        for name, header in answer.get("headers", {}).items()
    ]  # fmt: skip
    return Answer(
        status,
        markdown(answer.get("description")),
        type_parts(content.get("schema")),
        headers,
        json.dumps(example, indent=2, ensure_ascii=False) if example is not None else None,
    )


def reference(doc: dict) -> Reference:
    info, components = doc["info"], doc.get("components", {})
    ref = Reference(
        title=info["title"],
        version=info["version"],
        openapi=doc["openapi"],
        description=markdown(info.get("description")),
        tags=doc.get("tags", []),
    )
    for path, item in doc["paths"].items():
        shared = item.get("parameters", [])
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            answers = op.get("responses", {})
            ref.operations.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    anchor=op.get("operationId") or f"{method}-{path}",
                    summary=op.get("summary", ""),
                    description=markdown(op.get("description")),
                    tags=op.get("tags", []),
                    parameters=[_parameter(p, components) for p in shared + op.get("parameters", [])],
                    answers=[_answer(str(s), a, components) for s, a in sorted(answers.items(), key=lambda kv: str(kv[0]))],
                )
            )  # fmt: skip
    for name, schema in components.get("schemas", {}).items():
        ref.schemas.append(
            SchemaDoc(name, schema_anchor(name), markdown(schema.get("description")), _rows(schema))
        )
    return ref
