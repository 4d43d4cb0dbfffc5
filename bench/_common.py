"""What every bench script does first: put the repository on the import path and set
Django up with bench-only settings; and the throw-away database the scripts fill.

    import _common  # bench/_common.py (a script's own folder is on the import path)

    _common.setup_django()
    ...
    with _common.throwaway_database():
        ...  # `<NAME>_bench`, created empty and migrated, dropped afterwards
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django() -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "olaportal.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production-0123456789abcdef")
    os.environ.setdefault("STATIC_MANIFEST", "false")

    import django

    django.setup()


@contextmanager
def throwaway_database(*, keep: bool = False, reuse: bool = False) -> Iterator[str]:
    """Create `<NAME>_bench` (the database of DATABASE_URL plus `_bench`, dropped first if
    it exists), point the connection at it and migrate; drop it afterwards unless `keep`
    (BENCH_KEEP=1, to EXPLAIN the queries). `reuse` takes the database as a kept run left
    it. Yields the database's name."""
    from django.db import connection

    connection.settings_dict["TEST"]["NAME"] = f"{connection.settings_dict['NAME']}_bench"
    old_name = connection.creation.create_test_db(
        verbosity=0, autoclobber=True, serialize=False, keepdb=reuse
    )
    try:
        yield connection.settings_dict["NAME"]
    finally:
        if not keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)


@contextmanager
def counting_queries() -> Iterator[Callable[[], int]]:
    """Count every SQL statement run inside the block: `with counting_queries() as count:`,
    then `count()`. `connection.queries` would keep only the last 9,000."""
    from django.db import connection

    seen = 0

    def wrapper(execute, sql, params, many, context):
        nonlocal seen
        seen += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield lambda: seen
