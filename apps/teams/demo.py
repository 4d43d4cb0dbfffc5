"""Demo teams with a lead and members each."""

from . import services
from .models import Role, Team

TEAMS = [
    # slug, name, calendar key, lead, members
    ("support", "Support", "support", "sasha", ["sam", "skye"]),
    ("engineering", "Engineering", "engineering", "erin", ["eli", "emma"]),
    ("sales", "Sales", "sales", "sal", ["sid"]),
    ("customer-success", "Customer Success", "customer-success", "cora", ["cal"]),
]


def seed(*, context: dict, stdout) -> None:
    users, calendars, password = context["users"], context["calendars"], context["password"]
    teams = {}
    for slug, name, calendar_key, lead, members in TEAMS:
        team = Team.objects.filter(slug=slug).first() or services.team_create(
            name=name,
            slug=slug,
            calendar=calendars[calendar_key],
            email=f"{slug}@example.com",
        )
        services.membership_set(team=team, user=users[lead], role=Role.LEAD)
        context["logins"].append((lead, password, f"lead of {name}"))
        for username in members:
            services.membership_set(team=team, user=users[username], role=Role.MEMBER)
            context["logins"].append((username, password, f"member of {name}"))
        teams[slug] = team
    context["teams"] = teams
