"""The OpenAPI document of the JSON API and its page for people (``GET /api/v1/docs``).

The document (feedback/data/openapi.json) is the contract, kept true by
tests/test_openapi.py; this module reads it and turns it into what the page shows: each
operation with its parameters, body and responses, each schema with its fields, types said
as a reader says them and limits in the reader's language. The routes serving both are in
``routes``.

The document is written in Vietnamese; in English (``Accept-Language: en`` or ``?lang=en``)
its titles, summaries, descriptions and tag names are swapped for their English in
feedback/data/openapi.en.json (Vietnamese text → English, checked complete by
tests/test_i18n_api.py). Examples are sample data and stay as they are; the structure is
the same document's, so the contract is one.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from flask_babel import gettext as _

from ..domain.marks import N_

OPENAPI_PATH = Path(__file__).resolve().parent.parent / "data" / "openapi.json"
"""The OpenAPI 3.1 document of this API, kept true by tests/test_openapi.py."""
ENGLISH_PATH = OPENAPI_PATH.with_name("openapi.en.json")
"""The document's texts in English: Vietnamese text → English."""
TRANSLATED_KEYS = frozenset({"title", "description", "summary", "name", "tags"})
"""Where the document holds prose (a tag is referred to by its name, so both change)."""
_METHODS = ("get", "post", "put", "patch", "delete")


@cache
def openapi_text(language: str = "vi") -> str:
    """The document as served: the file itself, or its English version."""
    text = OPENAPI_PATH.read_text(encoding="utf-8")
    if language != "en":
        return text
    english = _in_english(json.loads(text), english_texts(), None)
    return json.dumps(english, ensure_ascii=False, indent=2) + "\n"


@cache
def english_texts() -> dict[str, str]:
    return json.loads(ENGLISH_PATH.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _in_english(node: Any, english: dict[str, str], key: str | None) -> Any:
    if isinstance(node, dict):
        return {
            k: v if k in ("example", "examples") else _in_english(v, english, k)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_in_english(item, english, key) for item in node]
    if isinstance(node, str) and key in TRANSLATED_KEYS:
        return english.get(node, node)
    return node


def openapi_document(language: str = "vi") -> dict[str, Any]:
    return json.loads(openapi_text(language))  # type: ignore[no-any-return]


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _type_text(schema: dict[str, Any]) -> str:
    """A schema as a reader says it: ``string | null``, ``Ref``, ``mảng Attachment``."""
    if "$ref" in schema:
        return str(schema["$ref"].rsplit("/", 1)[-1])
    if "anyOf" in schema:
        return " | ".join(_type_text(s) for s in schema["anyOf"])
    kind = schema.get("type", "")
    kinds = kind if isinstance(kind, list) else [kind]
    words = []
    for k in kinds:
        if k == "array":
            words.append(_("mảng %(items)s", items=_type_text(schema.get("items", {}))))
        elif k == "string" and schema.get("format") in ("date-time", "binary"):
            words.append(f"string ({schema['format']})")
        elif k:
            words.append(str(k))
    text = " | ".join(words)
    if "enum" in schema:
        text += ": " + ", ".join("null" if v is None else str(v) for v in schema["enum"])
    if "const" in schema:
        text += f" = {schema['const']}"
    return text


def _limits(schema: dict[str, Any]) -> str:
    labels = (
        ("minLength", N_("ít nhất %(n)s ký tự")),
        ("maxLength", N_("tối đa %(n)s ký tự")),
        ("minimum", "≥ %(n)s"),
        ("maximum", "≤ %(n)s"),
        ("pattern", N_("mẫu %(n)s")),
    )
    return "; ".join(_(label, n=schema[key]) for key, label in labels if key in schema)


def _fields(doc: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _resolve(doc, schema)
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "type": _type_text(prop),
            "required": name in required,
            "limits": _limits(prop),
            "description": _resolve(doc, prop).get("description", ""),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def _operations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    base = doc["servers"][0]["url"]
    out = []
    for path, item in doc["paths"].items():
        for method in _METHODS:
            if method not in item:
                continue
            op = item[method]
            body = None
            if "requestBody" in op:
                request_body = _resolve(doc, op["requestBody"])
                media, content = next(iter(request_body["content"].items()))
                body = {
                    "media": media,
                    "required": request_body.get("required", False),
                    "schema": _type_text(content["schema"]),
                    "example": (
                        json.dumps(content["example"], ensure_ascii=False, indent=2)
                        if "example" in content
                        else None
                    ),
                }
            responses = []
            for status, response in op["responses"].items():
                named = response["$ref"].rsplit("/", 1)[-1] if "$ref" in response else None
                response = _resolve(doc, response)
                content = response.get("content", {})
                schema = next(iter(content.values()))["schema"] if content else None
                responses.append(
                    {
                        "status": status,
                        "description": response.get("description", ""),
                        "schema": _type_text(schema) if schema else named or "",
                    }
                )
            params = [_resolve(doc, p) for p in op.get("parameters", [])]
            out.append(
                {
                    "id": op.get("operationId", f"{method}-{path}"),
                    "method": method.upper(),
                    "path": base + path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "tag": (op.get("tags") or [""])[0],
                    "auth": [
                        "Bearer token" if "bearerAuth" in req else _("không cần")
                        for req in op.get("security", doc.get("security", [{}]))
                    ],
                    "parameters": [
                        {
                            "name": p["name"],
                            "in": p["in"],
                            "required": p.get("required", False),
                            "type": _type_text(p.get("schema", {})),
                            "limits": _limits(p.get("schema", {})),
                            "description": p.get("description", ""),
                        }
                        for p in params
                    ],
                    "body": body,
                    "responses": responses,
                }
            )
    return out


def page_context(language: str = "vi") -> dict[str, Any]:
    """What templates/api/docs.html shows: the API's info, every operation and schema."""
    doc = openapi_document(language)
    schemas = [
        {
            "name": name,
            "description": schema.get("description", ""),
            "type": _type_text(schema),
            "fields": _fields(doc, schema),
        }
        for name, schema in doc["components"]["schemas"].items()
    ]
    return {"info": doc["info"], "operations": _operations(doc), "schemas": schemas}
