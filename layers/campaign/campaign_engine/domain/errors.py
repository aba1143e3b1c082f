"""Errors the pipeline reports to people. Each names what is wrong and where."""

from __future__ import annotations


class CampaignError(Exception):
    """A problem with the campaign's inputs that stops a run before anything is sent.

    ``code`` is stable (for reports and tests); ``where`` names the file, line or field.
    """

    code = "campaign_error"

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where

    def to_dict(self) -> dict[str, str]:
        out = {"code": self.code, "message": self.message}
        if self.where:
            out["where"] = self.where
        return out

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class DefinitionError(CampaignError):
    code = "invalid_campaign_definition"


class TemplateError(CampaignError):
    code = "template_error"


class AudienceError(CampaignError):
    code = "audience_error"


class NotFound(CampaignError):
    """An operator asked about a campaign, run or address that does not exist."""

    code = "not_found"


class RunStateError(CampaignError):
    """An operator asked for a change the run's status does not allow (pause a finished run)."""

    code = "run_state"


class AccountLevelError(Exception):
    """SES refused the send for a reason that every later batch would hit too
    (unverified sender, sending paused, sandbox recipient, missing configuration set)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class ThrottledError(Exception):
    """Some entries are still throttled after the in-Lambda retries: let Step Functions retry
    the batch later (the batch record makes the retry send only what is still pending)."""
