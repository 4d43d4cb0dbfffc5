"""Engineers working Engineering's inbound queue, as the browser does it.

Each simulated user signs in as one of the Engineering team's demo people (round robin)
and then, with a pause of LOAD_WAIT_MIN..LOAD_WAIT_MAX seconds between actions:

- browses the queue: a tab (All open, Mine, Unassigned, Waiting, At risk, Breached,
  Everything), its first page, then maybe the next pages or a page further on;
- opens a handoff from the page it last saw;
- acknowledges a new handoff: lists new unassigned work on a random early page, picks one
  row at random and posts the one-click htmx acknowledge (CSRF token from the page's form,
  `HX-Request` headers), as the queue's button does. Users pick different rows mostly; when
  two race for the same one, the loser's row says "Already acknowledged by …": counted as
  a conflict (the expected outcome), not an error.

Every request is recorded (kind, name, milliseconds, outcome) and written as JSON to
LOAD_SAMPLES when the test stops; bench/load/run.py prints the figures from it. Any
status other than the expected one, a page without its content, or a refused
acknowledgement other than the race is a failure (locust exits 1).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time

from locust import FastHttpUser, between, events, task

TEAM = os.environ.get("LOAD_TEAM", "engineering")
USERS = os.environ.get("LOAD_USERS", "erin,eli,emma").split(",")
PASSWORD = os.environ.get("LOAD_PASSWORD", "ola-demo")
QUEUE = f"/queues/{TEAM}/"
# Tabs of the inbound queue, weighted by how often a person looks at each.
TABS = {"open": 5, "mine": 3, "unassigned": 3, "at_risk": 2, "breached": 2, "waiting": 1, "all": 1}
# New, unassigned work: the rows with an Acknowledge button. Users spread over the first
# pages (50 rows each) so that they mostly pick different handoffs.
ACK_LIST = f"{QUEUE}?tab=unassigned&status=new"
ACK_PAGES = int(os.environ.get("LOAD_ACK_PAGES", 10))

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
ROW = re.compile(r'data-testid="queue-row" data-handoff="(\d+)"')
ACK_FORM = re.compile(r'action="/handoffs/(\d+)/acknowledge/"')
PAGES = re.compile(r"Page (\d+) of (\d+)")
_accounts = itertools.count()

SAMPLES: list[dict] = []
WINDOW: dict[str, float] = {}


@events.request.add_listener
def _record(request_type, name, response_time, response_length, exception, context, **kw):
    SAMPLES.append(
        {
            "kind": (context or {}).get("kind", "other"),
            "name": name,
            "ms": response_time,
            "outcome": (context or {}).get("outcome", "ok") if exception is None else "error",
            "error": "" if exception is None else str(exception)[:300],
        }
    )


@events.test_start.add_listener
def _started(environment, **kw):
    WINDOW["start"] = time.time()


@events.test_stop.add_listener
def _stopped(environment, **kw):
    WINDOW["stop"] = time.time()
    path = os.environ.get("LOAD_SAMPLES")
    if path:
        with open(path, "w") as out:
            json.dump({"window": WINDOW, "samples": SAMPLES}, out)


class Engineer(FastHttpUser):
    wait_time = between(
        float(os.environ.get("LOAD_WAIT_MIN", 1)), float(os.environ.get("LOAD_WAIT_MAX", 5))
    )

    def on_start(self) -> None:
        self.username = USERS[next(_accounts) % len(USERS)]
        self.rows: list[int] = []
        self.sign_in()

    # --- helpers ---------------------------------------------------------------------------

    def page(self, url: str, *, name: str, kind: str, expect: str) -> str | None:
        """GET a page; a failure unless it is 200 and contains `expect`."""
        with self.client.get(
            url, name=name, context={"kind": kind}, catch_response=True, allow_redirects=False
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code} for {url}")
                return None
            text = response.text or ""
            if expect not in text:
                response.failure(f"{url}: no {expect!r} in the page")
                return None
            return text

    def queue(self, query: str, *, name: str) -> str | None:
        text = self.page(
            f"{QUEUE}{query}", name=name, kind="queue page", expect='data-testid="tab-'
        )
        if text:
            self.rows = [int(pk) for pk in ROW.findall(text)] or self.rows
        return text

    # --- behaviour -------------------------------------------------------------------------

    def sign_in(self) -> None:
        login = f"/accounts/login/?next={QUEUE}"
        text = self.page(login, name="GET /accounts/login/", kind="sign in", expect="csrfmiddle")
        if text is None:
            return
        token = CSRF.search(text).group(1)
        with self.client.post(
            "/accounts/login/",
            data={
                "username": self.username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": token,
                "next": QUEUE,
            },
            headers={"Referer": self.host + login},
            name="POST /accounts/login/",
            context={"kind": "sign in"},
            catch_response=True,
            allow_redirects=False,
        ) as response:
            if response.status_code != 302 or response.headers.get("Location") != QUEUE:
                response.failure(f"sign-in as {self.username}: {response.status_code}")
                return
        self.queue("", name=f"GET {QUEUE}?tab=open[&page=N]")

    @task(5)
    def browse_queue(self) -> None:
        tab = random.choices(list(TABS), weights=list(TABS.values()))[0]
        name = f"GET {QUEUE}?tab={tab}[&page=N]"
        text = self.queue(f"?tab={tab}", name=name)
        found = PAGES.search(text or "")
        pages = int(found.group(2)) if found else 1
        if pages < 2 or random.random() < 0.4:
            return
        if random.random() < 0.7:  # read on, page by page
            for number in range(2, min(pages, random.randint(2, 4)) + 1):
                self.queue(f"?tab={tab}&page={number}", name=name)
        else:  # jump further down the list
            self.queue(f"?tab={tab}&page={random.randint(2, pages)}", name=name)

    @task(3)
    def open_handoff(self) -> None:
        if not self.rows:
            return
        pk = random.choice(self.rows)
        self.page(
            f"/handoffs/{pk}/", name="GET /handoffs/[id]/", kind="handoff page", expect="Timeline"
        )

    @task(2)
    def acknowledge(self) -> None:
        listing = f"{ACK_LIST}&page={random.randint(1, ACK_PAGES)}"
        text = self.queue(listing[len(QUEUE) :], name=f"GET {ACK_LIST}[&page=N]")
        if not text:
            return
        choices = ACK_FORM.findall(text)
        if not choices:
            return  # nothing new left on that page
        pk = random.choice(choices)
        token = CSRF.search(text).group(1)
        with self.client.post(
            f"/handoffs/{pk}/acknowledge/",
            data={"csrfmiddlewaretoken": token, "next": listing},
            headers={
                "HX-Request": "true",
                "HX-Current-URL": self.host + listing,
                "HX-Target": f"handoff-{pk}",
                "Referer": self.host + listing,
            },
            name="POST /handoffs/[id]/acknowledge/ (htmx)",
            context={"kind": "acknowledge"},
            catch_response=True,
            allow_redirects=False,
        ) as response:
            body = response.text or ""
            if response.status_code != 200:
                response.failure(f"acknowledge #{pk}: {response.status_code}")
            elif 'data-testid="row-notice"' in body and "acknowledged" in body:
                response.success()
            elif 'data-testid="row-error"' in body and "Already acknowledged" in body:
                # Another engineer got there first: the row says who. Expected, not an error.
                response.request_meta["name"] = "POST /handoffs/[id]/acknowledge/ (conflict)"
                response.request_meta["context"] = {"kind": "acknowledge", "outcome": "conflict"}
                response.success()
            else:
                error = re.search(r'data-testid="row-error"[^>]*>(.*?)</div>', body, re.S)
                reason = re.sub(r"<[^>]+>", "", error.group(1)).strip() if error else body[:200]
                response.failure(f"acknowledge #{pk} refused: {reason}")
