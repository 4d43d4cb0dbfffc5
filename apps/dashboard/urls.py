from django.urls import path

from . import views

# No app_name: "dashboard" is the home page's public URL name (LOGIN_REDIRECT_URL, the
# error pages, the navigation), kept as it was before the dashboard had an app of its own.
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
]
