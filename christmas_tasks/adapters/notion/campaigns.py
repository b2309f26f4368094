"""The campaign's state (paused or running): one page of the email sequence database that is no sequence
(`schema.CampaignStatePage`). It has no Email, Campaign or Sequence Type, so no lookup of records and no report
finds it; its own Sequence Key finds it, and a send's record lookup asks for it in the same query
(`NotionSequences.find_sequence`), so a send reads the state for no request of its own.

Its title says the state for a person looking at the database ("Christmas 2025: paused since ... by ...: why"); its
Event Data holds it as JSON, the truth the package reads. A state page that cannot be read is taken as paused, so
nothing is sent until a person resumes (which rewrites it).
"""

from __future__ import annotations

import json
from typing import Any

from christmas_tasks.adapters.notion.api import NotionApi
from christmas_tasks.adapters.notion.encoding import Page, filter_on, iso, new_page, parse_date, text_of
from christmas_tasks.adapters.notion.schema import CampaignStatePage
from christmas_tasks.domain.keys import campaign_slug
from christmas_tasks.domain.planning import iso_utc
from christmas_tasks.domain.records import CampaignState


def state_key(campaign: str) -> str:
    """The state page's Sequence Key: `christmas-2025|campaign-state` (a record's key has four parts)."""
    return f"{campaign_slug(campaign)}|{CampaignStatePage.KEY_SUFFIX}"


def state_filter(campaign: str) -> dict[str, Any]:
    return filter_on((CampaignStatePage.KEY, "rich_text", state_key(campaign)))


def state_of(page: Page | None, campaign: str) -> CampaignState:
    """The state a page holds; no page: running; a page that cannot be read: paused, saying why."""
    if page is None:
        return CampaignState(campaign)
    try:
        data = json.loads(text_of(page, CampaignStatePage.DATA))
        changed_at = data.get("changed_at")
        return CampaignState(
            campaign,
            paused=bool(data["paused"]),
            reason=data.get("reason"),
            changed_at=parse_date(changed_at) if changed_at else None,
            changed_by=data.get("changed_by"),
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return CampaignState(
            campaign, paused=True, reason=f"the campaign state page in Notion ({CampaignStatePage.DATA}) is unreadable"
        )


def _values(state: CampaignState) -> dict[str, Any]:
    data = {
        "paused": state.paused,
        "reason": state.reason,
        "changed_at": iso(state.changed_at, "changed_at") if state.changed_at else None,
        "changed_by": state.changed_by,
    }
    since = f" since {iso_utc(state.changed_at)}" if state.changed_at else ""
    title = f"{state.campaign}: {'paused' if state.paused else 'running'}{since}"
    if state.changed_by:
        title += f" ({state.changed_by})"
    if state.reason:
        title += f": {state.reason}"
    return {
        CampaignStatePage.TITLE: title,
        CampaignStatePage.KEY: state_key(state.campaign),
        CampaignStatePage.DATA: json.dumps(data, ensure_ascii=False),
    }


class NotionCampaigns:
    def __init__(self, api: NotionApi) -> None:
        self.api = api

    def _page(self, campaign: str) -> Page | None:
        what = f"read the state of the campaign {campaign}"
        return self.api.lookup("sequences", what, state_filter(campaign), f"the campaign state of {campaign!r}")

    def state(self, campaign: str) -> CampaignState:
        """1 query."""
        return state_of(self._page(campaign), campaign)

    def set_state(self, state: CampaignState) -> CampaignState:
        """1 query, then 1 pages.update (or 1 pages.create, the first time: a create that failed with a 5xx or a
        timeout is looked up before it is tried again, so there is never a second state page)."""
        values = _values(state)
        page = self._page(state.campaign)
        what = f"write the state of the campaign {state.campaign}"
        if page is None:
            properties = new_page("sequences", values)
            tried = False

            def attempt() -> Page:  # a create that failed as it may have happened is looked up before another
                nonlocal tried
                found = self._page(state.campaign) if tried else None
                tried = True
                if found is not None:
                    return self.api.update("sequences", what, str(found["id"]), values)
                return self.api.create("sequences", what, properties, retry=False)

            written = self.api.retrying(what, attempt)
        else:
            del values[CampaignStatePage.KEY]
            written = self.api.update("sequences", what, str(page["id"]), values)
        return state_of(written, state.campaign)
