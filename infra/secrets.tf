# Secrets: the Redis URL (AUTH string inside) and CA, the API-key pepper and one Ed25519 seed per oracle node.
# Values are generated here and so sit in the Terraform state: keep the state bucket as private as the secrets
# (README.md, step 2). Rotate with `terraform apply -replace=random_bytes.<name>`.

resource "google_secret_manager_secret" "this" {
  for_each  = module.naming.secrets
  project   = var.project_id
  secret_id = each.value
  labels    = module.naming.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret" "redis_ca" {
  project   = var.project_id
  secret_id = "${var.name_prefix}-redis-ca"
  labels    = module.naming.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "redis_url" {
  secret = google_secret_manager_secret.this["redis_url"].id
  # TLS against the instance's own CA, mounted at /secrets/redis-ca/ca.pem (redis-py reads these query arguments).
  # Memorystore's certificate names no host we dial by, so the chain is verified and the host name is not.
  secret_data = format(
    "rediss://:%s@%s:%d/0?ssl_cert_reqs=required&ssl_ca_certs=/secrets/redis-ca/ca.pem&ssl_check_hostname=false",
    urlencode(module.network.redis_auth_string), module.network.redis_host, module.network.redis_port,
  )
}

resource "google_secret_manager_secret_version" "redis_ca" {
  secret      = google_secret_manager_secret.redis_ca.id
  secret_data = module.network.redis_ca_pem
}

resource "random_bytes" "api_key_pepper" {
  length = 32
}

resource "google_secret_manager_secret_version" "api_key_pepper" {
  secret      = google_secret_manager_secret.this["api_key_pepper"].id
  secret_data = random_bytes.api_key_pepper.base64
}

# An Ed25519 signing key is its 32-byte seed (RFC 8032, section 5.1.5); nacl.signing.SigningKey(seed) rebuilds it.
resource "random_bytes" "oracle_node_key" {
  count  = var.oracle_nodes
  length = 32
}

resource "google_secret_manager_secret_version" "oracle_node_key" {
  count       = var.oracle_nodes
  secret      = google_secret_manager_secret.this["oracle_node_key_${count.index}"].id
  secret_data = random_bytes.oracle_node_key[count.index].base64
}
