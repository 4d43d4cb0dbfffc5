from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils import timezone

from . import selectors, services
from .models import User
from .timezones import timezone_choices


class ProfileForm(forms.ModelForm):
    time_zone = forms.ChoiceField(
        choices=timezone_choices,
        help_text="Every time on the portal is shown in this zone.",
    )

    class Meta:
        model = User
        fields = ["first_name", "last_name", "email", "time_zone"]


class QuietHoursForm(forms.Form):
    """Working hours (Monday to Friday, in the person's zone) and whether non-urgent email
    waits for them."""

    quiet_hours = forms.BooleanField(
        required=False,
        label="Hold non-urgent email outside my working hours",
        help_text="Breaches, escalations and P1/P2 work still reach you at once.",
    )
    work_starts = forms.TimeField(
        label="Working day starts", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    work_ends = forms.TimeField(
        label="Working day ends", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )

    def clean(self):
        cleaned = super().clean()
        starts, ends = cleaned.get("work_starts"), cleaned.get("work_ends")
        if starts is not None and ends is not None and ends <= starts:
            self.add_error(
                "work_ends", "Working hours end after they start (overnight hours are not kept)."
            )
        return cleaned


class ThrottledSignInMixin:
    """Sign-in throttling for Django's authentication forms.

    While the username or the client's address is locked out the password is not checked
    at all; otherwise a refused password is recorded and a good one clears the username's
    count. It lives in the form, not a view, because two views sign people in with these
    forms (ours and the admin's) and both must count the same way.
    """

    lockout: selectors.Lockout | None = None

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if not username or not password:
            return super().clean()
        now = timezone.now()
        ip_address = selectors.client_ip(self.request)
        self.lockout = selectors.sign_in_lockout(username=username, ip_address=ip_address, now=now)
        if self.lockout is not None:
            raise ValidationError(self.lockout.message, code="locked_out")
        try:
            cleaned = super().clean()
        except ValidationError as error:
            if error.code == "invalid_login":
                services.sign_in_failure_record(username=username, ip_address=ip_address, now=now)
            raise
        services.sign_in_failures_clear(username=username, now=now)
        return cleaned


class SignInForm(ThrottledSignInMixin, AuthenticationForm):
    pass


class StaffSignInForm(ThrottledSignInMixin, AdminAuthenticationForm):
    """The admin's sign-in form: the same lockout as the portal's sign-in page."""
