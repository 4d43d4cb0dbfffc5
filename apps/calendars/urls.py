from django.urls import path

from . import views

app_name = "calendars"

urlpatterns = [
    path("<int:pk>/", views.calendar_detail, name="detail"),
    path("<int:pk>/edit/", views.calendar_edit, name="edit"),
]
