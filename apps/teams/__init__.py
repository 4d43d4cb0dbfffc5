"""Teams and memberships (lead | member), the escalation roles (manager, director, with
their fallback: Team.escalation_contacts), team pages and settings (webhook, email).
Public services: team_create, team_update, team_update_settings, membership_set,
membership_remove (services.py)."""
