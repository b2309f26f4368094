from __future__ import annotations

import pytest

from christmas_tasks.domain.routing import Segment, route


@pytest.mark.parametrize(
    ("red", "orange", "segment", "priority", "zone"),
    [
        (2, 0, Segment.CRITICAL, 1, "Crisis Zone"),
        (8, 0, Segment.CRITICAL, 1, "Crisis Zone"),
        (2, 5, Segment.CRITICAL, 1, "Crisis Zone"),  # red is checked first
        (1, 0, Segment.URGENT, 2, "Warning Zone"),
        (0, 2, Segment.URGENT, 2, "Warning Zone"),
        (1, 7, Segment.URGENT, 2, "Warning Zone"),
        (0, 1, Segment.OPTIMIZE, 3, "Growth Zone"),
        (0, 0, Segment.OPTIMIZE, 3, "Growth Zone"),
    ],
)
def test_route(red: int, orange: int, segment: Segment, priority: int, zone: str) -> None:
    routed = route(red, orange)
    assert (routed.segment, routed.priority, routed.readiness_zone) == (segment, priority, zone)
    assert routed.alert is (segment is Segment.CRITICAL)
