"""The signing keys as an aggregate, so that a rotation lands in the audit trail."""

from __future__ import annotations

from datetime import datetime

from flx_auth.domain.events import SigningKeyRotated
from flx_core.domain import DomainAggregateRoot


class SigningKeys(DomainAggregateRoot):
    id: str = "signing-keys"

    def rotated(self, kid: str, previous_kid: str | None, now: datetime) -> None:
        self.record(
            SigningKeyRotated(
                aggregate_id=self.id, occurred_at=now, kid=kid, previous_kid=previous_kid
            )
        )
