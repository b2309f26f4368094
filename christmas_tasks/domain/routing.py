"""Segment routing for an assessment (SPEC §4). Pure: counts in, route out."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Segment(StrEnum):
    CRITICAL = "CRITICAL"
    URGENT = "URGENT"
    OPTIMIZE = "OPTIMIZE"


@dataclass(frozen=True)
class Route:
    segment: Segment
    priority: int
    readiness_zone: str

    @property
    def alert(self) -> bool:
        """A CRITICAL lead raises an alert (when an alert webhook is configured)."""
        return self.segment is Segment.CRITICAL


_ROUTES = {
    Segment.CRITICAL: Route(Segment.CRITICAL, 1, "Crisis Zone"),
    Segment.URGENT: Route(Segment.URGENT, 2, "Warning Zone"),
    Segment.OPTIMIZE: Route(Segment.OPTIMIZE, 3, "Growth Zone"),
}


def route(red_systems: int, orange_systems: int) -> Route:
    """Checked in order: CRITICAL when red >= 2; URGENT when red == 1 or orange >= 2; else OPTIMIZE."""
    if red_systems >= 2:
        return _ROUTES[Segment.CRITICAL]
    if red_systems == 1 or orange_systems >= 2:
        return _ROUTES[Segment.URGENT]
    return _ROUTES[Segment.OPTIMIZE]
