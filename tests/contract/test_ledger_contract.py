"""One behaviour suite for every Ledger (ports.Ledger): SqliteLedger and NotionLedger must not drift apart.

Times are exact: every datetime passed in is a fixed aware UTC moment, and must come back equal.
The Notion variant replays cassettes/notion/contract-*.yaml.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from christmas_tasks.domain.errors import ChristmasError, InvalidInput, TemplateError
from christmas_tasks.domain.holdings import forget_mark
from christmas_tasks.domain.records import (
    AnalyticsEntry,
    CampaignState,
    ContactStatus,
    ContactUpdate,
    EmailLedger,
    EngagementMark,
    SentMark,
    SequenceRecord,
)
from christmas_tasks.domain.rendering import Template
from christmas_tasks.domain.vocabulary import Engagement
from christmas_tasks.usecases.ports import (
    CampaignStore,
    ContactStore,
    Ledger,
    SendLog,
    SequenceStore,
    TemplateStore,
)
from tests.fakes.cassettes import cassette_fixtures
from tests.fakes.fake_notion import CASSETTE_DIR
from tests.fakes.fake_notion import vcr_config as notion_vcr_config

T0 = datetime(2025, 12, 1, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)
BOOK = "https://example.com/book?utm_source=christmas&utm_content=5day-2"
CAMPAIGN = "Christmas 2025"
JANE = "jane@example.com"
FOOTER = "<p>Example Consulting, 123 Example Street, Toronto</p><p><a href=\"{{unsubscribe_url}}\">Unsubscribe</a></p>"


vcr_cassette_dir, vcr_config, default_cassette_name = cassette_fixtures(CASSETTE_DIR, notion_vcr_config, "contract-")


def record(
    email: str = JANE, sequence: str = "5day", event: str = "assessment", *, campaign: str = CAMPAIGN, **changes: Any
) -> SequenceRecord:
    slug = campaign.lower().replace(" ", "-")
    base = SequenceRecord(
        key=f"{slug}|{sequence}|{email}|{event}",
        email=email,
        campaign=campaign,
        sequence=sequence,
        event_id=event,
        first_name="Jane",
        anchor=T0,
        created_at=T0 + timedelta(seconds=7),
        business_name="Jane's Salon",
        segment="CRITICAL" if sequence == "5day" else None,
        variables={"red_systems": "2", "orange_systems": "1", "assessment_score": "42", "weakest_system_1": "Booking"},
        emails={1: EmailLedger(1, T0, "sent", None, "website")} if sequence == "5day" else {},
    )
    return replace(base, **changes)


# ---------------------------------------------------------------------- contacts


def test_a_new_contact_gets_the_fields_given_and_status_ok(ledger: Ledger) -> None:
    contact = ledger.contacts.upsert_contact(
        ContactUpdate(JANE, first_name="Jane", business_name="Jane's Salon", campaign_status="Signed Up")
    )
    assert (contact.email, contact.first_name, contact.business_name, contact.campaign_status) == (
        JANE, "Jane", "Jane's Salon", "Signed Up",
    )
    assert (contact.email_status, contact.booking_status, contact.segment) == ("ok", None, None)
    assert contact.assessment_score is None
    assert not contact.suppressed and contact.ref
    assert ledger.contacts.get_contact(JANE) == contact
    assert ledger.contacts.get_contact("nobody@example.com") is None


def test_an_update_writes_only_the_fields_that_are_not_none(ledger: Ledger) -> None:
    ledger.contacts.upsert_contact(
        ContactUpdate(JANE, first_name="Jane", business_name="Jane's Salon", campaign_status="Signed Up")
    )
    updated = ledger.contacts.upsert_contact(
        ContactUpdate(JANE, campaign_status="Nurture Sequence", segment="CRITICAL", assessment_score=72.5)
    )
    assert (updated.first_name, updated.business_name) == ("Jane", "Jane's Salon")  # left as they were
    assert (updated.campaign_status, updated.segment) == ("Nurture Sequence", "CRITICAL")
    assert updated.assessment_score == 72.5
    assert ledger.contacts.upsert_contact(ContactUpdate(JANE)) == updated  # nothing given, nothing changes
    suppressed = ledger.contacts.upsert_contact(
        ContactUpdate(JANE, email_status="unsubscribed", campaign_status="Unsubscribed")
    )
    assert suppressed.suppressed and suppressed.email_status == "unsubscribed" and suppressed.first_name == "Jane"
    assert ledger.contacts.get_contact(JANE) == suppressed


def test_the_contacts_time_zone_is_kept_until_an_event_says_another(ledger: Ledger) -> None:
    assert ledger.contacts.upsert_contact(ContactUpdate(JANE, first_name="Jane")).timezone is None
    zoned = ledger.contacts.upsert_contact(ContactUpdate(JANE, timezone="Asia/Tokyo"))
    assert zoned.timezone == "Asia/Tokyo" and zoned.first_name == "Jane"
    assert ledger.contacts.upsert_contact(ContactUpdate(JANE, campaign_status="Pre-Call Prep")).timezone == "Asia/Tokyo"
    assert ledger.contacts.upsert_contact(ContactUpdate(JANE, timezone="Europe/Paris")).timezone == "Europe/Paris"
    assert ledger.contacts.get_contact(JANE).timezone == "Europe/Paris"  # type: ignore[union-attr]


def test_the_time_a_call_was_booked_is_kept_until_another_booking(ledger: Ledger) -> None:
    assert ledger.contacts.upsert_contact(ContactUpdate(JANE, first_name="Jane")).booked_at is None
    booked = ledger.contacts.upsert_contact(
        ContactUpdate(JANE, booking_status="Booked", booked_call="call-1", booked_at=T0 + H)
    )
    assert (booked.booked_at, booked.booked_call, booked.first_name) == (T0 + H, "call-1", "Jane")
    assert ledger.contacts.upsert_contact(ContactUpdate(JANE, campaign_status="Pre-Call Prep")).booked_at == T0 + H, (
        "None leaves it"
    )
    rebooked = ledger.contacts.upsert_contact(ContactUpdate(JANE, booked_call="call-2", booked_at=T0 + 26 * H))
    assert rebooked.booked_at == T0 + 26 * H and ledger.contacts.get_contact(JANE) == rebooked
    new = ledger.contacts.upsert_contact(ContactUpdate("john@example.com", first_name="John", booked_at=T0))
    assert new.booked_at == T0, "a contact created with it"
    assert {c.email: c.booked_at for c in ledger.contacts.all_contacts()} == {JANE: T0 + 26 * H, new.email: T0}


# ---------------------------------------------------------------------- sequences


def test_a_created_sequence_comes_back_exactly(ledger: Ledger) -> None:
    given = record()
    stored, created = ledger.sequences.create_sequence(given)
    assert created and stored.ref
    assert stored == replace(given, ref=stored.ref)
    assert stored.emails[1] == EmailLedger(1, T0, "sent", None, "website") and stored.sent_numbers() == {1}
    assert ledger.sequences.find_sequence(JANE, CAMPAIGN, "5day", given.key) == stored


def test_create_sequence_is_idempotent(ledger: Ledger) -> None:
    first, created = ledger.sequences.create_sequence(record())
    again, created_again = ledger.sequences.create_sequence(
        record(first_name="Someone Else", variables={"changed": "yes"})
    )
    assert created is True and created_again is False
    assert again == first
    assert len(ledger.sequences.sequences_for(JANE, CAMPAIGN, "5day")) == 1


def test_find_sequence_matches_email_campaign_type_and_key(ledger: Ledger) -> None:
    target, _ = ledger.sequences.create_sequence(record())
    ledger.sequences.create_sequence(record(sequence="noshow", event="assessment"))  # another type, the same event id
    ledger.sequences.create_sequence(record(email="jane@example.co"))  # another email, a near-identical key
    ledger.sequences.create_sequence(record(campaign="Christmas 2024"))  # another campaign
    key = target.key
    assert ledger.sequences.find_sequence(JANE, CAMPAIGN, "5day", key) == target
    assert ledger.sequences.find_sequence(JANE, CAMPAIGN, "noshow", key) is None
    assert ledger.sequences.find_sequence("jane@example.co", CAMPAIGN, "5day", key) is None
    assert ledger.sequences.find_sequence(JANE, "Christmas 2024", "5day", key) is None
    assert ledger.sequences.find_sequence(JANE, CAMPAIGN, "5day", key + "-2") is None
    other_key = "christmas-2025|5day|jane@example.co|assessment"
    other = ledger.sequences.find_sequence("jane@example.co", CAMPAIGN, "5day", other_key)
    assert other is not None and other.email == "jane@example.co" and other.ref != target.ref


def test_find_sequence_reads_the_contacts_status_as_it_is_now(ledger: Ledger) -> None:
    """What a send checks of the contact comes with the record, in the same request (on Notion, rollups through
    the record's link to its contact), and is the contact as it is now, not as it was at the record's creation."""
    contact = ledger.contacts.upsert_contact(ContactUpdate(JANE, first_name="Jane"))
    stored, _ = ledger.sequences.create_sequence(record(contact_ref=contact.ref))
    found = ledger.sequences.find_sequence(JANE, CAMPAIGN, "5day", stored.key)
    assert found is not None and found.contact == ContactStatus("ok", None)
    ledger.contacts.upsert_contact(ContactUpdate(JANE, email_status="unsubscribed", booking_status="Booked"))
    again = ledger.sequences.find_sequence(JANE, CAMPAIGN, "5day", stored.key)
    assert again is not None and again.contact == ContactStatus("unsubscribed", "Booked")
    assert again.contact.suppressed


def test_a_create_the_caller_has_listed_for_makes_one_record(ledger: Ledger) -> None:
    assert ledger.sequences.sequences_for(JANE, CAMPAIGN, ("5day", "noshow", "postcall", "onboarding")) == []
    stored, created = ledger.sequences.create_sequence(record(), absent=True)
    assert created and [r.key for r in ledger.sequences.sequences_for(JANE, CAMPAIGN, "5day")] == [stored.key]


def test_long_variables_round_trip(ledger: Ledger) -> None:
    notes = ("Wants help with Saturday bookings — très occupée 🎄. " * 90).strip()
    assert len(notes) > 4000
    given = record(
        sequence="postcall", event="call-2025-11-28",
        variables={"call_notes": notes, "objections": "price, timing", "call_date": "2025-11-28"},
    )
    stored, _ = ledger.sequences.create_sequence(given)
    assert stored.variables == given.variables
    found = ledger.sequences.find_sequence(JANE, CAMPAIGN, "postcall", given.key)
    assert found is not None and found.variables["call_notes"] == notes


def test_naive_times_are_refused_before_anything_is_written(ledger: Ledger) -> None:
    with pytest.raises(InvalidInput, match=r"(?i)anchor"):
        ledger.sequences.create_sequence(record(anchor=datetime(2025, 12, 1, 10, 0)))
    assert ledger.sequences.sequences_for(JANE, CAMPAIGN, "5day") == []


def test_mark_sent_fills_the_ledger_and_the_last_email_completes(ledger: Ledger) -> None:
    stored, _ = ledger.sequences.create_sequence(record())
    second = ledger.sequences.mark_sent(stored, SentMark(2, T0 + 24 * H, "re_2", "sent", "kestra"))
    assert second.emails[2] == EmailLedger(2, T0 + 24 * H, "sent", "re_2", "kestra")
    assert second.emails[1] == stored.emails[1] and second.sent_numbers() == {1, 2}
    assert not second.completed and second.running
    last = ledger.sequences.mark_sent(second, SentMark(5, T0 + 120 * H, "re_5", completes=True))
    assert last.completed and not last.running and last.sent_numbers() == {1, 2, 5}
    assert last.emails[5] == EmailLedger(5, T0 + 120 * H, "sent", "re_5", "kestra")
    assert ledger.sequences.find_sequence(JANE, CAMPAIGN, "5day", stored.key) == last
    with pytest.raises(InvalidInput, match="1 to 5"):
        ledger.sequences.mark_sent(last, SentMark(6, T0, "re_6"))


def test_stop_sequence_keeps_the_first_reason(ledger: Ledger) -> None:
    stored, _ = ledger.sequences.create_sequence(record(sequence="noshow", event="call-1"))
    stopped = ledger.sequences.stop_sequence(stored, "booked")
    assert stopped.stopped_reason == "booked" and not stopped.running
    # a stale copy taken before the stop
    assert ledger.sequences.stop_sequence(stored, "paid").stopped_reason == "booked"
    assert ledger.sequences.stop_sequence(stopped, "unsubscribed").stopped_reason == "booked"
    found = ledger.sequences.find_sequence(JANE, CAMPAIGN, "noshow", stored.key)
    assert found is not None and found.stopped_reason == "booked"


def test_sequences_for_lists_one_contacts_runs_of_one_type_oldest_first(ledger: Ledger) -> None:
    later, _ = ledger.sequences.create_sequence(record(sequence="noshow", event="call-2", created_at=T0 + 2 * H))
    earlier, _ = ledger.sequences.create_sequence(record(sequence="noshow", event="call-1", created_at=T0 + H))
    ledger.sequences.create_sequence(record(sequence="postcall", event="call-1"))
    ledger.sequences.create_sequence(record(email="john@example.com", sequence="noshow", event="call-1"))
    ledger.sequences.create_sequence(record(sequence="noshow", event="call-1", campaign="Christmas 2024"))
    assert ledger.sequences.sequences_for(JANE, CAMPAIGN, "noshow") == [earlier, later]
    assert ledger.sequences.sequences_for("nobody@example.com", CAMPAIGN, "noshow") == []


def test_mark_status_holds_an_unsent_email_and_leaves_a_sent_one_as_it_is(ledger: Ledger) -> None:
    stored, _ = ledger.sequences.create_sequence(record())
    held = ledger.sequences.mark_status(stored, 2, "held")
    assert held.emails[2] == EmailLedger(2, None, "held", None, None)
    assert held.sent_numbers() == {1} and held.running, "held is not sent"
    assert ledger.sequences.mark_status(held, 1, "held").emails[1] == stored.emails[1], "a sent email keeps its status"
    skipped = ledger.sequences.mark_status(held, 2, "skipped")
    assert skipped.emails[2].status == "skipped"
    sent = ledger.sequences.mark_sent(skipped, SentMark(2, T0 + 24 * H, "re_2"))
    assert sent.emails[2] == EmailLedger(2, T0 + 24 * H, "sent", "re_2", "kestra")
    assert ledger.sequences.find_sequence(JANE, CAMPAIGN, "5day", stored.key) == sent
    with pytest.raises(InvalidInput, match="1 to 5"):
        ledger.sequences.mark_status(sent, 6, "held")


def test_an_emails_engagement_is_recorded_once_per_kind_and_keeps_its_first(ledger: Ledger) -> None:
    stored, _ = ledger.sequences.create_sequence(record())
    sent = ledger.sequences.mark_sent(stored, SentMark(2, T0 + 24 * H, "re_2"))
    delivered = ledger.sequences.mark_engagement(sent, EngagementMark(2, Engagement.DELIVERED, T0 + 24 * H + M))
    assert delivered.emails[2] == EmailLedger(2, T0 + 24 * H, "sent", "re_2", "kestra",
                                              {Engagement.DELIVERED: T0 + 24 * H + M})
    assert delivered.emails[1] == stored.emails[1], "another email is left as it is"
    opened = ledger.sequences.mark_engagement(delivered, EngagementMark(2, Engagement.OPENED, T0 + 25 * H))
    clicked = ledger.sequences.mark_engagement(opened, EngagementMark(2, Engagement.CLICKED, T0 + 26 * H, BOOK))
    first = {Engagement.DELIVERED: T0 + 24 * H + M, Engagement.OPENED: T0 + 25 * H, Engagement.CLICKED: T0 + 26 * H}
    assert clicked.emails[2] == EmailLedger(2, T0 + 24 * H, "sent", "re_2", "kestra", first, BOOK)
    assert clicked.emails[2].engaged_at(Engagement.DELIVERY_DELAYED) is None
    # a second of each kind, later (a redelivered webhook, another open, a click on another link): the first stays
    again = ledger.sequences.mark_engagement(
        clicked, EngagementMark(2, Engagement.CLICKED, T0 + 30 * H, "https://example.com/other")
    )
    again = ledger.sequences.mark_engagement(again, EngagementMark(2, Engagement.OPENED, T0 + 30 * H))
    again = ledger.sequences.mark_engagement(again, EngagementMark(2, Engagement.DELIVERED, T0 + 30 * H))
    assert again == clicked
    # every read brings it
    assert ledger.sequences.find_sequence(JANE, CAMPAIGN, "5day", stored.key) == clicked
    assert ledger.sequences.sequences_for(JANE, CAMPAIGN, "5day") == [clicked]
    assert ledger.sequences.campaign_sequences(CAMPAIGN) == [clicked]


def test_a_send_and_an_engagement_leave_each_other_as_they_are(ledger: Ledger) -> None:
    stored, _ = ledger.sequences.create_sequence(record())
    delayed = ledger.sequences.mark_engagement(stored, EngagementMark(1, Engagement.DELIVERY_DELAYED, T0 + M))
    assert delayed.emails[1] == EmailLedger(1, T0, "sent", None, "website", {Engagement.DELIVERY_DELAYED: T0 + M})
    sent = ledger.sequences.mark_sent(delayed, SentMark(2, T0 + 24 * H, "re_2"))
    assert sent.emails[1] == delayed.emails[1], "a send after an engagement keeps it"
    delivered = ledger.sequences.mark_engagement(sent, EngagementMark(1, Engagement.DELIVERED, T0 + 2 * M))
    assert delivered.emails[1].engaged == {Engagement.DELIVERY_DELAYED: T0 + M, Engagement.DELIVERED: T0 + 2 * M}
    assert delivered.emails[2] == sent.emails[2], "an engagement leaves the send's properties"
    # a send written from a copy read before the engagement (the two at the same time) keeps it too
    third = ledger.sequences.mark_sent(sent, SentMark(3, T0 + 48 * H, "re_3"))
    assert third.emails[1] == delivered.emails[1] and third.sent_numbers() == {1, 2, 3}
    # an email engaged before the ledger shows it sent (a held one, then sent): the send keeps its engagement
    held = ledger.sequences.mark_status(third, 4, "held")
    early = ledger.sequences.mark_engagement(held, EngagementMark(4, Engagement.OPENED, T0 + 72 * H))
    assert early.emails[4] == EmailLedger(4, None, "held", engaged={Engagement.OPENED: T0 + 72 * H})
    last = ledger.sequences.mark_sent(early, SentMark(4, T0 + 71 * H, "re_4"))
    assert last.emails[4] == EmailLedger(4, T0 + 71 * H, "sent", "re_4", "kestra", {Engagement.OPENED: T0 + 72 * H})
    assert ledger.sequences.stop_sequence(last, "booked").emails == last.emails
    found = ledger.sequences.find_sequence(JANE, CAMPAIGN, "5day", stored.key)
    assert found is not None and found.emails == last.emails and found.stopped_reason == "booked"
    with pytest.raises(InvalidInput, match="1 to 5"):
        ledger.sequences.mark_engagement(last, EngagementMark(6, Engagement.OPENED, T0))
    with pytest.raises(InvalidInput):
        ledger.sequences.mark_engagement(last, EngagementMark(2, Engagement.OPENED, datetime(2025, 12, 2, 10, 0)))
    assert ledger.sequences.find_sequence(JANE, CAMPAIGN, "5day", stored.key) == found, "nothing written"


# ---------------------------------------------------------------------- the campaign's state


def test_a_campaign_runs_until_paused_and_its_state_comes_back_exactly(ledger: Ledger) -> None:
    assert isinstance(ledger.campaigns, CampaignStore)
    assert ledger.campaigns.state(CAMPAIGN) == CampaignState(CAMPAIGN), "never paused: running"
    paused = CampaignState(CAMPAIGN, True, "complaints to look at", T0, "the command line")
    assert ledger.campaigns.set_state(paused) == paused
    assert ledger.campaigns.state(CAMPAIGN) == paused
    assert ledger.campaigns.state("Christmas 2024") == CampaignState("Christmas 2024"), "one campaign's alone"
    running = CampaignState(CAMPAIGN, False, None, T0 + H, "Kestra execution 7")
    assert ledger.campaigns.set_state(running) == running
    assert ledger.campaigns.state(CAMPAIGN) == running
    # the state is no record: no lookup or read of the campaign's records sees it
    assert ledger.sequences.campaign_sequences(CAMPAIGN) == []
    assert ledger.sequences.sequences_for(JANE, CAMPAIGN, ("5day", "noshow")) == []


def test_find_sequence_brings_the_campaigns_state_as_it_is_now(ledger: Ledger) -> None:
    """Every backend reads the state with the record (Notion in the same query), so a send costs no request more."""
    stored, _ = ledger.sequences.create_sequence(record())
    found = ledger.sequences.find_sequence(JANE, CAMPAIGN, "5day", stored.key)
    assert found is not None and found.campaign_state == CampaignState(CAMPAIGN)
    paused = ledger.campaigns.set_state(CampaignState(CAMPAIGN, True, "a pause", T0, "the command line"))
    found = ledger.sequences.find_sequence(JANE, CAMPAIGN, "5day", stored.key)
    assert found is not None and found.campaign_state == paused
    assert found == stored, "the state is read with the record, not part of it"
    assert ledger.sequences.find_sequence(JANE, CAMPAIGN, "noshow", stored.key) is None


# ---------------------------------------------------------------------- templates


def test_a_missing_or_inactive_template_raises_naming_it(ledger: Ledger) -> None:
    with pytest.raises(TemplateError, match="noshow_recovery_email_1"):
        ledger.templates.get_template("noshow_recovery_email_1")
    ledger.templates.put_template(Template("noshow_recovery_email_1", "Missed you", "<p>Hi</p>" + FOOTER, active=False))
    with pytest.raises(TemplateError, match=r"noshow_recovery_email_1.*Inactive"):
        ledger.templates.get_template("noshow_recovery_email_1")
    assert [t.name for t in ledger.templates.list_templates()] == ["noshow_recovery_email_1"]


def test_put_template_says_created_updated_or_unchanged(ledger: Ledger) -> None:
    line = "<p>Paragraph {n}: {{{{first_name}}}}, here is the plan for {{{{business_name}}}}.</p>\n"
    body = "".join(line.format(n=n) for n in range(60))
    template = Template("5-Day E2", "{{first_name}}, your results", body + FOOTER)
    assert len(template.body_html) > 4000
    assert ledger.templates.put_template(template) == "created"
    assert ledger.templates.put_template(template) == "unchanged"
    assert ledger.templates.get_template("5-Day E2") == template
    changed = replace(template, subject="{{first_name}}, what your assessment says")
    assert ledger.templates.put_template(changed) == "updated"
    assert ledger.templates.get_template("5-Day E2") == changed
    assert ledger.templates.put_template(Template("5-Day E3", "Day three", "<p>Three</p>" + FOOTER)) == "created"
    assert [t.name for t in ledger.templates.list_templates()] == ["5-Day E2", "5-Day E3"]


# ---------------------------------------------------------------------- analytics


def test_log_analytics_records_each_attempt(
    ledger: Ledger, logged_analytics: Callable[[], list[dict[str, Any]]]
) -> None:
    ledger.sends.log_attempt(AnalyticsEntry(JANE, "5-Day E2", 2, "sent", T0 + 24 * H, CAMPAIGN, resend_id="re_2"))
    ledger.sends.log_attempt(
        AnalyticsEntry(JANE, "5-Day E3", 3, "failed", T0 + 72 * H, CAMPAIGN, error="Resend answered 422: invalid `to`")
    )
    assert logged_analytics() == [
        {"email": JANE, "template": "5-Day E2", "email_number": 2, "status": "sent", "at": T0 + 24 * H,
         "campaign": CAMPAIGN, "resend_id": "re_2", "error": None},
        {"email": JANE, "template": "5-Day E3", "email_number": 3, "status": "failed", "at": T0 + 72 * H,
         "campaign": CAMPAIGN, "resend_id": None, "error": "Resend answered 422: invalid `to`"},
    ]


# ---------------------------------------------------------------------- the report's reads (Ledger)


def test_the_report_reads_every_contact_and_the_campaigns_sequences_oldest_first(ledger: Ledger) -> None:
    assert isinstance(ledger, Ledger)
    assert isinstance(ledger.contacts, ContactStore) and isinstance(ledger.sequences, SequenceStore)
    assert isinstance(ledger.templates, TemplateStore) and isinstance(ledger.sends, SendLog)
    ledger.contacts.upsert_contact(
        ContactUpdate(JANE, first_name="Jane", campaign_status="Nurture Sequence", segment="CRITICAL")
    )
    ledger.contacts.upsert_contact(ContactUpdate("bob@example.com", first_name="Bob", email_status="bounced"))
    later, _ = ledger.sequences.create_sequence(record(sequence="noshow", event="call-1", created_at=T0 + 2 * H))
    earlier, _ = ledger.sequences.create_sequence(record())
    ledger.sequences.create_sequence(record(campaign="Christmas 2024"))
    ledger.sequences.mark_sent(earlier, SentMark(2, T0 + 24 * H, "re_2"))
    ledger.sequences.stop_sequence(later, "paid")
    contacts = {
        c.email: (c.first_name, c.campaign_status, c.segment, c.email_status) for c in ledger.contacts.all_contacts()
    }
    assert contacts == {
        JANE: ("Jane", "Nurture Sequence", "CRITICAL", "ok"),
        "bob@example.com": ("Bob", None, None, "bounced"),
    }
    read = ledger.sequences.campaign_sequences(CAMPAIGN)
    assert [r.key for r in read] == [earlier.key, later.key]
    assert read[0].emails == {1: EmailLedger(1, T0, "sent", None, "website"),
                              2: EmailLedger(2, T0 + 24 * H, "sent", "re_2", "kestra")}
    assert (read[1].stopped_reason, read[1].completed, read[1].created_at) == ("paid", False, T0 + 2 * H)
    assert ledger.sequences.campaign_sequences("Christmas 2023") == []


def test_the_report_reads_a_campaigns_send_attempts_since_a_moment(ledger: Ledger) -> None:
    assert isinstance(ledger, Ledger)
    first = AnalyticsEntry(JANE, "5-Day E2", 2, "sent", T0 + 24 * H, CAMPAIGN, resend_id="re_2")
    second = AnalyticsEntry(JANE, "5-Day E3", 3, "skipped", T0 + 72 * H, CAMPAIGN, error="sequence stopped: booked")
    ledger.sends.log_attempt(second)
    ledger.sends.log_attempt(first)
    elsewhere = AnalyticsEntry(JANE, "5-Day E2", 2, "sent", T0 + 30 * H, "Christmas 2024", resend_id="re_x")
    ledger.sends.log_attempt(elsewhere)
    assert ledger.sends.send_attempts(CAMPAIGN) == [first, second]
    assert ledger.sends.send_attempts(CAMPAIGN, T0 + 72 * H) == [second], "on or after"
    assert ledger.sends.send_attempts(CAMPAIGN, T0 + 73 * H) == []


def test_every_failure_is_a_christmas_error(ledger: Ledger) -> None:
    """Callers (the CLI) catch ChristmasError; the CRM's own refusals are of that family."""
    with pytest.raises(ChristmasError):
        ledger.templates.get_template("no such template")


# ---------------------------------------------------------------------- what is held about a person (SPEC §11)

MARK = forget_mark("a-test-secret", JANE)


def _holdings_of_jane(ledger: Ledger) -> tuple[SequenceRecord, SequenceRecord]:
    ledger.contacts.upsert_contact(ContactUpdate(JANE, first_name="Jane", campaign_status="Nurture Sequence"))
    ledger.contacts.upsert_contact(ContactUpdate("bob@example.com", first_name="Bob"))
    nurture, _ = ledger.sequences.create_sequence(record())
    ledger.sequences.mark_sent(nurture, SentMark(2, T0 + 24 * H, "re_2"))
    older, _ = ledger.sequences.create_sequence(record(campaign="Christmas 2024", created_at=T0 - 24 * H))
    ledger.sequences.create_sequence(record("bob@example.com"))
    ledger.sends.log_attempt(AnalyticsEntry(JANE, "5-Day E2", 2, "sent", T0 + 24 * H, CAMPAIGN, "re_2"))
    ledger.sends.log_attempt(AnalyticsEntry("bob@example.com", "5-Day E2", 2, "sent", T0 + 24 * H, CAMPAIGN, "re_b"))
    return older, nurture


def test_everything_held_about_an_address_is_read_in_every_campaign(ledger: Ledger) -> None:
    older, nurture = _holdings_of_jane(ledger)
    held = ledger.people.held(JANE, MARK)
    assert [c.email for c in held.contacts] == [JANE] and held.contacts[0].campaign_status == "Nurture Sequence"
    assert [r.key for r in held.sequences] == [older.key, nurture.key], "every campaign's, oldest first"
    assert held.sequences[1].emails[2] == EmailLedger(2, T0 + 24 * H, "sent", "re_2", "kestra")
    assert [(a.email, a.resend_id) for a in held.attempts or ()] == [(JANE, "re_2")]
    assert sorted(item.store for item in held.stored) == ["contacts", "send_log", "sequences", "sequences"]
    contact_row = next(item for item in held.stored if item.store == "contacts")
    assert JANE in contact_row.fields.values(), "each row as stored, every field"
    assert held.forgotten is False and not held.empty
    nobody = ledger.people.held("nobody@example.com", forget_mark("a-test-secret", "nobody@example.com"))
    assert nobody.empty and nobody.stored == () and nobody.forgotten is False


def test_erasing_an_address_keeps_its_mark_only_and_leaves_the_others(ledger: Ledger) -> None:
    _holdings_of_jane(ledger)
    removed = ledger.people.erase(ledger.people.held(JANE, MARK), MARK, T0 + 48 * H)
    assert removed == {"contacts": 1, "sequences": 2, "ledger_emails": 3, "send_log": 1}
    after = ledger.people.held(JANE, MARK)
    assert after.empty and after.stored == () and after.forgotten is True
    assert ledger.people.is_forgotten(MARK) and ledger.contacts.get_contact(JANE) is None
    assert [c.email for c in ledger.contacts.all_contacts()] == ["bob@example.com"], "the mark is no contact"
    assert [r.email for r in ledger.sequences.campaign_sequences(CAMPAIGN)] == ["bob@example.com"]
    assert [a.email for a in ledger.sends.send_attempts(CAMPAIGN) or ()] == ["bob@example.com"]
    again = ledger.people.erase(after, MARK, T0 + 49 * H)
    assert again == {"contacts": 0, "sequences": 0, "ledger_emails": 0, "send_log": 0}, "idempotent"


def test_a_forgotten_mark_is_found_and_cleared(ledger: Ledger) -> None:
    assert ledger.people.is_forgotten(MARK) is False
    ledger.people.erase(ledger.people.held(JANE, MARK), MARK, T0)
    assert ledger.people.is_forgotten(MARK) is True
    assert ledger.people.is_forgotten(forget_mark("another-secret", JANE)) is False, "the secret is the salt"
    assert ledger.people.clear_forgotten(MARK) is True
    assert ledger.people.is_forgotten(MARK) is False and ledger.people.clear_forgotten(MARK) is False
