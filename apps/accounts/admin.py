from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .forms import StaffSignInForm
from .models import FailedSignIn, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Preferences", {"fields": ("time_zone",)}),
    )
    list_display = ("username", "email", "first_name", "last_name", "time_zone", "is_staff")
    list_filter = ("is_staff", "is_superuser", "is_active")


# The admin's own sign-in page counts failures and locks out like the portal's.
admin.site.login_form = StaffSignInForm


@admin.register(FailedSignIn)
class FailedSignInAdmin(admin.ModelAdmin):
    """Who is failing to sign in, from where. Deleting a username's rows lifts its
    lockout at once (say, for a person who has just been given a new password)."""

    list_display = ("attempted_at", "username", "ip_address", "username_cleared_at")
    list_filter = ("attempted_at",)
    search_fields = ("username", "ip_address")
    date_hierarchy = "attempted_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
