"""The errors the package raises on purpose. Each names what went wrong; none carries a secret."""

from __future__ import annotations

from dataclasses import dataclass


class ChristmasError(Exception):
    """Base of every deliberate error; the CLI prints its message and exits with `exit_code`."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class InvalidInput(ChristmasError):
    """Bad input (an event, a file, an argument): one `Problem` per bad field."""

    exit_code = 2

    def __init__(self, what: str, problems: list[Problem]) -> None:
        self.what = what
        self.problems = problems
        super().__init__(f"invalid {what}: " + "; ".join(str(p) for p in problems))


class ConfigError(ChristmasError):
    """A setting is missing or malformed. The message names the setting, never its value."""

    exit_code = 2


class TemplateError(ChristmasError):
    """A template is missing, inactive, or does not render with the variables it is given."""


class NotFound(ChristmasError):
    """A record the caller relies on does not exist."""


class ProviderError(ChristmasError):
    """A provider (Notion, Resend, Discord) refused or failed a request after any retries."""

    def __init__(
        self,
        provider: str,
        status: int | None,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.provider = provider
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        where = f"{provider} answered {status}" if status else f"{provider} failed"
        super().__init__(f"{where}: {message}")
