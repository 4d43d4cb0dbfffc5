from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Preferences", {"fields": ("time_zone",)}),
    )
    list_display = ("username", "email", "first_name", "last_name", "time_zone", "is_staff")
    list_filter = ("is_staff", "is_superuser", "is_active")
