"""`qcl bench oidc`: what a Google ID token costs the API per request, with a warm certificate cache.

    qcl bench oidc --json
    qcl bench oidc --requests 500

Three figures, each over `requests` calls after a warm-up, in one process: verifying a token alone
(qcl.api.oidc.IdTokens.verify: RS256 signature with google-auth over the cached certificate, then the claims),
verifying an API key alone (KeyService.verify: HMAC-SHA256 and a lookup), and a whole request to GET
/api/auth/whoami through the Flask app with each credential (the gate, the route, the JSON answer; no socket). The
certificates come from a loopback stand-in for Google (qcl.api.oidc_issuer) with Google's max-age, so after the
first request none is fetched again; the run reports the fetch count to show it (2: the bench's verifier and the
app's each keep their own cache, and each fetches once).
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

AUDIENCE = "https://europe-west1-qcl-bench.cloudfunctions.net/qcl-api"
PRINCIPAL = "qcl-workflows@qcl-bench.iam.gserviceaccount.com"


def _timed_us(call: Callable[[], object], requests: int) -> dict[str, float]:
    for _ in range(min(50, requests)):
        call()
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1e6)
    quantiles = statistics.quantiles(times, n=100, method="inclusive")
    return {
        "p50_us": round(quantiles[49], 1),
        "p95_us": round(quantiles[94], 1),
        "mean_us": round(statistics.fmean(times), 1),
    }


def run_oidc_bench(requests: int = 2000, progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    from qcl.api import build_services, create_app
    from qcl.api.oidc import IdTokens
    from qcl.api.oidc_issuer import LocalIssuer
    from qcl.api.schemas import Role
    from qcl.bus.memory import MemoryBus
    from qcl.config import load_settings
    from qcl.store.memory import MemoryStore

    with LocalIssuer() as issuer, tempfile.TemporaryDirectory(prefix="qcl-bench-oidc-") as state:
        token = issuer.token(aud=AUDIENCE, email=PRINCIPAL)
        settings = load_settings(
            state_dir=Path(state),
            oidc_audience=AUDIENCE,
            oidc_principals=f"{PRINCIPAL}=operator",
            oidc_certs_url=issuer.url,
            rate_limit_key_burst=10_000_000,
            rate_limit_ip_burst=10_000_000,
        )
        tokens = IdTokens.from_settings(settings)
        assert tokens is not None
        services = build_services(settings, store=MemoryStore(), bus=MemoryBus())
        _, key = services.keys.create(Role.OPERATOR, "bench", created_by="qcl bench oidc")

        progress(f"bench oidc: verifying an ID token {requests} times")
        token_alone = _timed_us(lambda: tokens.verify(token), requests)
        progress(f"bench oidc: verifying an API key {requests} times")
        key_alone = _timed_us(lambda: services.keys.verify(key), requests)

        client = create_app(services, start_stream=False).test_client()

        def whoami(bearer: str) -> Callable[[], object]:
            headers = {"Authorization": f"Bearer {bearer}"}

            def call() -> object:
                answer = client.get("/api/auth/whoami", headers=headers)
                assert answer.status_code == 200, answer.get_json()
                return answer

            return call

        progress(f"bench oidc: {requests} requests with each credential")
        with_key = _timed_us(whoami(key), requests)
        with_token = _timed_us(whoami(token), requests)
        fetches = issuer.fetches

    return {
        "suite": "oidc",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "requests": requests,
        "id_token_verify": token_alone,
        "api_key_verify": key_alone,
        "request_with_api_key": with_key,
        "request_with_id_token": with_token,
        "id_token_overhead_us_p50": round(with_token["p50_us"] - with_key["p50_us"], 1),
        "request_ratio_p50": round(with_token["p50_us"] / with_key["p50_us"], 2),
        "certificate_fetches": fetches,
    }
