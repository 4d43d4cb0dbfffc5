from django import forms

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
