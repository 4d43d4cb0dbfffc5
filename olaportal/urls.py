from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.accounts.api import ObtainTokenView
from apps.reports.api import ComplianceReportView

from .api import router

admin.site.site_header = "OLA Portal administration"
admin.site.site_title = "OLA Portal admin"

urlpatterns = [
    path("", include("apps.dashboard.urls")),
    path("accounts/", include("apps.accounts.urls")),
    path("teams/", include("apps.teams.urls")),
    path("calendars/", include("apps.calendars.urls")),
    path("agreements/", include("apps.agreements.urls")),
    path("handoffs/", include("apps.handoffs.urls")),
    path("queues/", include("apps.handoffs.urls_queues")),
    path("notifications/", include("apps.notifications.urls")),
    path("reviews/", include("apps.reviews.urls")),
    path("reports/", include("apps.reports.urls")),
    path("admin/", admin.site.urls),
    path("api/auth/token/", ObtainTokenView.as_view(), name="api-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # A report, not a collection of objects: a plain view beside the router's viewsets.
    path(
        "api/reports/compliance/",
        ComplianceReportView.as_view(),
        name="api-report-compliance",
    ),
    path("api/", include(router.urls)),
]
