"""SQL the ORM writes once (apps.core.sql) gives what the ORM gives: the same rows and the
same instances for any arguments, a JSON row whose names are in the SQL, and no name that
could break out of it."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.db.models.functions import JSONObject

from apps.core import sql
from apps.teams.models import Membership, Team

pytestmark = pytest.mark.django_db


def _members(team_id: int, joined_before: datetime, role: str):
    return (
        Membership.objects.filter(team_id=team_id, created_at__lt=joined_before, role=role)
        .order_by("pk")
        .values_list("user_id", "role")
    )


def test_a_query_compiled_once_answers_for_any_arguments(provider_lead, requester):
    later = datetime.now(UTC) + timedelta(days=1)
    for membership in Membership.objects.all():
        for before in (later, datetime(2000, 1, 1, tzinfo=UTC)):
            args = [membership.team_id, before, membership.role]
            assert sql.fetch("test:members", _members, args) == list(_members(*args))


def _team(pk: int):
    return Team.objects.filter(pk=pk).annotate(
        as_row=sql.JSONRow(id=F("id"), name=F("name"), slug=F("slug")),
        as_object=JSONObject(id=F("id"), name=F("name"), slug=F("slug")),
    )


def test_instances_are_loaded_as_the_orm_loads_them(provider_team, requesting_team):
    for team in (provider_team, requesting_team):
        [fetched] = sql.fetch_instances("test:team", _team, [team.pk])
        [loaded] = _team(team.pk)
        fields = [f.attname for f in Team._meta.concrete_fields]
        assert [getattr(fetched, f) for f in fields] == [getattr(loaded, f) for f in fields]
        assert (
            fetched.as_row
            == fetched.as_object
            == {
                "id": team.pk,
                "name": team.name,
                "slug": team.slug,
            }
        )
    assert sql.fetch_instances("test:team", _team, [10**9]) == []


@pytest.mark.parametrize("name", ["a'b", "x) || (SELECT 1", "", "1st"])
def test_a_json_row_takes_column_names_only(name):
    with pytest.raises(ValueError, match="not a column name"):
        sql.JSONRow(**{name: F("id")})


@pytest.mark.skipif(connection.vendor != "postgresql", reason="to_jsonb: PostgreSQL")
def test_a_whole_row_is_every_column_named_by_its_field(provider_team):
    every = {f.attname: F(f.attname) for f in Team._meta.concrete_fields}
    whole = Team.objects.filter(pk=provider_team.pk).order_by()
    [(row, fields)] = whole.values_list(sql.WholeRow(Team), sql.JSONRow(**every))
    assert row == fields
    assert row["slug"] == provider_team.slug


def _joined_a_day_before(team_id: int, moment: datetime):
    return Membership.objects.filter(team_id=team_id, created_at__lt=moment - timedelta(days=1))


def _role_in_capitals(team_id: int, role: str):
    return Membership.objects.filter(team_id=team_id, role=role.upper())


def _first(team_id: int, how_many: int):
    return Membership.objects.filter(team_id=team_id).order_by("pk")[:how_many]


def test_an_argument_not_passed_on_as_it_is_cannot_be_compiled_once(provider_team):
    """A moment or a text turned into another (a day before, in capitals) or a number
    written into the SQL (a slice's LIMIT, which takes no stand-in) would be kept as the
    first call's value: refused, not compiled."""
    later = datetime.now(UTC)
    with pytest.raises(sql.NotCompilable):
        sql.fetch("test:derived", _joined_a_day_before, [provider_team.pk, later])
    with pytest.raises(sql.NotCompilable):
        sql.fetch("test:capitals", _role_in_capitals, [provider_team.pk, "lead"])
    with pytest.raises(ValueError, match="Negative indexing"):
        sql.fetch("test:limit", _first, [provider_team.pk, 3])


def test_values_are_read_as_the_orm_reads_them(provider_lead, requester):
    def build(team_id: int):
        return Membership.objects.filter(team_id=team_id).values(
            "user_id", "created_at", "team__name", joined=F("created_at")
        )

    for membership in Membership.objects.all():
        fetched = sql.fetch_values("test:values", build, [membership.team_id])
        assert fetched == list(build(membership.team_id))
        assert fetched[0]["created_at"].tzinfo is not None
