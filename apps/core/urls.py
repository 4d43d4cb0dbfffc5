from django.urls import path

from . import views

app_name = "core"

urlpatterns = [
    path("reports/", views.not_built_yet, {"section": "reports"}, name="reports"),
]
