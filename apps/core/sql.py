"""SQL the ORM writes once: an expression or a whole query compiled once per process (a
query's statement also prepared once per connection on PostgreSQL), and many rows inserted
by one statement whose text does not depend on how many there are."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Expression, Field, Func, JSONField, Model, QuerySet, TextField
from django.db.models.expressions import RawSQL
from django.db.models.functions import JSONObject
from django.db.models.sql.compiler import SQLCompiler

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


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class JSONRow(JSONObject):
    """`JSONObject` whose names are written into the SQL rather than sent as parameters
    (they are column names, checked as such): a row of forty columns is one expression
    with no parameters of its own, so a prepared statement sends none of them and psycopg
    merges none of them into the text."""

    def __init__(self, **fields):
        expressions = []
        for name, value in fields.items():
            if not _NAME.fullmatch(name):
                raise ValueError(f"JSONRow: {name!r} is not a column name")
            literal = RawSQL(f"'{name}'", (), output_field=TextField())  # noqa: S611 - checked
            expressions.extend((literal, value))
        Func.__init__(self, *expressions)

    def as_postgresql(self, compiler, connection, **extra_context):
        # A literal name needs no cast to text (JSONObject casts its parameters).
        return self.as_sql(compiler, connection, function="JSONB_BUILD_OBJECT", **extra_context)


class WholeRow(Expression):
    """Every column of the query's own table as one JSON object named by column
    (PostgreSQL's `to_jsonb` of the row): what `JSONRow` of every field gives, in a few
    bytes of SQL. Only for models whose columns are named as their fields' attributes."""

    output_field = JSONField()

    def __init__(self, model: type[Model]):
        if any(f.column != f.attname for f in model._meta.concrete_fields):
            raise ValueError(f"WholeRow: {model.__name__} names a column unlike its field")
        super().__init__()

    def as_sql(self, compiler, connection):
        table = compiler.quote_name_unless_alias(compiler.query.base_table)
        return f"to_jsonb({table})", []


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


@dataclass(frozen=True)
class _Query:
    compiler: SQLCompiler  # after as_sql(): what its rows hold (select, annotations)
    sql: str
    slots: tuple[tuple[bool, object], ...]  # (True, argument index) or (False, constant)
    prepare: tuple[Callable, ...]  # each argument as the database takes it


_QUERIES: dict[tuple, _Query] = {}


def _stand_in(n: int, value):
    """A value no row has, of the argument's type, to find where the argument lands."""
    if isinstance(value, datetime):
        return datetime(1, 1, 1 + n, tzinfo=UTC)
    if isinstance(value, str):
        return f"stand-in {n} \x01"
    return -1 - n


class NotCompilable(ValueError):
    """`build`'s SQL does not take each argument as a parameter as it is: an argument is
    written into the SQL text (a slice's LIMIT) or turned into another value
    (`now - timedelta`) that no stand-in can find. (An argument the query does not use —
    a staff reader's id where staff see every team — is no parameter, and that is fine.)"""


def _query(name: str, build: Callable[..., QuerySet], args: Sequence, using: str) -> _Query:
    """`build(*args)`'s SQL, compiled by the ORM once per process, database vendor and
    the arguments' types: built with stand-ins (values no row has), then each stand-in's
    place among the parameters is where each call's argument goes. `args` are ids, text
    or times that `build` only passes on as query parameters (or not at all): it is built a
    second time with other stand-ins, and whatever the two builds do not share in the same
    places — text, or a parameter that is not a stand-in — raises `NotCompilable`."""
    connection = connections[using]
    key = (using, connection.vendor, name, *(type(a) for a in args))
    if key not in _QUERIES:
        # A time reaches the database as the backend adapts it (SQLite: as text).
        prepare = tuple(
            connection.ops.adapt_datetimefield_value if isinstance(a, datetime) else _same
            for a in args
        )
        built = []
        for offset in (0, len(args)):
            stand_ins = [_stand_in(offset + n, value) for n, value in enumerate(args)]
            compiler = build(*stand_ins).query.get_compiler(using=using)
            sql, params = compiler.as_sql()
            adapted = [adapt(value) for adapt, value in zip(prepare, stand_ins, strict=True)]
            built.append((compiler, sql, tuple(_slot(param, adapted) for param in params)))
        (compiler, sql, slots), (_, other_sql, other_slots) = built
        if other_sql != sql or other_slots != slots:
            raise NotCompilable(f"{name}: an argument is not passed on as a parameter")
        if connection.vendor == "postgresql":
            sql, slots = _inline_constants(connection, sql, slots)
        _QUERIES[key] = _Query(compiler, sql, slots, prepare)
    return _QUERIES[key]


# A placeholder, or a percent sign written as one (psycopg's own reading of a query).
_PLACEHOLDER = re.compile(r"%%|%s")


def _inline_constants(connection, sql: str, slots: tuple) -> tuple[str, tuple]:
    """The query with its constants (the statuses it filters by, the numbers in a CASE)
    written into its text as PostgreSQL literals, and only the arguments left as
    parameters: a prepared statement's generic plan then sees `status IN ('new', …)` and
    can use a partial index whose predicate says the same, where `status IN ($1, …)` could
    not (a queue page's generic plan: 55 ms with parameters, 1.4 ms with literals)."""
    from psycopg.sql import Literal  # PostgreSQL only

    connection.ensure_connection()
    raw = connection.connection
    remaining = iter(slots)
    kept = []

    def put(placeholder: re.Match) -> str:
        if placeholder.group() == "%%":
            return "%%"
        is_arg, value = next(remaining)
        if is_arg:
            kept.append((True, value))
            return "%s"
        return Literal(value).as_string(raw).replace("%", "%%")

    inlined = _PLACEHOLDER.sub(put, sql)
    if next(remaining, None) is not None:
        raise NotCompilable("more parameters than placeholders")
    return inlined, tuple(kept)


def _same(value):
    return value


def _slot(param, stand_ins: list) -> tuple[bool, object]:
    for index, stand_in in enumerate(stand_ins):
        if type(param) is type(stand_in) and param == stand_in:
            return True, index
    return False, param


def fetch(
    name: str, build: Callable[..., QuerySet], args: Sequence, using: str = DEFAULT_DB_ALIAS
) -> list[tuple]:
    """The rows of `build(*args)` as tuples (as the database gives them), its SQL compiled
    once (`_query`) and prepared once per connection (`prepared`): building and compiling
    a small query costs a page ~0.4 ms, running it a tenth of that, and preparing takes a
    small query's 0.3 ms round trip to about 0.15."""
    query = _query(name, build, args, using)
    with prepared(using), connections[using].cursor() as cursor:
        cursor.execute(query.sql, _bind(query, args))
        return cursor.fetchall()


def fetch_values(
    name: str, build: Callable[..., QuerySet], args: Sequence, using: str = DEFAULT_DB_ALIAS
) -> list[dict]:
    """The dicts `build(*args)` — a `.values()` query — would give, each column read by
    its field as the ORM reads it, its SQL compiled once (`_query`) and prepared once per
    connection (`prepared`)."""
    query = _query(name, build, args, using)
    with prepared(using), connections[using].cursor() as cursor:
        cursor.execute(query.sql, _bind(query, args))
        rows = cursor.fetchall()
    compiler = query.compiler
    names = [*compiler.query.extra_select, *compiler.query.values_select]
    names += compiler.query.annotation_select
    return [dict(zip(names, row, strict=True)) for row in compiler.results_iter(results=[rows])]


def fetch_instances(
    name: str, build: Callable[..., QuerySet], args: Sequence, using: str = DEFAULT_DB_ALIAS
) -> list[Model]:
    """The instances `build(*args)` would give (its model's columns, its annotations as
    attributes, each column read by its field as the ORM reads it; no `select_related`),
    its SQL compiled once (`_query`) and, on PostgreSQL, prepared once per connection
    (`prepared`): a page's one big query then costs neither ORM work nor planning."""
    query = _query(name, build, args, using)
    compiler = query.compiler
    with prepared(using), connections[using].cursor() as cursor:
        cursor.execute(query.sql, _bind(query, args))
        rows = cursor.fetchall()
    info = compiler.klass_info
    start, end = info["select_fields"][0], info["select_fields"][-1] + 1
    names = [column[0].target.attname for column in compiler.select[start:end]]
    annotations = compiler.annotation_col_map.items()
    instances = []
    for row in compiler.results_iter(results=[rows]):
        instance = info["model"].from_db(using, names, row[start:end])
        for attribute, position in annotations:
            setattr(instance, attribute, row[position])
        instances.append(instance)
    return instances


def _bind(query: _Query, args: Sequence) -> list:
    return [query.prepare[value](args[value]) if is_arg else value for is_arg, value in query.slots]


@contextmanager
def prepared(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Statements run in this block are bound and prepared on the server (PostgreSQL; a
    no-op elsewhere): the connection keeps each one's plan (psycopg's cache, 100 a
    connection), so a statement run again is neither parsed nor, once PostgreSQL settles on
    its generic plan, planned again. Only for statements whose generic plan is good (a row
    by its id, not a queue sorted over thousands: `plan_cache_mode` would keep re-planning
    those anyway). Behind PgBouncer in transaction mode this needs PgBouncer 1.21 or newer
    with `max_prepared_statements` set, or DATABASE_PREPARE=false (README, production)."""
    connection = connections[using]
    if connection.vendor != "postgresql" or not settings.DATABASE_PREPARE:
        yield
        return
    connection.ensure_connection()
    raw = connection.connection
    before = raw.cursor_factory, raw.prepare_threshold
    # Django turns psycopg's preparing off (None); any number turns it on, and the cursor
    # asks for every statement of the block to be prepared at once.
    raw.cursor_factory, raw.prepare_threshold = _preparing_cursor(), 0
    try:
        yield
    finally:
        raw.cursor_factory, raw.prepare_threshold = before


@cache
def _preparing_cursor() -> type:
    from django.db.backends.postgresql.base import ServerBindingCursor  # PostgreSQL only

    class PreparingCursor(ServerBindingCursor):
        def execute(self, query, params=None, *, prepare=None, binary=None):
            return super().execute(query, params, prepare=True, binary=binary)

        def _send_query_prepared(self, name, pgq, *, binary=None):
            # psycopg keeps the statement's text for one it did not prepare only; Django's
            # query log (and every test that reads it) reads that text.
            self._query = pgq
            return super()._send_query_prepared(name, pgq, binary=binary)

    return PreparingCursor
