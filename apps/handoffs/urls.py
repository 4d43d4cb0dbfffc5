from django.urls import path

from . import views

app_name = "handoffs"

urlpatterns = [
    path("new/", views.handoff_new, name="new"),
    path("<int:pk>/", views.handoff_detail, name="detail"),
    # One POST view per action: /handoffs/<id>/acknowledge/, …/action-plan/, …
    *(
        path(f"<int:pk>/{spec.slug}/", views.handoff_action, {"action": name}, name=spec.slug)
        for name, spec in views.ACTIONS.items()
    ),
]
