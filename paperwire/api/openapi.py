"""The OpenAPI 3.1 description of every JSON endpoint (`GET /api/openapi.json`).

The query parameters come from their one declaration (paperwire/api/params.py), which the views
parse with. tests/test_openapi.py draws queries from this schema, inside and outside it, and
checks the answers against it.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse

import paperwire
from paperwire.api import params
from paperwire.core.siteurl import site_url
from paperwire.operations.serving import MAX_REQUEST_LINE
from paperwire.papers import hfusers
from paperwire.search import CANDIDATES, RANKED

STRING_OR_NULL = {"type": ["string", "null"]}


def user_schema() -> dict:
    """Hugging Face's user object, exactly as papers.hfusers declares it (the import keeps, and
    the serializers serve, nothing else)."""
    properties = {}
    for name, field in hfusers.FIELDS.items():
        properties[name] = {"type": field.json_type} | ({"minimum": 0} if field.type is int else {})
    return {
        "type": "object",
        "properties": properties,
        "required": list(hfusers.REQUIRED),
        "additionalProperties": False,
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
    "additionalProperties": False,
}
PAPER = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "authors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "_id": {"type": "string"},
                    "name": {"type": "string"},
                    "hidden": {"type": "boolean"},
                    # An author linked to an account of this site by an approved claim, as
                    # huggingface.co gives a claimed author (docs/community.md, "Claiming").
                    "user": {"$ref": "#/components/schemas/User"},
                    "status": {"type": "string", "enum": ["claimed_verified"]},
                    "statusLastChangedAt": {"type": "string", "format": "date-time"},
                },
                "required": ["name"],
                "dependentRequired": {"user": ["status", "statusLastChangedAt"]},
                "additionalProperties": False,
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
    "additionalProperties": False,
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
    "additionalProperties": False,
}
COMMENT = {
    "type": "object",
    "description": "A comment in the shape of a huggingface.co discussion event (huggingface_hub's "
    "DiscussionComment reads id, type, createdAt, author.name and data). A top comment holds its replies; "
    "a deleted or hidden one with visible replies is a stub: hidden true, no author, empty text",
    "properties": {
        "id": {"type": "string"},
        "type": {"type": "string", "enum": ["comment"]},
        "createdAt": {"type": "string", "format": "date-time"},
        "author": {"$ref": "#/components/schemas/User"},
        "data": {
            "type": "object",
            "properties": {
                "edited": {"type": "boolean"},
                "hidden": {"type": "boolean", "description": "A stub: deleted by its author or hidden by a moderator"},
                "deleted": {"type": "boolean", "description": "A stub of a comment its author deleted"},
                "upvotes": {"type": "integer", "minimum": 0},
                "parentCommentId": {"type": "string", "description": "A reply's top comment"},
                "latest": {
                    "type": "object",
                    "properties": {
                        "raw": {"type": "string", "description": "The Markdown written"},
                        "html": {"type": "string", "description": "As the page shows it (sanitised)"},
                        "updatedAt": {"type": "string", "format": "date-time"},
                    },
                    "required": ["raw", "html", "updatedAt"],
                    "additionalProperties": False,
                },
            },
            "required": ["edited", "hidden", "deleted", "upvotes", "latest"],
            "additionalProperties": False,
        },
        "replies": {"type": "array", "items": {"$ref": "#/components/schemas/Comment"}},
    },
    "required": ["id", "type", "createdAt", "data"],
    "additionalProperties": False,
}
ERROR = {
    "type": "object",
    "properties": {"error": {"type": "string"}},
    "required": ["error"],
    "additionalProperties": False,
}


VOTE = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "The paper's id"},
        "upvotes": {"type": "integer", "minimum": 0},
        "voted": {"type": "boolean", "description": "Whether the account's vote is now there"},
    },
    "required": ["id", "upvotes", "voted"],
    "additionalProperties": False,
}
NEW_COMMENT = {
    "type": "object",
    "properties": {
        "body": {"type": "string", "description": "Markdown with $maths$, at most 10,000 characters"},
        "reply_to": {
            "type": ["string", "integer", "null"],
            "pattern": "^[0-9]{1,18}$",
            "minimum": 1,
            "maximum": 10**18 - 1,
            "description": "A comment's id: the new comment is a reply in its thread",
        },
    },
    "required": ["body"],
    "additionalProperties": False,
}
WHOAMI = {
    "type": "object",
    "description": "The account the request authenticates as (huggingface_hub's whoami reads name, type, orgs "
    "and auth.accessToken)",
    "properties": {
        "type": {"type": "string", "enum": ["user"]},
        "id": {"type": "string"},
        "name": {"type": "string"},
        "fullname": {"type": "string"},
        "email": {"type": ["string", "null"]},
        "emailVerified": {"type": "boolean"},
        "avatarUrl": {"type": "string"},
        "isPro": {"type": "boolean"},
        "orgs": {"type": "array", "maxItems": 0, "description": "Accounts here belong to no organization"},
        "createdAt": {"type": "string", "format": "date-time"},
        "auth": {
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": ["access_token", "session"]},
                "accessToken": {
                    "type": "object",
                    "properties": {
                        "displayName": {"type": "string", "description": "The token's name"},
                        "role": {"type": "string", "enum": ["write"]},
                        "createdAt": {"type": "string", "format": "date-time"},
                    },
                    "required": ["displayName", "role", "createdAt"],
                    "additionalProperties": False,
                },
            },
            "required": ["type"],
            "additionalProperties": False,
        },
    },
    "required": ["type", "id", "name", "fullname", "orgs", "auth"],
    "additionalProperties": False,
}
USER_OVERVIEW = {
    "type": "object",
    "description": "An account as huggingface_hub's get_user_overview reads it, as its profile page shows it "
    "(a hidden profile: 404 but to its owner); counts Paperwire does not keep (models, datasets, Spaces, likes) "
    "are absent",
    "properties": {
        "_id": {"type": "string"},
        "user": {"type": "string"},
        "fullname": {"type": "string", "description": "The display name of the profile, else the user name"},
        "details": {"type": "string", "description": "The profile's bio (plain text)"},
        "numFollowers": {"type": "integer", "minimum": 0},
        "numFollowing": {"type": "integer", "minimum": 0, "description": "Authors, organizations and users"},
        "isFollowing": {"type": "boolean", "description": "Whether the caller follows it (with an account only)"},
        "avatarUrl": {"type": "string"},
        "isPro": {"type": "boolean"},
        "type": {"type": "string", "enum": ["user"]},
        "orgs": {"type": "array", "maxItems": 0},
        "createdAt": {"type": "string", "format": "date-time"},
        "numPapers": {
            "type": "integer",
            "minimum": 0,
            "description": "Visible papers naming an author linked to the account (approved claims)",
        },
    },
    "required": ["_id", "user", "fullname", "avatarUrl", "type", "numPapers", "numFollowers", "numFollowing"],
    "additionalProperties": False,
}
ORGANIZATION_OVERVIEW = {
    "type": "object",
    "description": "An organization as huggingface_hub's get_organization_overview reads it; counts Paperwire "
    "does not keep (members, models, datasets, Spaces, followers) are absent",
    "properties": {
        "_id": {"type": "string"},
        "name": {"type": "string"},
        "fullname": {"type": "string"},
        "avatarUrl": {"type": "string"},
        "type": {"type": "string", "enum": ["org"]},
        "numPapers": {"type": "integer", "minimum": 0, "description": "Its visible papers"},
    },
    "required": ["_id", "name", "fullname", "avatarUrl", "type", "numPapers"],
    "additionalProperties": False,
}


ERROR_STATUSES = {
    400: "A parameter outside its schema (named in the message), "
    f"more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} parameters, "
    "or a Host header that is not the site's",
    401: "An Authorization header that is not a valid Bearer token of an active account (unknown, revoked, "
    "malformed), a token in the query string, or no account where one is needed (WWW-Authenticate: Bearer)",
    403: "A write with a session cookie and no valid CSRF token (a Bearer token needs none)",
    404: "Unknown id or path",
    405: "A method other than GET or HEAD (Allow lists them)",
    414: f"Request line over {MAX_REQUEST_LINE} bytes, refused by the front server before the application",
    409: "A reply to a comment deleted meanwhile",
    413: "A request body over the server's limit",
    429: "Rate limited (see Retry-After)",
    431: "Request headers over the front server's limits",
    500: "Internal error (logged)",
}
ANSWERED_BY_EVERY_ENDPOINT = (400, 405, 414, 429, 431, 500)  # 400: any request naming another Host


def error_responses(*codes: int) -> dict:
    return {
        str(code): {
            "description": ERROR_STATUSES[code],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for code in sorted({*codes, *ANSWERED_BY_EVERY_ENDPOINT})
    }


def api_errors(*codes: int) -> dict:
    """The errors of an endpoint under /api/, which answers 401 to a bad Authorization header."""
    return error_responses(401, *codes)


BEARER = [{"bearer": []}]
OPTIONAL_BEARER = [{}, {"bearer": []}]  # anonymous, or an account's token


def path_parameter(name: str, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": "string"}}


PAPER_ID = path_parameter("id", "arXiv or local id; any other answers 404")


def json_content(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


NEXT_PAGE_LINK = {
    "description": 'The next page, `<URL>; rel="next"` (RFC 8288), while there is one',
    "schema": {"type": "string"},
}


def list_of(ref: str, description: str) -> dict:
    return json_content({"type": "array", "items": {"$ref": f"#/components/schemas/{ref}"}}, description)


def schema() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Paperwire API",
            "version": paperwire.__version__,
            "description": "Daily papers ranked by upvotes, compatible with huggingface.co's paper API. "
            'Every error is JSON, {"error": "<message>"}; parameters not listed are ignored.',
        },
        "servers": [{"url": site_url()}],
        "paths": {
            "/api/daily_papers": {
                "get": {
                    "summary": "Papers of a day, ISO week or month by upvotes; newest days first without one",
                    "operationId": "listDailyPapers",
                    "parameters": params.DAILY_PAPERS.openapi(),
                    "responses": {"200": list_of("DailyItem", "Daily papers"), **api_errors(400)},
                }
            },
            "/api/papers/{id}": {
                "get": {
                    "summary": "One paper by arXiv id (any version) or local id",
                    "operationId": "getPaper",
                    "parameters": [
                        {
                            "name": "id",
                            "in": "path",
                            "required": True,
                            "description": "arXiv or local id; any other answers 404",
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": json_content({"$ref": "#/components/schemas/Paper"}, "The paper"),
                        **api_errors(404),
                    },
                }
            },
            "/api/papers/{id}/comments": {
                "get": {
                    "summary": "A paper's discussion: its threads, oldest first, each a top comment with its replies",
                    "operationId": "listPaperComments",
                    "parameters": [
                        {
                            "name": "id",
                            "in": "path",
                            "required": True,
                            "description": "arXiv or local id; any other answers 404",
                            "schema": {"type": "string"},
                        },
                        *params.COMMENTS.openapi(),
                    ],
                    "responses": {
                        "200": {
                            **list_of("Comment", "Threads, oldest first"),
                            "headers": {
                                "X-Total-Count": {
                                    "description": "How many threads the discussion has",
                                    "schema": {"type": "integer", "minimum": 0},
                                },
                                "Link": NEXT_PAGE_LINK,
                            },
                        },
                        **api_errors(400, 404),
                    },
                },
                "post": {
                    "summary": "Post a comment, or a reply (reply_to), as the token's account",
                    "description": "The same rules as the paper page's form: the account's comment limits (stricter "
                    "for new accounts), the text's limits, one level of replies",
                    "operationId": "postPaperComment",
                    "security": BEARER,
                    "parameters": [PAPER_ID],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewComment"}}},
                    },
                    "responses": {
                        "201": {
                            **json_content(
                                {"$ref": "#/components/schemas/Comment"}, "The comment, as the list gives it"
                            ),
                            "headers": {
                                "Location": {
                                    "description": "The comment on the paper's page",
                                    "schema": {"type": "string"},
                                }
                            },
                        },
                        **api_errors(400, 403, 404, 409, 413),
                    },
                },
            },
            "/api/papers/{id}/vote": {
                "post": {
                    "summary": "Upvote a paper as the token's account (idempotent)",
                    "operationId": "votePaper",
                    "security": BEARER,
                    "parameters": [PAPER_ID],
                    "responses": {
                        "200": json_content({"$ref": "#/components/schemas/Vote"}, "The vote is there"),
                        **api_errors(403, 404),
                    },
                },
                "delete": {
                    "summary": "Withdraw the account's upvote (idempotent)",
                    "operationId": "unvotePaper",
                    "security": BEARER,
                    "parameters": [PAPER_ID],
                    "responses": {
                        "200": json_content({"$ref": "#/components/schemas/Vote"}, "The vote is gone"),
                        **api_errors(403, 404),
                    },
                },
            },
            "/api/following": {
                "get": {
                    "summary": "The caller's Following feed: new papers by what they follow, newest first, with why",
                    "operationId": "listFollowing",
                    "security": BEARER,
                    "parameters": params.FOLLOWING.openapi(),
                    "responses": {
                        "200": {
                            **list_of("FollowedItem", "Papers, newest first"),
                            "headers": {
                                "Link": NEXT_PAGE_LINK,
                            },
                        },
                        **api_errors(400),
                    },
                }
            },
            "/api/whoami-v2": {
                "get": {
                    "summary": "The account of the token (or of the session); huggingface_hub's whoami",
                    "operationId": "whoami",
                    "security": BEARER,
                    "responses": {
                        "200": json_content({"$ref": "#/components/schemas/WhoAmI"}, "The account"),
                        **api_errors(),
                    },
                }
            },
            "/api/users/{name}/overview": {
                "get": {
                    "summary": "An account of this site; huggingface_hub's get_user_overview",
                    "operationId": "getUserOverview",
                    "parameters": [path_parameter("name", "The user name (letter case ignored when no other matches)")],
                    "responses": {
                        "200": json_content({"$ref": "#/components/schemas/UserOverview"}, "The account"),
                        **api_errors(404),
                    },
                }
            },
            "/api/organizations/{name}/overview": {
                "get": {
                    "summary": "An organization; huggingface_hub's get_organization_overview",
                    "operationId": "getOrganizationOverview",
                    "parameters": [
                        path_parameter(
                            "name", "Its name (the Hugging Face handle, or the name imported), else its page's slug"
                        )
                    ],
                    "responses": {
                        "200": json_content({"$ref": "#/components/schemas/OrganizationOverview"}, "The organization"),
                        **api_errors(404),
                    },
                }
            },
            "/api/papers/search": {
                "get": {
                    "summary": "Hybrid search; an exact arXiv id or title comes first. Without q, the newest papers",
                    "operationId": "searchPapers",
                    "parameters": params.SEARCH.openapi(),
                    "responses": {
                        "200": {
                            **list_of("DailyItem", "Best match first, or in the order asked for"),
                            "headers": {
                                "X-Total-Count": {
                                    "description": "How many papers match (0: none; the list holds at most limit). "
                                    "A lower bound while X-Paperwire-Notice says the keyword index is being rebuilt "
                                    "or not built yet",
                                    "schema": {"type": "integer", "minimum": 0},
                                },
                                "X-Paperwire-Notice": {
                                    "description": "Why the results are keyword matches only, or plain word matches; "
                                    f"that by relevance only the {RANKED} most relevant matches are ranked; "
                                    f"that a semantic search's {CANDIDATES} nearest papers are not all the papers "
                                    "as close",
                                    "schema": {"type": "string"},
                                },
                                "Link": {
                                    "description": 'The next page, `<URL>; rel="next"` (RFC 8288), while there is '
                                    "one this order reaches",
                                    "schema": {"type": "string"},
                                },
                            },
                        },
                        **api_errors(400),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Database, search index and static files health",
                    "operationId": "health",
                    "responses": {
                        "200": json_content(
                            {"$ref": "#/components/schemas/Health"},
                            "The database answers; degraded while a search index is missing, damaged or being rebuilt, "
                            "the embedding model cannot run, or the collected static files are damaged",
                        ),
                        "503": json_content({"$ref": "#/components/schemas/Health"}, "The database does not answer"),
                        **error_responses(),
                    },
                }
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "This document",
                    "operationId": "openapi",
                    "responses": {"200": json_content({"type": "object"}, "OpenAPI 3.1"), **api_errors()},
                }
            },
        },
        "security": OPTIONAL_BEARER,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A personal API token (pw_…), made on the account's settings page. Optional for "
                    "reads; an invalid one is a 401, never read as anonymous. Only in this header, never in the URL",
                }
            },
            "schemas": {
                "User": user_schema(),
                "Organization": ORGANIZATION,
                "Paper": PAPER,
                "DailyItem": DAILY_ITEM,
                "FollowedItem": {
                    **DAILY_ITEM,
                    "description": "A daily item of the Following feed, with why it is there",
                    "properties": {
                        **DAILY_ITEM["properties"],
                        "reasons": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": 'Why it is in the feed, e.g. "by Yann LeCun", "from Meta AI"',
                        },
                    },
                    "required": [*DAILY_ITEM.get("required", []), "reasons"],
                },
                "Comment": COMMENT,
                "NewComment": NEW_COMMENT,
                "Vote": VOTE,
                "WhoAmI": WHOAMI,
                "UserOverview": USER_OVERVIEW,
                "OrganizationOverview": ORGANIZATION_OVERVIEW,
                "Error": ERROR,
                "Health": {
                    "type": "object",
                    "properties": {
                        "status": {"type": "string", "enum": ["ok", "degraded", "error"]},
                        "reason": {"type": "string", "description": "Why the status is degraded"},
                        "database": {"type": "string"},
                        "index": {"type": "object"},
                        "model": {
                            "type": "object",
                            "description": "The embedding model: status ok (with name), off "
                            "(PAPERWIRE_EMBEDDING_MODEL=none) or unavailable (with reason: semantic search is off)",
                        },
                        "static": {
                            "type": "object",
                            "description": "Collected static files: status ok, damaged (with reason) or not collected",
                        },
                        "pending": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "Work still being done in the background, e.g. papers not indexed yet",
                        },
                    },
                    "required": ["status"],
                },
            },
        },
    }


def openapi_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(schema())
