"""apps.core.html's format_html and format_html_join write what Django's do, for any text,
number, markup-safe or lazy value."""

import pytest
from django.utils import html as django_html
from django.utils.functional import lazy
from django.utils.safestring import SafeString, mark_safe
from hypothesis import given
from hypothesis import strategies as st

from apps.core import html

lazy_text = lazy(str, str)
values = st.one_of(
    st.text(),
    st.text(alphabet="<>&\"'ab ").map(mark_safe),
    st.text(alphabet="<>&\"'ab \u00e9\ud800").map(lazy_text),
    st.integers(),
    st.floats(allow_nan=False),
    st.none(),
)


@given(st.lists(values, min_size=1, max_size=5), values)
def test_format_html_escapes_as_djangos(args, named):
    template = "<b>{}</b>" * len(args) + '<i title="{named}">'
    ours = html.format_html(template, *args, named=named)
    assert ours == django_html.format_html(template, *args, named=named)
    assert isinstance(ours, SafeString)


@given(st.lists(st.tuples(values, values), max_size=4), values)
def test_format_html_join_escapes_as_djangos(rows, sep):
    ours = html.format_html_join(sep, "<li>{}: {}</li>", rows)
    assert ours == django_html.format_html_join(sep, "<li>{}: {}</li>", rows)
    named = [{"a": a, "b": b} for a, b in rows]
    assert html.format_html_join(sep, "{a}{b}", named) == django_html.format_html_join(
        sep, "{a}{b}", named
    )


def test_format_html_needs_something_to_format():
    with pytest.raises(TypeError):
        html.format_html("<br>")
