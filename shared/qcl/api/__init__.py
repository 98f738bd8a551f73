"""The HTTP API: REST + WebSocket over the store and the bus, with keys, roles, rate limits and metrics.

    services = build_services(settings, store=store, bus=bus, narrator=narrator, generation=generation)
    app = create_app(services)                      # a Flask app: functions/api, containers/api, `qcl up`
    ingest = ApiIngest(services, context(app).broadcaster); ingest.start()    # the `api` consumer

Layout: app.py (the request gate), context.py (what the views share), routing.py + openapi.py (routes that declare
role, models, responses; the OpenAPI document from them), routes_*.py (the endpoints), keys.py (API keys),
sessions.py (the dashboard's login URL and session cookie), runtime_settings.py (settings versions applied live),
access.py (IP lists, rate limits), security.py (headers, CORS), state.py (store keys), stream.py (the WebSocket's
event log), ingest.py (the consumer), server.py (the WSGI server), services.py (what is injected; circuit breakers).
"""

from __future__ import annotations

import logging
from typing import Any

from qcl.api.app import context, create_app
from qcl.api.ingest import ApiIngest
from qcl.api.keys import open_keys
from qcl.api.services import ApiServices, Generation, Narrator
from qcl.bus.base import Bus
from qcl.config import Settings
from qcl.store.base import Store

log = logging.getLogger(__name__)


def build_services(
    settings: Settings,
    *,
    store: Store,
    bus: Bus | None,
    narrator: Narrator | None = None,
    generation: Generation | None = None,
) -> ApiServices:
    """The API's services from settings and the pieces the caller runs; the model registry when installed."""
    registry: Any = None
    try:
        from qcl.model.registry import registry_table
    except ImportError as exc:  # the model runtime is optional for the API
        log.info("api: model registry not available (%s); /api/ai/models answers 503", exc)
    else:

        def registry() -> list[dict[str, Any]]:
            return registry_table(settings)

    if generation is None and narrator is not None:  # a model-backed narrator holds the generation service
        model = getattr(narrator, "model", None)
        if callable(getattr(model, "health_check", None)) and callable(getattr(model, "status", None)):
            generation = model
    from qcl.api.runtime_settings import RuntimeSettings
    from qcl.api.sessions import Sessions
    from qcl.compute.quotas import open_jobs
    from qcl.obs.audit import open_audit_trail
    from qcl.store.ledger import open_ledger

    return ApiServices(
        settings=settings,
        store=store,
        jobs=open_jobs(settings, store),
        keys=open_keys(settings, store),
        audit=open_audit_trail(settings, store),
        runtime=RuntimeSettings(open_ledger("settings", settings, store), settings),
        sessions=Sessions(store, login_ttl_s=settings.login_token_ttl_s, session_ttl_s=settings.session_ttl_s),
        bus=bus,
        narrator=narrator,
        generation=generation,
        model_registry=registry,
    )


def default_narrator(settings: Settings) -> Narrator | None:
    """qcl.narrate's narrator for an API instance that is handed none (model or templates, as QCL_NARRATE_MODEL
    says); None, logged, where narration is not installed or cannot start: questions then answer 503."""
    try:
        from qcl.narrate.service import open_narrator
    except ImportError as exc:
        log.info("api: narration not available (%s); /api/ai/question answers 503", exc)
        return None
    try:
        narrator: Narrator = open_narrator(settings)
    except Exception:
        log.exception("api: the narrator failed to start; /api/ai/question answers 503")
        return None
    return narrator


__all__ = ["ApiIngest", "ApiServices", "build_services", "context", "create_app", "default_narrator"]
