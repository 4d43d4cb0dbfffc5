"""What the fast queue and detail pages keep true: an agreement version's parts kept per
process are never a draft's and never stale, a long queue is counted only up to a cap yet
every page (and the last) holds the right rows, a row escapes what people typed, and the
detail page reads the viewer's roles with the handoff."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.agreements import cache as version_cache
from apps.agreements import services as agreement_services
from apps.agreements.models import Agreement, Status
from apps.handoffs import selectors, services
from apps.handoffs.filters import REQUEST_VIEWS
from apps.handoffs.models import Handoff
from apps.handoffs.selectors import pages
from apps.handoffs.views import queues
from tests.factories import standard_steps, standard_targets, standard_triage
from tests.helpers import MONDAY_10, TRIAGE

pytestmark = pytest.mark.django_db

QUEUE = "/queues/engineering/"


def rows(response) -> list[int]:
    return [row["handoff"].pk for row in response.context["rows"]]


def targets_of(agreement_id: int) -> dict:
    """The P3 acknowledge target a page would read, through the cache, on a fresh row."""
    fresh = Agreement.objects.get(pk=agreement_id)
    version_cache.prime([fresh])
    return {t.priority: t.acknowledge_seconds for t in fresh.targets.all()}


def test_a_draft_is_never_kept_and_its_activated_version_is_read_afresh(
    requesting_team, provider_team, requester_lead, provider_lead, django_assert_num_queries
):
    draft = agreement_services.agreement_create_draft(
        actor=requester_lead,
        provider_team=provider_team,
        requesting_team=requesting_team,
        title="Escalations",
        targets=standard_targets(),
        triage_fields=standard_triage(),
        steps=standard_steps(),
    )
    assert targets_of(draft.pk)["P3"] == 8 * 3600
    assert not version_cache.kept(draft.pk)

    # The draft is edited after a page read it: the next read shows the edit.
    changed = [
        {**t, "acknowledge_seconds": 4 * 3600} if t["priority"] == "P3" else t
        for t in standard_targets()
    ]
    agreement_services.agreement_update_draft(
        agreement=draft, actor=requester_lead, targets=changed
    )
    assert targets_of(draft.pk)["P3"] == 4 * 3600
    assert not version_cache.kept(draft.pk)

    agreement_services.agreement_submit(agreement=draft, actor=requester_lead)
    assert targets_of(draft.pk)["P3"] == 4 * 3600
    assert not version_cache.kept(draft.pk)  # in review: still not kept

    agreement_services.agreement_approve(agreement=draft, actor=requester_lead)
    agreement_services.agreement_approve(agreement=draft, actor=provider_lead)
    assert Agreement.objects.get(pk=draft.pk).status == Status.ACTIVE
    assert targets_of(draft.pk)["P3"] == 4 * 3600
    assert version_cache.kept(draft.pk)
    # Kept: the next page reads the active version's parts with no query.
    active = Agreement.objects.get(pk=draft.pk)
    with django_assert_num_queries(0):
        version_cache.prime([active])
        assert [f.key for f in active.triage_fields.all()] == [f["key"] for f in standard_triage()]

    # Its amendment is a new draft (a new id): read from the database, not kept.
    amendment = agreement_services.agreement_amend(agreement=draft, actor=provider_lead)
    agreement_services.agreement_update_draft(
        agreement=amendment, actor=provider_lead, targets=standard_targets()
    )
    assert targets_of(amendment.pk)["P3"] == 8 * 3600
    assert not version_cache.kept(amendment.pk)
    assert targets_of(draft.pk)["P3"] == 4 * 3600


def test_the_detail_page_shows_the_activated_versions_targets(client, provider_lead, file_handoff):
    handoff = file_handoff("P3")
    client.force_login(provider_lead)
    first = client.get(handoff.get_absolute_url())
    assert first.status_code == 200
    # A second view reads the kept parts: the same page.
    second = client.get(handoff.get_absolute_url())
    assert second.context["triage"] == first.context["triage"]
    assert [r.clock.target_seconds for r in second.context["readings"]] == [
        r.clock.target_seconds for r in first.context["readings"]
    ]
    assert version_cache.kept(handoff.agreement_id)


def test_the_detail_page_reads_the_viewers_roles_with_the_handoff(
    client, provider_lead, requester, outsider, file_handoff
):
    handoff = file_handoff("P3")
    for person, may, may_not in (
        (provider_lead, "acknowledge", "reopen"),
        (requester, "cancel", "acknowledge"),
    ):
        client.force_login(person)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(handoff.get_absolute_url())
        assert response.status_code == 200
        assert may in response.context["actions"]
        assert may_not not in response.context["actions"]
        # No membership query of its own: the roles are columns of the handoff's query.
        standalone = [
            q["sql"]
            for q in captured.captured_queries
            if q["sql"].startswith('SELECT "teams_membership"')
        ]
        assert standalone == []
    client.force_login(outsider)
    assert client.get(handoff.get_absolute_url()).status_code == 404


def _detail_statements() -> dict[str, int]:
    """The detail query's prepared statements on this connection, with how often each ran."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE %s AND statement LIKE %s",
            ['SELECT "handoffs_handoff"."id"%', '%"viewer_provider_role"%'],
        )
        return dict(cursor.fetchall())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements: PostgreSQL")
def test_the_detail_query_is_prepared_once_for_every_viewer_and_handoff(
    client, provider_lead, requester, outsider, file_handoff, settings
):
    settings.DATABASE_PREPARE = True
    first, second = file_handoff("P3"), file_handoff("P2")
    before = _detail_statements()
    for person, handoff in ((provider_lead, first), (requester, second), (provider_lead, second)):
        client.force_login(person)
        response = client.get(handoff.get_absolute_url())
        assert response.status_code == 200
        assert response.context["handoff"].pk == handoff.pk
        assert response.context["handoff"].title == handoff.title
    ran = {
        text: count - before.get(text, 0)
        for text, count in _detail_statements().items()
        if count != before.get(text, 0)
    }
    # One statement, parameters bound on the server: the same plan for every member.
    assert list(ran.values()) == [3]
    client.force_login(outsider)
    assert client.get(first.get_absolute_url()).status_code == 404
    assert client.get("/handoffs/99999999999999999999/").status_code == 404


@pytest.fixture
def long_queue(monkeypatch, file_handoff, time_machine):
    """Nine handoffs in Engineering's queue, two a page, counted up to five."""
    monkeypatch.setattr(pages, "COUNT_CAP", 5)
    monkeypatch.setattr(queues, "PER_PAGE", 2)
    made = [
        file_handoff(("P1", "P2", "P3", "P4")[n % 4], at=MONDAY_10 + timedelta(minutes=n))
        for n in range(9)
    ]
    time_machine.move_to(MONDAY_10 + timedelta(hours=1), tick=False)
    return made


def test_a_long_queue_says_more_than_the_cap_and_every_page_holds_its_rows(
    client, provider_member, long_queue
):
    client.force_login(provider_member)
    expected = list(
        Handoff.objects.filter(pk__in=[h.pk for h in long_queue])
        .order_by(*selectors.QUEUE_ORDER)
        .values_list("pk", flat=True)
    )
    first = client.get(QUEUE)
    html = first.content.decode()
    assert "More than 5 handoffs" in html
    assert first.context["page_obj"].capped
    assert 'data-testid="next-page"' in html and "page=last" in html
    pages = [rows(first)]
    for number in (2, 3, 4, 5):
        response = client.get(QUEUE, {"page": number})
        pages.append(rows(response))
    # Pages 3-5 lie past the cap: counted exactly, the later ones read from the end.
    assert [pk for page in pages for pk in page] == expected
    last = client.get(QUEUE, {"page": "last"})
    assert rows(last) == expected[8:]
    assert "Page 5 of 5" in last.content.decode()
    assert "9 handoffs" in last.content.decode()
    assert rows(client.get(QUEUE, {"page": 999_999})) == expected[8:]
    assert rows(client.get(QUEUE, {"page": "x"})) == expected[:2]


def test_a_short_queue_is_counted_exactly(client, provider_member, file_handoff, time_machine):
    for minute in range(3):
        file_handoff("P3", at=MONDAY_10 + timedelta(minutes=minute))
    time_machine.move_to(MONDAY_10 + timedelta(hours=1), tick=False)
    client.force_login(provider_member)
    response = client.get(QUEUE)
    assert not response.context["page_obj"].capped
    assert "3 handoffs, soonest due first" in response.content.decode()


def test_a_row_escapes_what_people_typed(
    client, provider_member, requester, agreement, time_machine
):
    handoff = services.handoff_create(
        actor=requester,
        agreement=agreement,
        title='<script>alert("x")</script> & "quotes"',
        priority="P3",
        triage=TRIAGE,
        now=MONDAY_10,
    )
    time_machine.move_to(MONDAY_10 + timedelta(minutes=5), tick=False)
    client.force_login(provider_member)
    html = client.get(QUEUE).content.decode()
    row = html.split(f'data-handoff="{handoff.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "<script>" not in row
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;" in row
    assert f'href="/handoffs/{handoff.pk}/"' in row
    assert f'hx-post="/handoffs/{handoff.pk}/acknowledge/"' in row


def _shown(client, url: str, query: dict) -> tuple[list[int], str]:
    response = client.get(url, query)
    assert response.status_code == 200
    count = response.content.decode().split('data-testid="queue-count">', 1)[1].split(",")[0]
    return rows(response), count


def test_each_tab_compiled_once_shows_what_its_filters_show_to_anyone_at_any_moment(
    client,
    file_handoff,
    agreement,
    requester_lead,
    provider_member,
    provider_lead,
    requester,
    staff,
    time_machine,
):
    """A tab with nothing but its presets is read by a query compiled once per process,
    with the reader, the team and the moment as its parameters; the same tab with any
    filter added (an empty search) is built by the FilterSet on each request. Both show
    the same rows and count, for every tab, reader and moment: a reader's id, a team's id
    or a moment written into the compiled query would show one reader another's rows."""
    first = file_handoff("P1", at=MONDAY_10)
    second = file_handoff("P3", at=MONDAY_10 + timedelta(minutes=1))
    services.handoff_claim(handoff=second, actor=provider_member, now=MONDAY_10)
    third = file_handoff("P2", at=MONDAY_10 + timedelta(minutes=2))
    third = services.handoff_claim(handoff=third, actor=provider_lead, now=MONDAY_10)
    third = services.handoff_acknowledge(handoff=third, actor=provider_lead, now=MONDAY_10)
    services.handoff_wait_on_requester(
        handoff=third, actor=provider_lead, question="Which tenant?", now=MONDAY_10
    )
    fourth = services.handoff_create(
        actor=requester_lead,
        agreement=agreement,
        title="Invoices",
        priority="P4",
        triage=TRIAGE,
        now=MONDAY_10,
    )
    fourth = services.handoff_claim(handoff=fourth, actor=provider_member, now=MONDAY_10)
    fourth = services.handoff_acknowledge(handoff=fourth, actor=provider_member, now=MONDAY_10)
    services.handoff_resolve(
        handoff=fourth, actor=provider_member, resolution="Fixed", now=MONDAY_10
    )
    readers = [
        (provider_member, "/queues/engineering/", queues.INBOUND_TABS, [""]),
        (provider_lead, "/queues/engineering/", queues.INBOUND_TABS, [""]),
        (staff, "/queues/engineering/", queues.INBOUND_TABS, [""]),
        (requester, "/queues/support/outgoing/", queues.OUTGOING_TABS, list(REQUEST_VIEWS)),
        (requester_lead, "/queues/support/outgoing/", queues.OUTGOING_TABS, list(REQUEST_VIEWS)),
        (staff, "/queues/support/outgoing/", queues.OUTGOING_TABS, list(REQUEST_VIEWS)),
    ]
    seen = {}
    # Before P1's acknowledgement is due, nearly due, and long after.
    for moment in (MONDAY_10, MONDAY_10 + timedelta(minutes=25), MONDAY_10 + timedelta(hours=30)):
        time_machine.move_to(moment, tick=False)
        for reader, url, tabs, views in readers:
            client.force_login(reader)
            for tab in tabs:
                for show in views if tab == "requests" else [""]:
                    query = {"tab": tab, "show": show} if show else {"tab": tab}
                    compiled = _shown(client, url, query)
                    assert compiled == _shown(client, url, {**query, "q": ""}), (
                        reader.username,
                        url,
                        query,
                        moment,
                    )
                    seen[(reader.username, url, tab, show, moment)] = compiled[0]
    # The cases differ where they must, so the comparison could catch a baked-in value.
    inbound = "/queues/engineering/"
    assert seen[("max", inbound, "mine", "", MONDAY_10)] == [second.pk]
    assert seen[("lena", inbound, "mine", "", MONDAY_10)] == [third.pk]
    assert first.pk not in seen[("max", inbound, "breached", "", MONDAY_10)]
    assert seen[("max", inbound, "at_risk", "", MONDAY_10 + timedelta(minutes=25))] == [first.pk]
    assert first.pk in seen[("max", inbound, "breached", "", MONDAY_10 + timedelta(hours=30))]
    outgoing = "/queues/support/outgoing/"
    assert (
        seen[("rita", outgoing, "requests", "mine", MONDAY_10)]
        != (seen[("rob", outgoing, "requests", "mine", MONDAY_10)])
    )
    assert seen[("rob", outgoing, "resolved", "", MONDAY_10)] == [fourth.pk]


def _without_other_indexes(cursor, table: str, keep: tuple[str, ...]) -> None:
    """Drop (in the test's transaction) every index of `table` but its constraints' and
    `keep`, with sequential scans and generic plans as a last resort: a plan then reads
    a kept index where its predicate can be proved, and on a handful of rows the
    planner's choice among the others no longer depends on the statistics earlier tests
    left behind."""
    cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
    cursor.execute("SET LOCAL enable_seqscan = off")
    cursor.execute(
        "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "JOIN pg_class t ON t.oid = x.indrelid WHERE t.relname = %s "
        "AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
        [table],
    )
    for (name,) in cursor.fetchall():
        if name not in keep:
            cursor.execute(f'DROP INDEX "{name}"')


def _generic_plan(*patterns: str, without: str = "") -> tuple[str, str]:
    """The one prepared statement on this connection whose text is LIKE every pattern
    (and not LIKE `without`), and the plan of a copy of it under the session's settings
    (ids 1, times a moment of the test's Monday)."""
    where = " AND ".join(["statement LIKE %s"] * len(patterns))
    params = list(patterns)
    if without:
        where += " AND statement NOT LIKE %s"
        params.append(without)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement, parameter_types::text[] FROM pg_prepared_statements "  # noqa: S608
            f"WHERE {where}",
            params,
        )
        [(statement, types)] = cursor.fetchall()
        cursor.execute(f"PREPARE under_test AS {statement}")
        values = ["'2026-03-02 09:25+00'" if "timestamp" in t else "1" for t in types]
        cursor.execute(f"EXPLAIN EXECUTE under_test({', '.join(values)})")
        plan = "\n".join(line for (line,) in cursor.fetchall())
        cursor.execute("DEALLOCATE under_test")
    return statement, plan


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements: PostgreSQL")
def test_the_queue_query_is_prepared_with_a_plan_that_reads_the_open_work_indexes(
    client, provider_member, file_handoff, settings
):
    """A queue page's rows query is prepared, and its constants (the open statuses) are
    written into it, so that PostgreSQL's generic plan — one plan for every team and
    reader — can read the partial index on open handoffs: with the statuses as parameters
    no generic plan could (it read every handoff: 55 ms on 110,000)."""
    settings.DATABASE_PREPARE = True
    for n in range(3):
        file_handoff("P3", at=MONDAY_10 + timedelta(minutes=n))
    client.force_login(provider_member)
    with connection.cursor() as cursor:
        open_work = ("handoff_open_queue_idx", "handoff_open_outgoing_idx")
        _without_other_indexes(cursor, "handoffs_handoff", open_work)
    assert len(rows(client.get(QUEUE))) == 3
    statement, plan = _generic_plan('%"capped_count"%')
    assert "'in_progress'" in statement
    # A partial index on open work (the rows' or the count's) — none could serve a plan
    # whose statuses are parameters.
    assert "handoff_open_queue_idx" in plan or "handoff_open_outgoing_idx" in plan


@pytest.mark.skipif(connection.vendor != "postgresql", reason="query plans: PostgreSQL")
def test_the_everything_tab_reads_its_rows_in_order_from_an_index(
    client, provider_member, file_handoff, settings
):
    """The "Everything" tab (every status) reads a page in the queue's order from the team's index
    instead of sorting the team's whole history (150 ms at 110,000 handoffs)."""
    settings.DATABASE_PREPARE = True
    made = [file_handoff("P3", at=MONDAY_10 + timedelta(minutes=n)) for n in range(3)]
    client.force_login(provider_member)
    with connection.cursor() as cursor:
        _without_other_indexes(cursor, "handoffs_handoff", ("handoff_all_queue_idx",))
    assert rows(client.get(QUEUE, {"tab": "all"})) == [h.pk for h in made]
    _, plan = _generic_plan('%"capped_count"%', without="%'in_progress'%")
    assert "handoff_all_queue_idx" in plan


@pytest.mark.skipif(connection.vendor != "postgresql", reason="query plans: PostgreSQL")
def test_the_at_risk_tab_reads_the_clocks_past_their_warning_from_an_index(
    client, provider_member, file_handoff, settings, time_machine
):
    """The "At risk" tab starts from the running clocks whose warning has passed (an index on
    the warning moment), not from every running clock that has not yet breached."""
    settings.DATABASE_PREPARE = True
    risky = file_handoff("P1", at=MONDAY_10)
    file_handoff("P3", at=MONDAY_10)
    time_machine.move_to(MONDAY_10 + timedelta(minutes=25), tick=False)
    client.force_login(provider_member)
    with connection.cursor() as cursor:
        _without_other_indexes(cursor, "handoffs_clock", ("clock_warning_running_idx",))
    assert rows(client.get(QUEUE, {"tab": "at_risk"})) == [risky.pk]
    _, plan = _generic_plan('%"capped_count"%', '%"warning_at" <= %')
    assert "clock_warning_running_idx" in plan
