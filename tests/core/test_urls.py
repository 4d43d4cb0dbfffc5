"""Addresses reversed once per process are the addresses Django reverses, under any URLconf
and script prefix."""

import pytest
from django.urls import clear_script_prefix, reverse, set_script_prefix

from apps.core import urls


@pytest.mark.parametrize("prefix", ["/", "/ola/"])
def test_a_remembered_address_is_djangos(prefix):
    set_script_prefix(prefix)
    try:
        for name, kwargs in (
            ("teams:detail", {"slug": "engineering"}),
            ("handoffs:detail", {"pk": 42}),
            ("agreements:detail", {"pk": 7}),
        ):
            assert urls.reverse(name, **kwargs) == reverse(name, kwargs=kwargs)
            assert urls.reverse(name, **kwargs).startswith(prefix)
    finally:
        clear_script_prefix()
