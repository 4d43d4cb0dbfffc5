from django.urls import path

from . import views
from .views.handoffs import handoff_unwatch, handoff_watch

app_name = "handoffs"

urlpatterns = [
    path("new/", views.handoff_new, name="new"),
    path("<int:pk>/", views.handoff_detail, name="detail"),
    path("<int:pk>/watch/", handoff_watch, name="watch"),
    path("<int:pk>/unwatch/", handoff_unwatch, name="unwatch"),
    # One POST view per action: /handoffs/<id>/acknowledge/, …/action-plan/, …
    *(
        path(f"<int:pk>/{spec.slug}/", views.handoff_action, {"action": name}, name=spec.slug)
        for name, spec in views.ACTIONS.items()
    ),
]
