"""Forms of the team pages."""

from __future__ import annotations

from django import forms

from .models import Team


class TeamSettingsForm(forms.Form):
    """What a team's leads set themselves: where the team's notifications go. The service
    checks the webhook's destination; the fields check only the shape."""

    webhook_url = forms.URLField(
        label="Webhook URL",
        required=False,
        max_length=Team._meta.get_field("webhook_url").max_length,
        assume_scheme="https",
        help_text="A Slack-compatible incoming webhook (https://hooks.slack.com/…). "
        "Addresses inside the company network are refused.",
        widget=forms.URLInput(attrs={"placeholder": "https://hooks.slack.com/services/…"}),
    )
    email = forms.EmailField(
        label="Team email",
        required=False,
        max_length=Team._meta.get_field("email").max_length,
        help_text="Where team-wide notifications go.",
    )

    @classmethod
    def for_team(cls, team: Team, data=None) -> TeamSettingsForm:
        return cls(data, initial={"webhook_url": team.webhook_url, "email": team.email})
