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

resource "google_pubsub_subscription_iam_member" "pull_consumer" {
  for_each     = module.naming.pull_subscribers
  project      = var.project_id
  subscription = each.key
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:${google_service_account.component[each.value].email}"

  depends_on = [module.pubsub]
}

locals {
  # Which component reads which secret.
  secret_readers = merge(
    { for c in ["ingest", "api", "analyzer", "narrator", "oracle", "shard"] : "redis_url/${c}" => { secret = google_secret_manager_secret.this["redis_url"].id, component = c } },
    { for c in ["ingest", "api", "analyzer", "narrator", "oracle", "shard"] : "redis_ca/${c}" => { secret = google_secret_manager_secret.redis_ca.id, component = c } },
    { "api_key_pepper/api" = { secret = google_secret_manager_secret.this["api_key_pepper"].id, component = "api" } },
    { for i in range(var.oracle_nodes) : "oracle_node_key_${i}/oracle" => { secret = google_secret_manager_secret.this["oracle_node_key_${i}"].id, component = "oracle" } },
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
