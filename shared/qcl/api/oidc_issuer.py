"""A stand-in for Google's ID token issuer, on loopback: for tests and the bench of qcl.api.oidc, never for serving.

    with LocalIssuer() as issuer:                    # an RSA key, its self-signed X.509 certificate, a certs URL
        settings = load_settings(oidc_audience=AUD, oidc_principals="sa@p.iam.gserviceaccount.com=operator",
                                 oidc_certs_url=issuer.url)
        token = issuer.token(aud=AUD, email="sa@p.iam.gserviceaccount.com")

The certificates URL answers `{kid: pem}` with Google's Cache-Control, as https://www.googleapis.com/oauth2/v1/certs
does, and counts its fetches; `status` makes it fail. Tokens are signed with google-auth's RSASigner.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt


class SigningKey:
    """An RSA key with a self-signed certificate, named by a key id (the JWT header's `kid`)."""

    def __init__(self, kid: str) -> None:
        self.kid = kid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, kid)])
        now = datetime.now(UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1))
            .sign(self.key, hashes.SHA256())
        )
        pem = self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self.signer = crypt.RSASigner.from_string(pem, key_id=kid)

    def cert_pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def token(self, **claims: Any) -> str:
        """A Google-shaped ID token (iss, aud, sub, email, email_verified, iat, exp); a claim given None is left out."""
        now = int(time.time())
        payload = {
            "iss": "https://accounts.google.com",
            "sub": "1234567890",
            "email_verified": True,
            "iat": now,
            "exp": now + 3600,
            **claims,
        }
        return jwt.encode(self.signer, {k: v for k, v in payload.items() if v is not None}).decode()


class LocalIssuer(SigningKey):
    """A signing key and a loopback HTTP server publishing its certificate as Google publishes its own."""

    def __init__(self, kid: str = "local-1") -> None:
        super().__init__(kid)
        self.status = 200
        self.fetches = 0
        self.published: list[SigningKey] = [self]  # append a key to rotate, as Google does
        issuer = self

        class Certs(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.fetches += 1
                certs = {key.kid: key.cert_pem() for key in issuer.published}
                body = json.dumps(certs).encode() if issuer.status == 200 else b"{}"
                self.send_response(issuer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "public, max-age=21600, must-revalidate, no-transform")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Certs)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/oauth2/v1/certs"
        threading.Thread(target=self.server.serve_forever, name="certs", daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
