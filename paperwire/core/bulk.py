"""New rows of a model written in a few statements, for the imports that write millions.

``bulk_create`` compiles every value of every row through the ORM (a paper has 29 columns: at
an import's rate that was about a third of its time). ``insert_instances`` prepares the plain
columns (text, numbers, booleans, keys of other rows) as they are and only the others (dates,
JSON, ``auto_now``) through their field, then hands the rows to the driver's ``executemany``.
The rows written are those ``bulk_create`` writes (tests/test_bulk_insert.py compares them
column by column on both databases).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import attrgetter

from django.db import connections, models, router

# Fields whose Python value is the value the database stores, on SQLite and PostgreSQL.
PLAIN = (models.CharField, models.TextField, models.IntegerField, models.BooleanField, models.ForeignKey)


def _preparer(field, connection) -> Callable[[models.Model], object]:
    if isinstance(field, PLAIN) and not (getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)):
        return attrgetter(field.attname)
    return lambda instance: field.get_db_prep_save(field.pre_save(instance, True), connection)


def insert_instances(model: type[models.Model], instances: Sequence[models.Model]) -> None:
    """INSERT ``instances`` (new, their primary key set: no AutoField); afterwards they are
    saved instances, as after ``bulk_create``."""
    if not instances:
        return
    meta = model._meta
    if isinstance(meta.pk, models.AutoField):
        raise ValueError(f"{meta.label} numbers its rows: use bulk_create")
    alias = router.db_for_write(model)
    connection = connections[alias]
    fields = meta.concrete_fields
    prepare = [_preparer(field, connection) for field in fields]
    for instance in instances:  # as bulk_create: a related row's key, read now that it is saved
        instance._prepare_related_fields_for_save(operation_name="insert_instances")
    insert_rows(model, [field.name for field in fields], [tuple(p(i) for p in prepare) for i in instances], alias=alias)
    for instance in instances:
        instance._state.adding = False
        instance._state.db = alias


def quoted_columns(model, fields: list[str], alias: str = "default") -> list[str]:
    """The quoted table of ``model``, then the quoted column of each of ``fields`` ("pk": the
    primary key's)."""
    quote = connections[alias].ops.quote_name
    meta = model._meta
    return [quote(meta.db_table), *(quote(meta.pk.column if f == "pk" else meta.get_field(f).column) for f in fields)]


def insert_rows(
    model, fields: list[str], rows: list[tuple], ignore_conflicts: bool = False, alias: str = "default"
) -> None:
    """Many rows in a few statements, without building a model instance for each (an import
    and the migration write hundreds of thousands). ``ignore_conflicts``: a row a unique
    index refuses (another process wrote it first) is left out (SQLite 3.24+ and PostgreSQL)."""
    table, *columns = quoted_columns(model, fields, alias)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
    sql += " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    with connections[alias].cursor() as cursor:
        for start in range(0, len(rows), 5000):
            cursor.executemany(sql, rows[start : start + 5000])
