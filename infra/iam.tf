# One service account per component, each with only what it uses. Topic grants follow the registry's producers and
# consumers (modules/naming), so a topic added to the library gets its IAM with no edit here.

resource "google_service_account" "component" {
  for_each     = module.naming.service_accounts
  project      = var.project_id
  account_id   = each.value
  display_name = "qcl ${each.key} (${var.environment})"

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic_iam_member" "producer" {
  for_each = module.naming.publishers
  project  = var.project_id
  topic    = each.value.topic
  role     = "roles/pubsub.publisher"
  member   = "serviceAccount:${google_service_account.component[each.value.component].email}"

  depends_on = [module.pubsub]
}

# Consumers dead-letter undecodable and exhausted events themselves, with the reason in the attributes.
resource "google_pubsub_topic_iam_member" "consumer_dead_letters" {
  for_each = module.naming.dead_letter_publishers
  project  = var.project_id
  topic    = each.value.topic
  role     = "roles/pubsub.publisher"
  member   = "serviceAccount:${google_service_account.component[each.value.component].email}"

  depends_on = [module.pubsub]
}

# Oracle member i reads oracle-protocol.oracle-<i> alone; the members share oracle-requests.oracle and
# network-analysis.oracle (each takes some of the messages).
resource "google_pubsub_subscription_iam_member" "pull_consumer" {
  for_each = merge([
    for subscription, identities in module.naming.pull_subscribers : {
      for identity in identities : "${subscription}/${identity}" => { subscription = subscription, identity = identity }
    }
  ]...)
  project      = var.project_id
  subscription = each.value.subscription
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:${google_service_account.component[each.value.identity].email}"

  depends_on = [module.pubsub]
}

locals {
  # Which identity reads which secret. Oracle member i reads its own key and nothing of another member's; the
  # committee file (public keys) is for every member.
  redis_readers = concat(["ingest", "api", "analyzer", "narrator", "shard", "backup"], keys(module.naming.oracle_members))
  secret_readers = merge(
    { for c in local.redis_readers : "redis_url/${c}" => { secret = google_secret_manager_secret.this["redis_url"].id, component = c } },
    { for c in local.redis_readers : "redis_ca/${c}" => { secret = google_secret_manager_secret.redis_ca.id, component = c } },
    { "backup_key/backup" = { secret = google_secret_manager_secret.this["backup_key"].id, component = "backup" } },
    { "api_key_pepper/api" = { secret = google_secret_manager_secret.this["api_key_pepper"].id, component = "api" } },
    { "run_monitoring/api" = { secret = google_secret_manager_secret.this["run_monitoring"].id, component = "api" } },
    { for m, member in module.naming.oracle_members : "${member.key_secret}/${m}" => { secret = google_secret_manager_secret.this[member.key_secret].id, component = m } },
    { for m, member in module.naming.oracle_members : "oracle_committee/${m}" => { secret = google_secret_manager_secret.oracle_committee.id, component = m } },
  )
}

resource "google_secret_manager_secret_iam_member" "reader" {
  for_each  = local.secret_readers
  project   = var.project_id
  secret_id = each.value.secret
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.component[each.value.component].email}"
}

# The shard VMs pull their image and write logs and metrics; nothing else runs on a VM.
resource "google_artifact_registry_repository_iam_member" "shard_pulls_images" {
  project    = var.project_id
  location   = var.region
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.reader"
  member     = "serviceAccount:${google_service_account.component["shard"].email}"
}

resource "google_project_iam_member" "shard_observability" {
  for_each = toset(["roles/logging.logWriter", "roles/monitoring.metricWriter"])
  project  = var.project_id
  role     = each.value
  member   = "serviceAccount:${google_service_account.component["shard"].email}"
}

# The API service's Managed Service for Prometheus sidecar writes the API's /metrics as Prometheus series.
resource "google_project_iam_member" "api_writes_metrics" {
  project = var.project_id
  role    = "roles/monitoring.metricWriter"
  member  = "serviceAccount:${google_service_account.component["api"].email}"
}
