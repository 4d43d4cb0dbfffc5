"""API authentication that shows times in the user's zone, as pages do.

`UserTimezoneMiddleware` activates the zone of a user signed in by session; a token
request is authenticated later, inside DRF, so the zone is activated here (and the
middleware deactivates it when the response is done)."""

from __future__ import annotations

import zoneinfo

from django.utils import timezone
from rest_framework.authentication import TokenAuthentication


class ZonedTokenAuthentication(TokenAuthentication):
    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            try:
                timezone.activate(zoneinfo.ZoneInfo(result[0].time_zone))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        return result
