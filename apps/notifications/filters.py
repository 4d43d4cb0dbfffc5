import django_filters
from django import forms
from django_filters.widgets import BooleanWidget

from .models import Kind, Notification

SELECT = {"class": "form-select form-select-sm"}


class ReadWidget(BooleanWidget):
    """`unread=true` / `unread=false` as the inbox's select names them."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.choices = [("", "Read and unread"), ("true", "Unread only"), ("false", "Read only")]


class NotificationFilter(django_filters.FilterSet):
    """The inbox's filters, shared by the page and the API: `kind`, `unread=true`."""

    unread = django_filters.BooleanFilter(
        field_name="read_at", lookup_expr="isnull", label="Show", widget=ReadWidget(SELECT)
    )
    kind = django_filters.ChoiceFilter(
        choices=Kind.choices, empty_label="Every kind", widget=forms.Select(attrs=SELECT)
    )

    class Meta:
        model = Notification
        fields = ["unread", "kind"]
