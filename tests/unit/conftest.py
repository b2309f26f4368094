"""The use-case tests' ports: an in-memory ledger with the sample templates, an in-memory mailer, and the funnel on
them in testing mode (a test wanting other settings builds its own with `in_testing_mode`)."""

from __future__ import annotations

import pytest

from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES
from christmas_tasks.usecases.funnel import Funnel
from tests.fakes.memory import InMemoryLedger, InMemoryMailer, in_testing_mode


@pytest.fixture
def ledger() -> InMemoryLedger:
    return InMemoryLedger(SAMPLE_TEMPLATES)


@pytest.fixture
def mailer() -> InMemoryMailer:
    return InMemoryMailer()


@pytest.fixture
def funnel(ledger: InMemoryLedger, mailer: InMemoryMailer) -> Funnel:
    return in_testing_mode(ledger, mailer)
