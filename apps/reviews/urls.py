from django.urls import path

from . import views

app_name = "reviews"

urlpatterns = [
    path("", views.review_index, name="index"),
    path("breaches/", views.breach_list, name="breaches"),
    path("breaches/<int:clock_pk>/", views.breach_review, name="breach"),
    path("breaches/<int:clock_pk>/actions/", views.breach_action_add, name="breach_action_add"),
    path("actions/<int:pk>/done/", views.action_done, name="action_done"),
    path("<int:pk>/", views.review_detail, name="detail"),
    path("<int:pk>/start/", views.review_start, name="start"),
    path("<int:pk>/edit/", views.review_edit, name="edit"),
    path("<int:pk>/targets/", views.review_targets, name="targets"),
    path("<int:pk>/what-if/", views.review_what_if, name="what_if"),
    path("<int:pk>/sign-off/", views.review_sign_off, name="sign_off"),
    path("<int:pk>/actions/", views.action_add, name="action_add"),
]
