from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("", views.index, name="index"),
    path("compliance.csv", views.compliance_csv, name="compliance-csv"),
    path("breach-causes.csv", views.causes_csv, name="breach-causes-csv"),
    path("trend.csv", views.trend_csv_view, name="trend-csv"),
]
