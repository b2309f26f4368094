"""The campaign's state (paused or running): a row per campaign, none while it was never paused."""

from __future__ import annotations

import sqlite3

from christmas_tasks.adapters.sqlite.db import SqliteDb, dt, ts
from christmas_tasks.domain.records import CampaignState


class SqliteCampaigns:
    def __init__(self, db: SqliteDb) -> None:
        self.db = db

    def state(self, campaign: str) -> CampaignState:
        with self.db.connect() as db:
            return read_state(db, campaign)

    def set_state(self, state: CampaignState) -> CampaignState:
        changed_at = ts(state.changed_at, "changed_at") if state.changed_at is not None else None
        with self.db.write() as db:
            db.execute(
                """INSERT INTO campaign_state (campaign, paused, reason, changed_at, changed_by) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (campaign) DO UPDATE SET paused = excluded.paused, reason = excluded.reason,
                       changed_at = excluded.changed_at, changed_by = excluded.changed_by""",
                (state.campaign, int(state.paused), state.reason, changed_at, state.changed_by),
            )
            return read_state(db, state.campaign)


def read_state(db: sqlite3.Connection, campaign: str) -> CampaignState:
    """The campaign's state on an open connection (a send reads it with its record)."""
    row = db.execute("SELECT * FROM campaign_state WHERE campaign = ?", (campaign,)).fetchone()
    if row is None:
        return CampaignState(campaign)
    return CampaignState(
        campaign, bool(row["paused"]), row["reason"], dt(row["changed_at"]), row["changed_by"]
    )
