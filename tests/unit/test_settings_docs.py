"""docs/operating.md lists every setting of the one table (SETTINGS), and nothing else: a setting added to the table
and not to the page, or left on the page after it went, is named."""

from __future__ import annotations

import re
from pathlib import Path

from christmas_tasks.entrypoints.settings import SETTINGS

PAGE = Path(__file__).resolve().parents[2] / "docs" / "operating.md"


def test_the_operating_page_lists_every_setting_and_no_other() -> None:
    rows = re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", PAGE.read_text(encoding="utf-8"), flags=re.MULTILINE)
    table = [setting.name for setting in SETTINGS]
    assert sorted(set(table) - set(rows)) == [], "settings missing from docs/operating.md's table"
    assert sorted(set(rows) - set(table)) == [], "docs/operating.md lists settings the package does not read"
    assert rows == table, "docs/operating.md lists the settings in another order than SETTINGS"
