"""Page objects of the browser tests. Every selector lives here, as a role, a label or a text pattern
(never a CSS class of a build), so a change of wording on a page is a one-line edit in this file.

- `EmailView`: an email rendered by the package, opened with page.set_content, offline but for the one origin
  it may be told to reach (the suite's own engine, to follow a real unsubscribe link).
- `ReportView`: the campaign report's HTML file (christmas-tasks report --format html), opened offline.
- `KestraUi`: the Kestra web UI (basic-auth login form, flows of a namespace, one execution).
- `FunnelSite`: the website's Christmas funnel at /en/flows/businessX/dfu/xmas-a01 (seed note
  000_3b3c8fb21b293027.txt): an opt-in form (first name, email, business), then the assessment of the
  business's systems, then the results with the booking call. The website is not in this repository:
  the patterns below are written against that description and are the place to adjust them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from playwright.sync_api import Locator, Page, Route, expect

# --------------------------------------------------------------------------------------- the report


@dataclass
class ReportView:
    """The campaign report opened from its file with nothing reachable: every request it would make is recorded
    and refused (a self-contained file makes none)."""

    page: Page
    requested: list[str] = field(default_factory=list)

    def open(self, html: str) -> None:
        self.page.route("**/*", self._refuse)
        self.page.set_content(html, wait_until="load")

    def _refuse(self, route: Route) -> None:
        self.requested.append(route.request.url)
        route.abort()

    def chart(self, name: str) -> Locator:
        return self.page.get_by_role("img", name=name)

    def bars(self, chart: str) -> Locator:
        return self.chart(chart).locator("rect[data-count]")

    def bar(self, chart: str, label: str) -> Locator:
        return self.chart(chart).locator(f'rect[data-label="{label}"]')

    def tile(self, name: str) -> Locator:
        return self.page.locator(f'[data-tile="{name}"] b')

    def table_row(self, table: str, first_cell: str) -> list[str]:
        row = self.page.locator(f"table#{table} tbody tr").filter(has=self.page.get_by_role("cell", name=first_cell,
                                                                                            exact=True))
        return [cell.strip() for cell in row.first.locator("td").all_inner_texts()]


# --------------------------------------------------------------------------------------- emails

UNSUBSCRIBE_LINK = re.compile(r"unsubscribe", re.I)
LANDING_PAGE = "<!doctype html><title>opened</title><p>link opened</p>"


@dataclass
class EmailView:
    """One rendered email in the browser. No request leaves the browser: a followed link gets a stub
    page, anything else (images, fonts) is refused, and every requested URL is recorded. A link to `reachable` (an
    origin: the local engine of the suite) is really followed."""

    page: Page
    requested: list[str] = field(default_factory=list)
    reachable: str | None = None

    def open(self, html: str) -> None:
        self.page.route("**/*", self._answer)
        self.page.set_content(html, wait_until="load")
        self.page.wait_for_timeout(100)  # let any (wrongly) injected handler fire before it is checked

    def _answer(self, route: Route) -> None:
        self.requested.append(route.request.url)
        if self.reachable and route.request.url.startswith(self.reachable + "/"):
            route.continue_()
        elif route.request.is_navigation_request():
            route.fulfill(status=200, content_type="text/html", body=LANDING_PAGE)
        else:
            route.abort()

    def text(self) -> str:
        return self.page.inner_text("body")

    def showing(self, text: str) -> Locator:
        return self.page.get_by_text(text, exact=False).first

    def unsubscribe_link(self) -> Locator:
        return self.page.get_by_role("link", name=UNSUBSCRIBE_LINK)

    def hrefs(self) -> list[str]:
        return list(self.page.eval_on_selector_all("a", "links => links.map(a => a.getAttribute('href'))"))

    def script_ran(self) -> bool:
        """True when markup of a value ran: the probes set window.__pwned."""
        return bool(self.page.evaluate("typeof window.__pwned !== 'undefined'"))

    def follow(self, link: Locator) -> None:
        """Click `link` as a reader would, and wait for the page it opens."""
        with self.page.expect_navigation():
            link.click()


# --------------------------------------------------------------------------------------- Kestra UI

KESTRA_LOGIN_USER = re.compile(r"e-?mail|user", re.I)  # the login form's placeholders (Email, Password)
KESTRA_LOGIN_PASSWORD = re.compile(r"password", re.I)
KESTRA_LOGIN_BUTTON = re.compile(r"^\s*(log ?in|sign ?in)\s*$", re.I)
KESTRA_SUCCESS = re.compile(r"^\s*success\s*$", re.I)


@dataclass
class KestraUi:
    page: Page
    base_url: str
    username: str
    password: str
    tenant: str = "main"

    def url(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}/ui/{self.tenant}/{path.lstrip('/')}"

    def open(self, path: str) -> None:
        """Open a UI page, logging in first when the UI asks for it."""
        self.page.goto(self.url(path))
        self.page.wait_for_load_state("networkidle")
        password = self.page.get_by_placeholder(KESTRA_LOGIN_PASSWORD)
        if password.count():
            self.page.get_by_placeholder(KESTRA_LOGIN_USER).first.fill(self.username)
            password.first.fill(self.password)
            self.page.get_by_role("button", name=KESTRA_LOGIN_BUTTON).click()
            expect(password.first).to_be_hidden(timeout=30_000)
            self.page.goto(self.url(path))
            self.page.wait_for_load_state("networkidle")

    def open_flows(self, namespace: str) -> None:
        self.open(f"flows?namespace={namespace}")

    def flow(self, flow_id: str) -> Locator:
        return self.page.get_by_role("link", name=flow_id, exact=True).or_(
            self.page.get_by_text(flow_id, exact=True)
        ).first

    def open_execution(self, namespace: str, flow_id: str, execution_id: str) -> None:
        self.open(f"executions/{namespace}/{flow_id}/{execution_id}")

    def state(self) -> Locator:
        return self.page.get_by_text(KESTRA_SUCCESS).first


# --------------------------------------------------------------------------------------- the website

FIELD_FIRST_NAME = re.compile(r"first ?name|your name|^name", re.I)
FIELD_EMAIL = re.compile(r"e-?mail", re.I)
FIELD_BUSINESS = re.compile(r"business|salon|company", re.I)
BUTTON_SIGN_UP = re.compile(r"start|begin|get started|sign me up|sign up|join|continue|submit", re.I)
BUTTON_NEXT = re.compile(r"^\s*(next|continue)\b", re.I)
BUTTON_SEE_RESULTS = re.compile(r"results|finish|submit|complete", re.I)
# The answer that marks a system red (broken); when none matches, the first option of a question is taken.
ANSWER_WORST = re.compile(r"\bred\b|never|not at all|no system|nothing|broken|chaos|crisis|rarely", re.I)
SIGNED_UP = re.compile(r"thank|check your (e-?mail|inbox)|you'?re in|welcome|let'?s (start|begin)", re.I)
RESULTS = re.compile(r"your (results|score)|readiness|zone", re.I)
RESULT_CRITICAL = re.compile(r"critical|crisis zone", re.I)
BOOK_A_CALL = re.compile(r"book|schedule|reserve", re.I)


@dataclass
class FunnelSite:
    page: Page
    url: str
    max_steps: int = 40

    def open(self) -> None:
        self.page.goto(self.url)
        self.page.wait_for_load_state("domcontentloaded")

    def sign_up(self, first_name: str, email: str, business: str) -> None:
        """The opt-in form: the website records the signup (and sends its own confirmation)."""
        self.page.get_by_label(FIELD_FIRST_NAME).or_(self.page.get_by_placeholder(FIELD_FIRST_NAME)).first.fill(
            first_name
        )
        self.page.get_by_label(FIELD_EMAIL).or_(self.page.get_by_placeholder(FIELD_EMAIL)).first.fill(email)
        business_field = self.page.get_by_label(FIELD_BUSINESS).or_(self.page.get_by_placeholder(FIELD_BUSINESS))
        if business_field.count():
            business_field.first.fill(business)
        self.page.get_by_role("button", name=BUTTON_SIGN_UP).first.click()

    def signed_up(self) -> Locator:
        return self.page.get_by_text(SIGNED_UP).first

    def results(self) -> Locator:
        return self.page.get_by_text(RESULTS).first

    def _answer_worst(self) -> bool:
        """Pick the worst answer of every question on the page; False when there is none."""
        groups = self.page.get_by_role("radiogroup")
        answered = False
        for index in range(groups.count()):
            group = groups.nth(index)
            worst = group.get_by_role("radio", name=ANSWER_WORST)
            (worst.first if worst.count() else group.get_by_role("radio").first).check()
            answered = True
        if not answered:
            radios = self.page.get_by_role("radio")
            if radios.count():
                worst = self.page.get_by_role("radio", name=ANSWER_WORST)
                (worst.first if worst.count() else radios.first).check()
                answered = True
        if not answered:
            buttons = self.page.get_by_role("button", name=ANSWER_WORST)
            if buttons.count():
                buttons.first.click()
                answered = True
        return answered

    def answer_as_critical(self) -> None:
        """Answer every question with its worst option (every system red: a CRITICAL lead), page by page,
        until the results show."""
        for _ in range(self.max_steps):
            if self.results().is_visible():
                return
            self._answer_worst()
            finish = self.page.get_by_role("button", name=BUTTON_SEE_RESULTS)
            step = self.page.get_by_role("button", name=BUTTON_NEXT)
            if finish.count() and finish.first.is_enabled():
                finish.first.click()
            elif step.count() and step.first.is_enabled():
                step.first.click()
            self.page.wait_for_timeout(300)
        expect(self.results()).to_be_visible()

    def critical_result(self) -> Locator:
        return self.page.get_by_text(RESULT_CRITICAL).first

    def booking_call(self) -> Locator:
        link = self.page.get_by_role("link", name=BOOK_A_CALL)
        return link.or_(self.page.get_by_role("button", name=BOOK_A_CALL)).first
