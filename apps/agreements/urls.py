from django.urls import path

from . import views

app_name = "agreements"

urlpatterns = [
    path("", views.agreement_list, name="list"),
    path("new/", views.agreement_new, name="new"),
    path("windows/", views.window_list, name="windows"),
    path("windows/new/", views.window_new, name="window-new"),
    path("windows/<int:pk>/approve/", views.window_approve, name="window-approve"),
    path("windows/<int:pk>/reject/", views.window_reject, name="window-reject"),
    path("windows/<int:pk>/end/", views.window_end, name="window-end"),
    path("<int:pk>/", views.agreement_detail, name="detail"),
    path("<int:pk>/edit/", views.agreement_edit, name="edit"),
    path("<int:pk>/compare/", views.agreement_compare, name="compare"),
    path("<int:pk>/submit/", views.agreement_submit, name="submit"),
    path("<int:pk>/approve/", views.agreement_approve, name="approve"),
    path("<int:pk>/request-changes/", views.agreement_request_changes, name="request-changes"),
    path("<int:pk>/amend/", views.agreement_amend, name="amend"),
    path("<int:pk>/retire/", views.agreement_retire, name="retire"),
]
