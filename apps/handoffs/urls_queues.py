"""The queue pages live under /queues/, outside the /handoffs/ prefix."""

from django.urls import path

from . import views

app_name = "queues"

urlpatterns = [
    path("", views.queue_index, name="index"),
    path("<slug:slug>/", views.queue_inbound, name="inbound"),
    path("<slug:slug>/outgoing/", views.queue_outgoing, name="outgoing"),
]
