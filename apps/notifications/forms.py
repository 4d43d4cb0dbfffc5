from django import forms

from .models import PERSONAL_CHANNELS, Kind


class PreferencesForm(forms.Form):
    """The kind × channel grid: one checkbox per personal channel and kind, named
    `<kind>:<channel>`; an unchecked box is a channel switched off."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for channel in PERSONAL_CHANNELS:
            for kind in Kind:
                self.fields[f"{kind.value}:{channel.value}"] = forms.BooleanField(
                    required=False, label=f"{kind.label} by {channel.label.lower()}"
                )

    def enabled(self) -> set[tuple[str, str]]:
        return {tuple(name.split(":", 1)) for name, value in self.cleaned_data.items() if value}


class TeamChannelForm(forms.Form):
    """A team's webhook grid: one checkbox per kind, named `<kind>`; unchecked is off."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for kind in Kind:
            self.fields[kind.value] = forms.BooleanField(
                required=False, label=f"{kind.label} to the team's webhook"
            )

    def enabled(self) -> set[str]:
        return {name for name, value in self.cleaned_data.items() if value}
