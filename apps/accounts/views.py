from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from rest_framework.authtoken.models import Token

from . import services
from .forms import ProfileForm, QuietHoursForm, SignInForm


class SignInView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.lockout is not None:
            # Refused without checking the password: the form says why and for how long.
            response.status_code = 429
            response["Retry-After"] = str(form.lockout.retry_after_seconds)
        return response


class SignOutView(auth_views.LogoutView):
    pass


def _quiet_hours_initial(user) -> dict:
    return {
        "quiet_hours": user.quiet_hours,
        "work_starts": user.work_starts,
        "work_ends": user.work_ends,
    }


def profile(request):
    """The person's details, time zone and quiet hours: two forms on one page, told apart
    by the button that sent them."""
    user = request.user
    form = ProfileForm(instance=user)
    quiet_form = QuietHoursForm(initial=_quiet_hours_initial(user))
    if request.method == "POST" and request.POST.get("form") == "quiet_hours":
        quiet_form = QuietHoursForm(request.POST)
        if quiet_form.is_valid():
            services.user_set_quiet_hours(user=user, **quiet_form.cleaned_data)
            messages.success(request, "Quiet hours saved.")
            return redirect("accounts:profile")
    elif request.method == "POST":
        form = ProfileForm(request.POST, instance=user)
        if form.is_valid():
            services.user_update_profile(user=user, **form.cleaned_data)
            messages.success(request, "Profile saved.")
            return redirect("accounts:profile")
        # The instance was mutated by validation; show what was typed, keep the stored row.
        user.refresh_from_db()
    token = Token.objects.filter(user=user).first()
    return render(
        request,
        "accounts/profile.html",
        {
            "form": form,
            "quiet_form": quiet_form,
            "token": token,
            "now": timezone.now(),
            "memberships": user.memberships.select_related("team").order_by("team__name"),
        },
    )


@require_POST
def token_regenerate(request):
    services.user_regenerate_api_token(user=request.user)
    messages.success(request, "A new API token was created; the previous one no longer works.")
    return redirect("accounts:profile")


@require_POST
def token_revoke(request):
    services.user_revoke_api_token(user=request.user)
    messages.info(request, "Your API token was revoked.")
    return redirect("accounts:profile")
