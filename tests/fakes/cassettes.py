"""The three fixtures pytest-recording reads, for a test module of one provider's cassettes: where they are, the
provider's VCR settings, and each test's cassette name (`<prefix><test name without test_, dashes for _>`).

    vcr_cassette_dir, vcr_config, default_cassette_name = cassette_fixtures(CASSETTE_DIR, vcr_config, "notion-")
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def cassette_fixtures(folder: Path, config: Callable[[pytest.Config], dict[str, Any]], prefix: str) -> tuple[Any, ...]:
    @pytest.fixture(scope="module")
    def vcr_cassette_dir() -> str:
        return str(folder)

    @pytest.fixture
    def vcr_config(pytestconfig: pytest.Config) -> dict[str, Any]:
        return config(pytestconfig)

    @pytest.fixture
    def default_cassette_name(request: pytest.FixtureRequest) -> str:
        name: str = request.node.originalname
        return prefix + name.removeprefix("test_").replace("_", "-")

    return vcr_cassette_dir, vcr_config, default_cassette_name
