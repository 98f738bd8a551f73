"""What the API's views share (ApiContext): its own module so that app.py imports the routes_*.py modules and they
import this, not app.py back."""

from __future__ import annotations

from dataclasses import dataclass

from qcl.api.routing import ApiRoutes
from qcl.api.services import ApiServices
from qcl.api.state import ApiState
from qcl.api.stream import Broadcaster, EventLog


@dataclass
class ApiContext:
    """What views share: the services, the state views over the store, and the live stream."""

    services: ApiServices
    state: ApiState
    log: EventLog
    broadcaster: Broadcaster
    routes: ApiRoutes
    draining: bool = False
