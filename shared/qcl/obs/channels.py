"""Where alerts go (qcl.obs.alerts sends them); a model of its own so that settings can hold a list of them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Channel(BaseModel):
    """Where alerts of some severities go. QCL_ALERT_CHANNELS is a JSON list of these."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["webhook", "slack", "email", "pubsub"]
    # webhook/slack: the URL; email: smtp://host:port/to@example.com[,...]; pubsub: projects/P/topics/T
    target: str = Field(min_length=1)
    severities: tuple[str, ...] = ("page", "ticket")
    sender: str = "qcl-alerts@localhost"  # email only

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.target.split('?')[0]}"
