"""The REST API router: every app registers its viewsets here."""

from rest_framework.routers import DefaultRouter

from apps.agreements.api import AgreementViewSet, ExceptionWindowViewSet
from apps.calendars.api import BusinessCalendarViewSet
from apps.handoffs.api import HandoffViewSet
from apps.notifications.api import NotificationViewSet
from apps.reviews.api import ActionItemViewSet, BreachReviewViewSet, QuarterlyReviewViewSet
from apps.teams.api import TeamViewSet

router = DefaultRouter()
# No `.json` twin of each route (DRF's format suffixes): `?format=json` chooses the format,
# and an action that forgot its `format` argument can no longer answer 500 there.
router.include_format_suffixes = False
router.register("teams", TeamViewSet, basename="team")
router.register("calendars", BusinessCalendarViewSet, basename="calendar")
router.register("agreements", AgreementViewSet, basename="agreement")
router.register("exception-windows", ExceptionWindowViewSet, basename="exception-window")
router.register("handoffs", HandoffViewSet, basename="handoff")
router.register("notifications", NotificationViewSet, basename="notification")
router.register("reviews", QuarterlyReviewViewSet, basename="review")
router.register("breach-reviews", BreachReviewViewSet, basename="breach-review")
router.register("action-items", ActionItemViewSet, basename="action-item")
