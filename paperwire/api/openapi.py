"""The OpenAPI 3.1 description of every JSON endpoint (`GET /api/openapi.json`).

tests/test_openapi.py validates real responses against it and fuzzes the parameters.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse

import paperwire

STRING_OR_NULL = {"type": ["string", "null"]}

USER = {
    "type": "object",
    "properties": {
        "_id": {"type": "string"},
        "user": {"type": "string"},
        "fullname": {"type": "string"},
        "avatarUrl": {"type": "string"},
        "isPro": {"type": "boolean"},
        "type": {"type": "string"},
    },
    "required": ["user"],
}
ORGANIZATION = {
    "type": "object",
    "properties": {
        "_id": {"type": "string"},
        "name": {"type": "string"},
        "fullname": {"type": "string"},
        "avatar": {"type": "string"},
    },
    "required": ["name"],
}
PAPER = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "authors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"_id": {"type": "string"}, "name": {"type": "string"}, "hidden": {"type": "boolean"}},
                "required": ["name"],
            },
        },
        "publishedAt": {**STRING_OR_NULL, "format": "date-time"},
        "submittedOnDailyAt": {"type": "string", "format": "date-time"},
        "submittedOnDailyBy": {"$ref": "#/components/schemas/User"},
        "title": {"type": "string"},
        "summary": {"type": "string"},
        "upvotes": {"type": "integer", "minimum": 0},
        "discussionId": {"type": "string"},
        "numComments": {"type": "integer"},
        "ai_summary": {"type": "string"},
        "ai_keywords": {"type": "array", "items": {"type": "string"}},
        "githubRepo": {"type": "string"},
        "githubStars": {"type": "integer"},
        "projectPage": {"type": "string"},
        "organization": {"$ref": "#/components/schemas/Organization"},
    },
    "required": ["id", "authors", "publishedAt", "title", "summary", "upvotes"],
}
DAILY_ITEM = {
    "type": "object",
    "properties": {
        "paper": {"$ref": "#/components/schemas/Paper"},
        "publishedAt": {**STRING_OR_NULL, "format": "date-time"},
        "title": {"type": "string"},
        "summary": {"type": "string"},
        "thumbnail": {"type": "string"},
        "numComments": {"type": "integer"},
        "isAuthorParticipating": {"type": "boolean"},
        "submittedBy": {"$ref": "#/components/schemas/User"},
        "organization": {"$ref": "#/components/schemas/Organization"},
        "githubRepo": {"type": "string"},
        "githubStars": {"type": "integer"},
        "projectPage": {"type": "string"},
        "ai_summary": {"type": "string"},
        "ai_keywords": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["paper", "publishedAt", "title", "summary", "numComments"],
}
ERROR = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}


def parameter(name: str, description: str, schema: dict, where: str = "query", required: bool = False) -> dict:
    return {"name": name, "in": where, "required": required, "description": description, "schema": schema}


def error_responses(*codes: int) -> dict:
    text = {400: "Bad parameter", 404: "Unknown id or path", 429: "Rate limited (see Retry-After)"}
    return {
        str(code): {
            "description": text[code],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for code in codes
    }


def list_of(ref: str, description: str) -> dict:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"type": "array", "items": {"$ref": f"#/components/schemas/{ref}"}}}
        },
    }


def schema() -> dict:
    limit = {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Paperwire API",
            "version": paperwire.__version__,
            "description": "Daily papers ranked by upvotes, compatible with huggingface.co's paper API.",
        },
        "servers": [{"url": settings.BASE_URL}],
        "paths": {
            "/api/daily_papers": {
                "get": {
                    "summary": "Papers of a day, ISO week or month by upvotes; newest days first without one",
                    "operationId": "listDailyPapers",
                    "parameters": [
                        parameter("date", "A day, YYYY-MM-DD", {"type": "string", "format": "date"}),
                        parameter("week", "An ISO week, YYYY-Www", {"type": "string", "pattern": "^\\d{4}-W\\d{2}$"}),
                        parameter("month", "A month, YYYY-MM", {"type": "string", "pattern": "^\\d{4}-\\d{2}$"}),
                        parameter("submitter", "Username of the submitter", {"type": "string"}),
                        parameter("sort", "Order", {"type": "string", "enum": ["publishedAt", "trending"]}),
                        parameter("p", "Page, from 0", {"type": "integer", "minimum": 0, "default": 0}),
                        parameter("limit", "Papers a page", limit),
                    ],
                    "responses": {"200": list_of("DailyItem", "Daily papers"), **error_responses(400, 429)},
                }
            },
            "/api/papers/{id}": {
                "get": {
                    "summary": "One paper by arXiv id (any version) or local id",
                    "operationId": "getPaper",
                    "parameters": [
                        parameter("id", "arXiv or local id", {"type": "string"}, where="path", required=True)
                    ],
                    "responses": {
                        "200": {
                            "description": "The paper",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Paper"}}},
                        },
                        **error_responses(404, 429),
                    },
                }
            },
            "/api/papers/search": {
                "get": {
                    "summary": "Hybrid search; an exact arXiv id or title comes first. Without q, the newest papers",
                    "operationId": "searchPapers",
                    "parameters": [
                        parameter("q", "Words, a title or an arXiv id", {"type": "string", "maxLength": 5000}),
                        parameter("limit", "Results", {"type": "integer", "minimum": 1, "maximum": 120, "default": 50}),
                        parameter("mode", "Engine", {"type": "string", "enum": ["hybrid", "lexical", "semantic"]}),
                    ],
                    "responses": {"200": list_of("DailyItem", "Best match first"), **error_responses(400, 429)},
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Database and search index health",
                    "operationId": "health",
                    "responses": {
                        "200": {
                            "description": "The database answers; degraded while a search index is missing, "
                            "damaged or being rebuilt",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}},
                        },
                        "503": {
                            "description": "The database does not answer",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}},
                        },
                    },
                }
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "This document",
                    "operationId": "openapi",
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3.1",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "User": USER,
                "Organization": ORGANIZATION,
                "Paper": PAPER,
                "DailyItem": DAILY_ITEM,
                "Error": ERROR,
                "Health": {
                    "type": "object",
                    "properties": {
                        "status": {"type": "string", "enum": ["ok", "degraded", "error"]},
                        "reason": {"type": "string", "description": "Why the status is degraded"},
                        "database": {"type": "string"},
                        "index": {"type": "object"},
                    },
                    "required": ["status"],
                },
            }
        },
    }


def openapi_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(schema())
