"""Demo people. Every demo login shares one password, printed by seed_demo."""

from django.contrib.auth.hashers import make_password

from .models import User

DEMO_PASSWORD = "ola-demo"  # noqa: S105 - printed on purpose: demo logins only

PEOPLE = [
    # username, first, last, time zone, staff
    ("admin", "Ada", "Admin", "UTC", True),
    ("sasha", "Sasha", "Support", "UTC", False),
    ("sam", "Sam", "Ortiz", "UTC", False),
    ("skye", "Skye", "Nakamura", "UTC", False),
    ("erin", "Erin", "Engel", "Europe/Berlin", False),
    ("eli", "Eli", "Brandt", "Europe/Berlin", False),
    ("emma", "Emma", "Vogel", "Europe/Berlin", False),
    ("sal", "Sal", "Sanders", "America/New_York", False),
    ("sid", "Sid", "Patel", "America/New_York", False),
    ("cora", "Cora", "Clarke", "Europe/London", False),
    ("cal", "Cal", "Hughes", "Europe/London", False),
]


def seed(*, context: dict, stdout) -> None:
    users = {}
    # One hash for every demo login: hashing is deliberately slow (~1 s each here).
    hashed = make_password(DEMO_PASSWORD)
    for username, first, last, tz, staff in PEOPLE:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@example.com",
                "time_zone": tz,
                "is_staff": staff,
                "is_superuser": staff,
            },
        )
        if created:
            user.password = hashed
            user.save(update_fields=["password"])
        users[username] = user
    context["users"] = users
    context["password"] = DEMO_PASSWORD
    context["logins"].append(("admin", DEMO_PASSWORD, "staff: the Django admin at /admin/"))
