"""Which email a booking or a payment counts for (christmas_tasks/usecases/report/attribution.py), on ledgers built
through the use cases: sends, Resend's delivered, opened and clicked webhooks, Calendly's bookings, payments. The
rule: the last email the contact clicked in the 7 days before it, else the last one sent in them, else none."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from christmas_tasks.domain.catalogue import load_catalogue
from christmas_tasks.entrypoints.app import build_funnel
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES, Settings
from christmas_tasks.usecases.funnel import Funnel
from christmas_tasks.usecases.report import CampaignReport, read_report, render_summary
from christmas_tasks.usecases.report.attribution import BOOKING, Credit, Touch, attribute, best_email, credited
from christmas_tasks.usecases.report.model import EmailCounts
from tests.conftest import NOW
from tests.fakes.memory import InMemoryLedger, InMemoryMailer, handle
from tests.report.ledger import CAMPAIGN, DAY, MINUTE, NURTURE, H, body, engage

T = NOW
LATER = T + 12 * DAY


@pytest.fixture
def ledger() -> InMemoryLedger:
    return InMemoryLedger(SAMPLE_TEMPLATES)


@pytest.fixture
def funnel(ledger: InMemoryLedger) -> Funnel:
    return build_funnel(Settings.from_env({"TESTING_MODE": "true"}), ledger=ledger, mailer=InMemoryMailer())


def address(name: str) -> str:
    return f"{name}@example.com"


def start(funnel: Funnel, kind: str, name: str, at: datetime) -> str:
    """An event that starts a sequence (its sample body, for `name`), handled at `at`: the sequence's key."""
    handled = handle(funnel, kind, body(f"{kind}.json", address(name)), at)
    assert handled.sequence_key is not None
    return handled.sequence_key


def book(funnel: Funnel, name: str, at: datetime) -> None:
    handle(funnel, "booking", body("booking-calendly.json", address(name)), at)


def credits(ledger: InMemoryLedger, now: datetime = LATER) -> dict[str, tuple[tuple[str, int] | None, str | None]]:
    """Each contact's booking or payment: the (sequence, number) credited, and by what."""
    found = attribute(ledger.contacts.all_contacts(), ledger.sequences.campaign_sequences(CAMPAIGN), now)
    return {f"{c.contact.split('@')[0]} {c.outcome}": (c.email, c.by) for c in found}


def report_of(ledger: InMemoryLedger, now: datetime = LATER) -> CampaignReport:
    return read_report(ledger, campaign=CAMPAIGN, catalogue=load_catalogue(), now=now, source="memory")


def row(report: CampaignReport, name: str) -> EmailCounts:
    return next(r for r in report.emails if f"{r.sequence} #{r.number}" == name)


def test_a_click_wins_over_a_later_send(ledger: InMemoryLedger, funnel: Funnel) -> None:
    nurture = start(funnel, "assessment", "ann", T)  # email 1: the website's, at T
    funnel.send(nurture, 2, T + DAY)
    engage(funnel, address("ann"), NURTURE, 2, "clicked", T + 2 * DAY)
    funnel.send(nurture, 3, T + 3 * DAY)
    book(funnel, "ann", T + 3 * DAY + 2 * H)
    assert credits(ledger) == {"ann booking": (("5day", 2), "click")}
    report = report_of(ledger)
    assert (row(report, "5day #2").bookings, row(report, "5day #3").bookings) == (1, 0)
    assert (report.outcomes.bookings, report.outcomes.bookings_attributed) == (1, 1)


def test_an_open_without_a_click_credits_nothing_the_last_email_sent_counts(
    ledger: InMemoryLedger, funnel: Funnel
) -> None:
    for name in ("bob", "cy"):
        nurture = start(funnel, "assessment", name, T)
        funnel.send(nurture, 2, T + DAY)
        engage(funnel, address(name), NURTURE, 2, "opened", T + DAY + H)
    funnel.send(start(funnel, "assessment", "bob", T), 3, T + 3 * DAY)  # bob gets email 3, unopened
    book(funnel, "bob", T + 3 * DAY + 2 * H)
    book(funnel, "cy", T + 2 * DAY)  # the email cy opened is the last she was sent
    assert credits(ledger) == {"cy booking": (("5day", 2), "send"), "bob booking": (("5day", 3), "send")}
    report = report_of(ledger)
    assert (row(report, "5day #2").opened, row(report, "5day #2").clicked, row(report, "5day #2").bookings) == (2, 0, 1)
    assert row(report, "5day #3").bookings == 1


def test_a_booking_with_no_email_before_it_is_not_attributed(ledger: InMemoryLedger, funnel: Funnel) -> None:
    book(funnel, "dee", T)  # never emailed
    start(funnel, "assessment", "eli", T)  # the website's email 1 at T, then nothing: 8 days before the booking
    book(funnel, "eli", T + 8 * DAY)
    book(funnel, "flo", T + H)  # emailed only after the booking: a no-show's recovery
    funnel.send(start(funnel, "noshow", "flo", T + DAY), 1, T + DAY + 5 * MINUTE)
    assert credits(ledger) == {"dee booking": (None, None), "flo booking": (None, None), "eli booking": (None, None)}
    outcomes = report_of(ledger).outcomes
    assert (outcomes.bookings, outcomes.bookings_attributed, outcomes.bookings_to_no_email) == (3, 0, 3)
    assert outcomes.undated_bookings == 0, "each booking has its time, flo's (a no-show since) included"


def test_two_sequences_at_once_the_click_in_one_wins_over_a_later_send_in_the_other(
    ledger: InMemoryLedger, funnel: Funnel
) -> None:
    noshow = start(funnel, "noshow", "gil", T)
    funnel.send(noshow, 1, T + 10 * MINUTE)
    postcall = start(funnel, "postcall", "gil", T + H)  # a post-call follow-up does not stop the no-show's
    funnel.send(postcall, 1, T + 2 * H)
    engage(funnel, address("gil"), "noshow", 1, "clicked", T + DAY)
    funnel.send(postcall, 2, T + 3 * DAY)
    funnel.send(noshow, 2, T + 3 * DAY + H)
    assert {r.sequence: r.running for r in funnel.records(address("gil"))} == {"noshow": True, "postcall": True}
    book(funnel, "gil", T + 3 * DAY + 2 * H)
    assert credits(ledger) == {"gil booking": (("noshow", 1), "click")}
    # without the click, the last email sent (of either sequence) counts
    for key, record in ledger.sequences.records.items():
        ledger.sequences.records[key] = replace(record, emails={n: replace(e, engaged={}) for n, e in
                                                                 record.emails.items()})
    assert credits(ledger) == {"gil booking": (("noshow", 2), "send")}


def test_a_click_older_than_seven_days_is_ignored(ledger: InMemoryLedger, funnel: Funnel) -> None:
    nurture = start(funnel, "assessment", "hana", T)
    funnel.send(nurture, 2, T + DAY)
    engage(funnel, address("hana"), NURTURE, 2, "clicked", T + DAY + H)
    funnel.send(nurture, 3, T + 6 * DAY)
    book(funnel, "hana", T + 8 * DAY + 2 * H)  # the click was 7 days and 1 hour before
    assert credits(ledger) == {"hana booking": (("5day", 3), "send")}


def test_a_payment_counts_for_the_email_that_brought_it_not_the_onboarding_that_follows(
    ledger: InMemoryLedger, funnel: Funnel
) -> None:
    noshow = start(funnel, "noshow", "ivy", T)
    funnel.send(noshow, 1, T + 10 * MINUTE)
    engage(funnel, address("ivy"), "noshow", 1, "clicked", T + H)
    funnel.send(noshow, 2, T + DAY)
    onboarding = start(funnel, "onboarding", "ivy", T + 2 * DAY)  # the payment: its record's created_at
    funnel.send(onboarding, 1, T + 2 * DAY + H)
    assert credits(ledger) == {"ivy payment": (("noshow", 1), "click")}
    report = report_of(ledger)
    assert (row(report, "noshow #1").payments, row(report, "onboarding #1").payments) == (1, 0)
    outcomes = report.outcomes
    assert (outcomes.payments, outcomes.payments_attributed, outcomes.bookings) == (1, 1, 0)
    assert outcomes.undated_bookings == 1, "paying makes ivy a client (booked) with no booking time"
    assert [(c.segment, c.assessed, c.booked, c.paid) for c in report.conversion][-1] == ("(none)", 1, 1, 1)


def touch(sequence: str, number: int, sent: timedelta, clicked: timedelta | None = None) -> Touch:
    return Touch(sequence, number, T + sent, T + clicked if clicked is not None else None)


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ([touch("5day", 1, timedelta(0))], (("5day", 1), "send")),  # exactly 7 days before: in the window
        ([touch("5day", 1, -MINUTE)], None),  # a minute more: out
        ([touch("5day", 1, -DAY, clicked=timedelta(0))], (("5day", 1), "click")),  # an old email clicked in it
        ([touch("5day", 2, 7 * DAY)], (("5day", 2), "send")),  # sent at the booking's instant
        ([touch("5day", 2, 7 * DAY + MINUTE)], None),  # sent after it
        ([touch("5day", 2, DAY, clicked=7 * DAY + MINUTE), touch("5day", 3, 2 * DAY)], (("5day", 3), "send")),
        ([touch("noshow", 1, DAY, clicked=2 * DAY), touch("postcall", 1, DAY, clicked=3 * DAY),
          touch("postcall", 2, 6 * DAY)], (("postcall", 1), "click")),
    ],
)
def test_the_window_is_the_7_days_up_to_the_booking(sent: list[Touch], expected: object) -> None:
    assert credited(T + 7 * DAY, sent) == expected


def test_a_booking_after_the_reports_clock_waits(ledger: InMemoryLedger, funnel: Funnel) -> None:
    start(funnel, "assessment", "jo", T)
    book(funnel, "jo", T + DAY)
    assert credits(ledger, now=T + DAY - MINUTE) == {}
    assert credits(ledger, now=T + DAY) == {"jo booking": (("5day", 1), "send")}


def test_the_best_email_of_the_day(ledger: InMemoryLedger, funnel: Funnel) -> None:
    for name in ("kim", "lou", "max"):
        nurture = start(funnel, "assessment", name, T)
        funnel.send(nurture, 2, T + DAY)
    engage(funnel, address("kim"), NURTURE, 2, "clicked", T + DAY + H)
    book(funnel, "kim", T + 2 * DAY)  # email 2, clicked
    book(funnel, "lou", T + 2 * DAY + H)  # email 2, the last sent
    summary = render_summary(report_of(ledger, now=T + 2 * DAY + 2 * H))
    assert "Best email of the day: 5day #2 (5-Day E2), 2 bookings of the 2 in the last 24 hours, click rate 33.3%" in (
        summary
    )
    assert "Bookings in all: 2 (2 after an email)" in summary
    assert "Best email of the day: none (no booking in the last 24 hours)" in render_summary(
        report_of(ledger, now=T + 4 * DAY)
    )
    book(funnel, "nat", T + 5 * DAY)  # never emailed
    assert ("Best email of the day: none (1 booking in the last 24 hours, none after an email of this campaign)"
            in render_summary(report_of(ledger, now=T + 5 * DAY + H)))


def test_a_tie_goes_to_the_higher_click_rate_then_the_earlier_email() -> None:
    rows = [
        EmailCounts("5day", 1, "(sent by the website)", sent=10, skipped=0, failed=0, clicked=1),
        EmailCounts("5day", 2, "5-Day E2", sent=10, skipped=0, failed=0, clicked=3),
        EmailCounts("noshow", 1, "noshow_recovery_email_1", sent=10, skipped=0, failed=0, clicked=3),
    ]
    def bookings(*emails: tuple[str, int]) -> list[Credit]:
        return [Credit(f"c{n}@example.com", BOOKING, T, email) for n, email in enumerate(emails)]

    best = best_email(bookings(("5day", 1), ("noshow", 1)), rows)
    assert best is not None and (best.sequence, best.number, best.click_rate) == ("noshow", 1, 0.3)
    best = best_email(bookings(("noshow", 1), ("5day", 2)), rows)
    assert best is not None and (best.sequence, best.number) == ("5day", 2), "same rate: the earlier email"
    best = best_email(bookings(("5day", 1), ("5day", 1), ("5day", 2)), rows)
    assert best is not None and (best.sequence, best.number, best.bookings) == ("5day", 1, 2), "most bookings first"
    assert best_email([Credit("x@example.com", BOOKING, T, None)], rows) is None
