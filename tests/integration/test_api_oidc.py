"""Google ID tokens on the API, without Google: our own RSA key and X.509 certificate, served as `{kid: pem}` from a
loopback HTTP server standing in for Google's certificates URL (qcl.api.oidc_issuer), sign the tokens a deployed
workflow would send."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qcl.api.errors import ApiError
from qcl.api.oidc_issuer import LocalIssuer, SigningKey
from qcl.api.schemas import Role
from qcl.config import load_settings
from qcl.errors import ConfigError
from tests.integration.test_api_fixtures import Api, TemplateNarrator, make_api, report

AUDIENCE = "https://europe-west1-qcl-test.cloudfunctions.net/qcl-api"
WORKFLOWS = "qcl-workflows@qcl-test.iam.gserviceaccount.com"
READER = "qcl-reader@qcl-test.iam.gserviceaccount.com"
NARRATE = "/api/workflows/connectors/narrate"


class KeyPair(SigningKey):
    def token(self, **claims: Any) -> str:
        return super().token(**{"aud": AUDIENCE, "email": WORKFLOWS, **claims})


class Issuer(LocalIssuer, KeyPair):
    pass


@pytest.fixture
def google() -> Iterator[tuple[KeyPair, Issuer]]:
    with Issuer("kid-1") as issuer:
        yield issuer, issuer


@pytest.fixture
def api(tmp_path: Path, google: tuple[KeyPair, Issuer]) -> Api:
    return make_api(
        tmp_path,
        narrator=TemplateNarrator(),
        oidc_audience=AUDIENCE,
        oidc_principals=f"{WORKFLOWS}=operator,{READER}=viewer",
        oidc_certs_url=google[1].url,
    )


def narrate(api: Api, token: str) -> Any:
    body = {"report": report(score=77).model_dump(mode="json"), "language": "en"}
    return api.client.post(NARRATE, json=body, headers={"Authorization": f"Bearer {token}"})


def refusal(answer: Any) -> str:
    assert answer.status_code == 401, answer.get_json()
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    message: str = answer.get_json()["error"]["message"]
    return message


def test_a_workflows_token_runs_a_connector_with_its_mapped_role(api: Api, google: tuple[KeyPair, Issuer]) -> None:
    pair, _ = google
    answer = narrate(api, pair.token())
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["result"]["text"] == "health 77 (degraded)"
    whoami = api.client.get("/api/auth/whoami", headers={"Authorization": f"Bearer {pair.token()}"}).get_json()
    assert whoami == {"key_id": f"oidc:{WORKFLOWS}", "role": "operator"}


def test_the_principal_is_the_actor_in_the_audit_log(api: Api, google: tuple[KeyPair, Issuer]) -> None:
    pair, _ = google
    source = "main:\n  steps:\n    - r:\n        return: 1\n"
    with pytest.MonkeyPatch.context() as patch:
        seen: list[dict[str, Any]] = []
        patch.setattr("qcl.api.routes_workflows.audit", lambda action, **kw: seen.append({"action": action, **kw}))
        answer = api.client.post(
            "/api/workflows",
            json={"name": "one", "source": source},
            headers={"Authorization": f"Bearer {pair.token()}"},
        )
    assert answer.status_code == 201, answer.get_json()
    assert seen[0]["action"] == "workflow.deployed" and seen[0]["actor"] == f"oidc:{WORKFLOWS}"


def test_a_principal_has_its_own_rate_limit_bucket(tmp_path: Path, google: tuple[KeyPair, Issuer]) -> None:
    pair, server = google
    api = make_api(
        tmp_path,
        oidc_audience=AUDIENCE,
        oidc_principals=f"{WORKFLOWS}=operator,{READER}=viewer",
        oidc_certs_url=server.url,
        rate_limit_key_burst=2,
        rate_limit_key_per_s=0.001,
    )
    workflows = {"Authorization": f"Bearer {pair.token()}"}
    assert [api.client.get("/api/auth/whoami", headers=workflows).status_code for _ in range(3)] == [200, 200, 429]
    reader = {"Authorization": f"Bearer {pair.token(email=READER)}"}
    assert api.client.get("/api/auth/whoami", headers=reader).status_code == 200  # another principal, another bucket
    assert api.client.get("/api/auth/whoami", headers=api.headers(Role.VIEWER)).status_code == 200


def test_a_role_too_low_is_403_naming_the_principal(api: Api, google: tuple[KeyPair, Issuer]) -> None:
    pair, _ = google
    answer = narrate(api, pair.token(email=READER))
    assert answer.status_code == 403
    assert answer.get_json()["error"]["message"] == (f"this needs the operator role; key oidc:{READER} is viewer")


@pytest.mark.parametrize(
    ("claims", "says"),
    [
        ({"aud": "https://elsewhere.example/"}, "audience is not this API: it is https://elsewhere.example/"),
        ({"iat": -7200, "exp": -3600}, "has expired"),  # times are seconds from when the test runs
        ({"email": "intruder@qcl-test.iam.gserviceaccount.com"}, "is not an allowed principal"),
        ({"email_verified": False}, "is not verified"),
        ({"email_verified": None}, "is not verified"),
        ({"email": None}, "has no email claim"),
        ({"iss": "https://issuer.example"}, "issuer is 'https://issuer.example', not Google's"),
        ({"iat": 600}, "not valid yet"),
    ],
)
def test_a_bad_token_is_401_naming_the_problem(
    api: Api, google: tuple[KeyPair, Issuer], claims: dict[str, Any], says: str
) -> None:
    pair, _ = google
    now = int(time.time())  # not at collection: a long run reaches this test many minutes later
    claims = {name: now + value if name in ("iat", "exp") else value for name, value in claims.items()}
    assert says in refusal(narrate(api, pair.token(**claims)))


def test_a_token_signed_with_another_key_is_401(api: Api, google: tuple[KeyPair, Issuer]) -> None:
    impostor = KeyPair("kid-1")  # claims Google's key id, signs with its own key
    assert "signature does not verify" in refusal(narrate(api, impostor.token()))
    unknown = KeyPair("kid-unknown")
    assert "a key Google does not publish" in refusal(narrate(api, unknown.token()))


def test_a_tampered_token_is_401(api: Api, google: tuple[KeyPair, Issuer]) -> None:
    header, _, signature = google[0].token().split(".")
    _, other_payload, _ = google[0].token(email=READER, aud="https://x.example").split(".")
    assert "signature does not verify" in refusal(narrate(api, f"{header}.{other_payload}.{signature}"))


@pytest.mark.parametrize(
    ("token", "says"),
    [
        ("a.b.c", "not a valid ID token"),  # segments that are not base64 JSON
        ("eyJhbGciOiJSUzI1NiJ9.e30.", "signature does not verify"),  # unsigned
        ("eyJhbGciOiJub25lIn0.e30.", "signing algorithm is not supported"),  # alg: none
        ("x" * 9000 + ".y.z", "longer than 8192 characters"),
    ],
)
def test_a_malformed_jwt_is_401(api: Api, token: str, says: str) -> None:
    assert says in refusal(narrate(api, token))


def test_certificates_are_fetched_once_and_cached(api: Api, google: tuple[KeyPair, Issuer]) -> None:
    pair, server = google
    for _ in range(5):
        assert narrate(api, pair.token()).status_code == 200
    assert server.fetches == 1


def test_unreachable_certificates_are_503_not_a_judgement_of_the_token(
    api: Api, google: tuple[KeyPair, Issuer]
) -> None:
    pair, server = google
    server.status = 500
    answer = narrate(api, pair.token())
    assert answer.status_code == 503 and "Retry-After" in answer.headers
    assert "certificates are unreachable" in answer.get_json()["error"]["message"]
    server.status = 200
    assert narrate(api, pair.token()).status_code == 200


def test_api_keys_work_unchanged_beside_id_tokens(api: Api) -> None:
    body = {"report": report(score=77).model_dump(mode="json"), "language": "en"}
    assert api.client.post(NARRATE, json=body, headers=api.headers(Role.OPERATOR)).status_code == 200
    assert api.client.post(NARRATE, json=body, headers=api.headers(Role.VIEWER)).status_code == 403
    bad_key = api.client.post(NARRATE, json=body, headers={"Authorization": "Bearer qcl_00000000_nope"})
    assert refusal(bad_key) == "the API key is unknown or revoked"


def test_without_an_audience_id_tokens_are_refused(tmp_path: Path, google: tuple[KeyPair, Issuer]) -> None:
    api = make_api(tmp_path, narrator=TemplateNarrator())
    assert "QCL_OIDC_AUDIENCE is not set" in refusal(narrate(api, google[0].token()))


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"QCL_OIDC_PRINCIPALS": f"{WORKFLOWS}=operator"}, "QCL_OIDC_PRINCIPALS: Value error, principals need"),
        ({"QCL_OIDC_AUDIENCE": AUDIENCE}, "QCL_OIDC_PRINCIPALS: Value error, QCL_OIDC_AUDIENCE is set but no"),
        ({"QCL_OIDC_AUDIENCE": AUDIENCE, "QCL_OIDC_PRINCIPALS": "nobody=operator"}, "is not email=role"),
        ({"QCL_OIDC_AUDIENCE": AUDIENCE, "QCL_OIDC_PRINCIPALS": f"{WORKFLOWS}=root"}, "QCL_OIDC_PRINCIPALS."),
        ({"QCL_OIDC_AUDIENCE": "qcl-api"}, "QCL_OIDC_AUDIENCE: String should match pattern"),
    ],
)
def test_settings_name_the_bad_variable(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], says: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match="invalid settings") as raised:
        load_settings()
    assert says in str(raised.value)


def test_settings_read_principals_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QCL_OIDC_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("QCL_OIDC_PRINCIPALS", f" {WORKFLOWS.upper()}=operator , {READER}=viewer ")
    settings = load_settings()
    assert settings.oidc_principals == {WORKFLOWS: "operator", READER: "viewer"}


def test_bench_oidc_measures_both_credentials_with_a_warm_cache() -> None:
    from qcl.bench.oidc import run_oidc_bench

    result = run_oidc_bench(requests=20)
    for figure in ("id_token_verify", "api_key_verify", "request_with_api_key", "request_with_id_token"):
        assert result[figure]["p50_us"] > 0
    assert result["certificate_fetches"] == 2  # one per verifier; 80 verifications later, still only those


def test_a_key_google_rotated_in_is_fetched_once_the_cache_is_a_minute_old(google: tuple[KeyPair, Issuer]) -> None:
    from qcl.api.oidc import CachedCerts, IdTokens

    issuer = google[1]
    now = [1000.0]
    tokens = IdTokens(AUDIENCE, {WORKFLOWS: Role.OPERATOR}, issuer.url, CachedCerts(clock=lambda: now[0]))
    assert tokens.verify(issuer.token()).role is Role.OPERATOR
    rotated = KeyPair("kid-2")
    issuer.published.append(rotated)
    with pytest.raises(ApiError, match="a key Google does not publish"):
        tokens.verify(rotated.token())  # fetched seconds ago: no refetch per unknown key id
    assert issuer.fetches == 1
    now[0] += 61
    assert tokens.verify(rotated.token()).id == f"oidc:{WORKFLOWS}"
    assert issuer.fetches == 2
