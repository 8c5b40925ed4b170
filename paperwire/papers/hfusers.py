"""The user object of Hugging Face's papers API (an item's ``submittedOnDailyBy``), as Paperwire
keeps and serves it: one declaration for the import, the API and its schema.

An import keeps the submitter of a Hugging Face item and the API serves it back, where
huggingface_hub builds its ``User`` from it. ``FIELDS`` are the ones Hugging Face sends (all of
9,881 archived items hold only these), each with its one type and length. ``hf_user`` makes the
object of them: the import refuses a submitter it finds a problem in (paperwire/ingest), the API
serves what it keeps of any stored value (one stored before these checks, or edited in the
admin), and /api/openapi.json declares exactly this object (paperwire/api/openapi.py). Other
keys are dropped: huggingface_hub sets each key it does not know as an attribute of its
``User``, and reads some as lists of objects ("orgs").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_COUNT = 2**31 - 1  # a 32-bit integer, as counts are on PostgreSQL
SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Field:
    type: type  # str, bool or int
    max_length: int = 500  # for str

    @property
    def json_type(self) -> str:
        return {str: "string", bool: "boolean", int: "integer"}[self.type]


# `user` and `name` fit Paper.submitter_name (100 characters); Hugging Face's are under 50.
FIELDS: dict[str, Field] = {
    "_id": Field(str),
    "user": Field(str, 100),
    "name": Field(str, 100),  # older items name the user here, without `user`
    "fullname": Field(str),
    "avatarUrl": Field(str),
    "type": Field(str),
    "isPro": Field(bool),
    "isHf": Field(bool),
    "isMod": Field(bool),
    "followerCount": Field(int),
}
REQUIRED = ("user",)


def _problem(value: Any, field: Field) -> str:
    """What is wrong with ``value`` for ``field``, in the words of an import's rejection; "" if nothing."""
    if field.type is str:
        if not isinstance(value, str):
            return "must be a string"
        if len(value) > field.max_length:
            return f"is {len(value):,} characters long, more than {field.max_length:,}"
        if not value.isascii() and SURROGATE.search(value):
            return "is not valid Unicode (a lone surrogate)"
        return ""
    if field.type is bool:
        return "" if isinstance(value, bool) else "must be true or false"
    if not isinstance(value, int) or isinstance(value, bool):
        return "must be an integer"
    if value < 0:
        return "must not be negative"
    return f"is larger than {MAX_COUNT:,}" if value > MAX_COUNT else ""


def hf_user(value: Any, name: str = "submittedOnDailyBy") -> tuple[dict | None, list[str]]:
    """The user object made of ``value``, and the problems found in it (each naming its field).

    Kept: the known fields whose value fits (NUL characters dropped from strings, null values
    left out); ``user`` from ``name`` where only that was given. None when ``value`` is absent,
    empty, or names no user.
    """
    if value is None or value == {}:
        return None, []
    if not isinstance(value, dict):
        return None, [f"{name} must be an object"]
    kept: dict[str, Any] = {}
    problems = []
    for key, field in FIELDS.items():
        item = value.get(key)
        if item is None:
            continue
        if isinstance(item, str):
            item = item.replace("\x00", "")
        if problem := _problem(item, field):
            problems.append(f"{name}.{key} {problem}")
        else:
            kept[key] = item
    if "user" not in kept and "name" in kept and "user" not in value:
        kept = {"user": kept["name"], **kept}
    if "user" not in kept:
        if "user" not in value and "name" not in value:
            problems.append(f"{name} has no user (nor name)")
        return None, problems
    return kept, problems
