"""SQL the ORM writes once: an expression compiled once per process, and many rows
inserted by one statement whose text does not depend on how many there are."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Expression, Field, Model
from django.db.models.expressions import RawSQL

_COMPILED: dict[tuple[str, str, str], tuple[str, tuple, Field]] = {}


def compiled_once(
    model: type[Model], name: str, column: Callable[[], Expression], using: str = DEFAULT_DB_ALIAS
) -> RawSQL:
    """`column()` — an expression over `model`'s own columns, such as a correlated subquery
    — compiled once per process and database vendor under `name`: its SQL never changes,
    and building and compiling it again cost a page about a millisecond of ORM work."""
    connection = connections[using]
    key = (model._meta.label, connection.vendor, name)
    if key not in _COMPILED:
        query = model._default_manager.all().query
        expression = column().resolve_expression(query)
        compiler = query.get_compiler(connection=connection)
        _COMPILED[key] = (*compiler.compile(expression), expression.output_field)
    sql, params, output_field = _COMPILED[key]
    return RawSQL(sql, params, output_field=output_field)  # noqa: S611 - the ORM's own SQL


def insert_unnest(
    model: type[Model], rows: Sequence[Model], *, then: str = "", using: str = DEFAULT_DB_ALIAS
) -> list[tuple]:
    """Insert unsaved `rows` of `model` in ONE statement, one array a column
    (`INSERT … SELECT * FROM unnest(…)`, PostgreSQL): its text is the same whatever the
    number of rows. `then` follows it (`ON CONFLICT … RETURNING …`); returns the rows the
    statement returns."""
    connection = connections[using]
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} "  # noqa: S608 - names from the model
        f"({', '.join(quote(f.column) for f in fields)}) SELECT * FROM unnest({arrays}) {then}"
    )
    params = [[f.get_db_prep_save(f.pre_save(r, True), connection) for r in rows] for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if "RETURNING" in then.upper() else []
