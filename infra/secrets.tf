# Secrets: the Redis URL (AUTH string inside) and CA, the API-key pepper, one empty secret per oracle member's key,
# the oracle committee file, and the API's Prometheus sidecar config (its version is written in services.tf).
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

# The oracle members' keys are not generated here: Terraform's state would then hold every key, one place from which
# all members could be impersonated. The key ceremony (README.md) writes each member's key into its own secret with
# `qcl oracle export-key`; Terraform makes the empty secrets (modules/naming: oracle_node_key_<i>) and their grants
# (iam.tf: member i reads secret i only). The committee file is public: Terraform stores it for every member.
resource "google_secret_manager_secret" "oracle_committee" {
  project   = var.project_id
  secret_id = "${var.name_prefix}-oracle-committee"
  labels    = module.naming.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "oracle_committee" {
  count       = var.oracle_committee_file == "" ? 0 : 1
  secret      = google_secret_manager_secret.oracle_committee.id
  secret_data = file(var.oracle_committee_file)
}
