"""merge_contacts: several records of one address made one, without losing what any of them knew."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from christmas_tasks.domain.duplicates import merge_contacts
from christmas_tasks.domain.records import Contact
from christmas_tasks.domain.vocabulary import CampaignStatus, EmailStatus

JANE = "jane@example.com"

contacts = st.builds(
    Contact,
    email=st.just(JANE),
    first_name=st.sampled_from(["", "Jane", "Janet"]),
    business_name=st.sampled_from([None, "Jane's Salon", "Salon J"]),
    campaign_status=st.sampled_from([None, *CampaignStatus]),
    booking_status=st.sampled_from([None, "Booked", "No-Show"]),
    email_status=st.sampled_from(list(EmailStatus)),
    segment=st.sampled_from([None, "CRITICAL", "URGENT"]),
    assessment_score=st.sampled_from([None, 0.0, 42.0]),
    ref=st.uuids().map(str),
)


def test_the_oldest_is_kept_and_the_newest_value_wins() -> None:
    oldest = Contact(JANE, first_name="Jane", segment="URGENT", ref="a")
    newer = Contact(JANE, first_name="", business_name="Jane's Salon", segment="CRITICAL", ref="b")
    merged = merge_contacts([oldest, newer])
    assert merged == Contact(JANE, first_name="Jane", business_name="Jane's Salon", segment="CRITICAL", ref="a")


def test_a_signup_never_moves_a_contact_back_and_an_unsubscribe_always_wins() -> None:
    signed_up = Contact(JANE, campaign_status="Signed Up", ref="b")
    nurtured = Contact(JANE, campaign_status="Nurture Sequence", ref="a")
    assert merge_contacts([nurtured, signed_up]).campaign_status == "Nurture Sequence"
    unsubscribed = Contact(JANE, campaign_status="Unsubscribed", email_status="unsubscribed", ref="c")
    merged = merge_contacts([unsubscribed, nurtured, signed_up])
    assert (merged.campaign_status, merged.email_status) == ("Unsubscribed", "unsubscribed")


@given(st.lists(contacts, min_size=1, max_size=5))
def test_nothing_any_record_knew_is_lost(records: list[Contact]) -> None:
    merged = merge_contacts(records)
    assert merged.ref == records[0].ref and merged.email == JANE
    assert merged.suppressed == any(record.suppressed for record in records)  # a suppression is never lost
    for field in ("first_name", "business_name", "booking_status", "segment", "assessment_score", "campaign_status"):
        known = [getattr(record, field) for record in records if getattr(record, field) not in (None, "")]
        assert (getattr(merged, field) not in (None, "")) == bool(known)
        if known:
            assert getattr(merged, field) in known
    if any(record.campaign_status not in (None, "Signed Up") for record in records):
        assert merged.campaign_status != "Signed Up"


@given(st.lists(contacts, min_size=1, max_size=4))
def test_merging_again_changes_nothing(records: list[Contact]) -> None:
    merged = merge_contacts(records)
    assert merge_contacts([merged]) == merged
    assert merge_contacts([merged, *records[1:]]) == merged


def test_no_records_or_two_addresses_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        merge_contacts([])
    with pytest.raises(ValueError, match="one address"):
        merge_contacts([Contact(JANE), Contact("john@example.com")])
