"""Small presentation helpers shared by every app's templates."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format

register = template.Library()


@register.simple_tag
def period(begin: datetime, end: datetime, zone: str = "", show_zone: bool = False) -> str:
    """'Mon 23 Nov, 09:00–17:00' (the date once when both ends fall on the same day), in
    `zone` or the active (viewer's) zone."""
    tz = ZoneInfo(zone) if zone else timezone.get_current_timezone()
    b, e = begin.astimezone(tz), end.astimezone(tz)
    suffix = f" {date_format(e, 'T')}" if show_zone else ""
    if b.date() == e.date():
        return f"{date_format(b, 'D j M, H:i')}–{date_format(e, 'H:i')}{suffix}"
    return f"{date_format(b, 'D j M, H:i')} – {date_format(e, 'D j M, H:i')}{suffix}"
