# The Qubic AI Compute Layer on Google Cloud. Walk-through: README.md. Layout follows terraform-google-modules:
# this root wires the modules; names, routes and sizes come from modules/naming (provider-free, tested offline).

locals {
  # The topic registry exported from the library: `qcl topics --json > infra/topics.json` (tests/infra checks it).
  registry = jsondecode(file("${path.module}/topics.json"))

  repository = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
  # Until the first Cloud Build run has pushed images, services start from Google's public sample, which answers
  # every path with 200, so the probes pass.
  placeholder_image = "us-docker.pkg.dev/cloudrun/container/hello"
  images = {
    for name in ["analyzer", "narrator", "oracle", "api", "shard"] :
    name => var.image_tag == "" ? local.placeholder_image : "${local.repository}/${name}:${var.image_tag}"
  }

  apis = [
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    "compute.googleapis.com",
    "containeranalysis.googleapis.com", # the pipeline's image scan (cloudbuild.yaml, step scan)
    "eventarc.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "ondemandscanning.googleapis.com",
    "pubsub.googleapis.com",
    "redis.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "servicenetworking.googleapis.com",
    "vpcaccess.googleapis.com",
    "workflows.googleapis.com",
  ]
}

resource "google_project_service" "apis" {
  for_each           = toset(local.apis)
  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

module "naming" {
  source                = "./modules/naming"
  project_id            = var.project_id
  environment           = var.environment
  region                = var.region
  name_prefix           = var.name_prefix
  registry              = local.registry
  push_consumers        = var.push_consumers
  consumer_timeouts_s   = var.consumer_timeouts_s
  max_delivery_attempts = var.max_delivery_attempts
  shard_layer_ranges    = var.shard_layer_ranges
  shard_port            = var.shard_port
  ingest_schedule       = var.ingest_schedule
  oracle_nodes          = var.oracle_nodes
  workflow_triggers     = jsondecode(file("${path.module}/../workflows/triggers.json"))
}

resource "google_artifact_registry_repository" "images" {
  # checkov:skip=CKV_GCP_84:images are built from this public repository; Google-managed encryption suffices
  project       = var.project_id
  location      = var.region
  repository_id = "${var.name_prefix}-images"
  format        = "DOCKER"
  labels        = module.naming.labels

  # Keep the last 20 images per package so rollbacks have something to roll back to; drop the rest after 30 days.
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 20
    }
  }
  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s"
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket" "sources" {
  # checkov:skip=CKV_GCP_62:access logs of a bucket that only Terraform and Cloud Build touch add nothing over audit logs
  name                        = "${var.project_id}-${var.name_prefix}-sources"
  project                     = var.project_id
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection
  labels                      = module.naming.labels

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type = "Delete"
    }
  }
}

module "network" {
  source          = "./modules/network"
  project_id      = var.project_id
  region          = var.region
  name_prefix     = var.name_prefix
  labels          = module.naming.labels
  subnet_cidr     = var.subnet_cidr
  connector_cidr  = var.connector_cidr
  redis_tier      = var.redis_tier
  redis_memory_gb = var.redis_memory_gb
  redis_version   = var.redis_version

  depends_on = [google_project_service.apis]
}

module "pubsub" {
  source                     = "./modules/pubsub"
  project_id                 = var.project_id
  topics                     = module.naming.topics
  subscriptions              = module.naming.subscriptions
  hold_subscriptions         = module.naming.hold_subscriptions
  push_endpoints             = { for name, svc in module.service : name => svc.uri }
  push_service_account_email = google_service_account.component["push"].email
  labels                     = module.naming.labels

  depends_on = [google_project_service.apis]
}

module "shard_pool" {
  source = "./modules/shard_pool"
  # The pool starts once real images exist: the placeholder cannot serve gRPC and would be auto-healed in a loop.
  count                 = var.enable_shard_pool && var.image_tag != "" ? 1 : 0
  project_id            = var.project_id
  region                = var.region
  zones                 = var.shard_zones
  name_prefix           = var.name_prefix
  labels                = module.naming.labels
  network               = module.network.network_id
  subnetwork            = module.network.subnetwork_id
  service_account_email = google_service_account.component["shard"].email
  machine_type          = var.shard_machine_type
  gpu_type              = var.shard_gpu_type
  boot_disk_gb          = var.shard_boot_disk_gb
  image                 = local.images["shard"]
  model                 = var.shard_model
  stages                = module.naming.shard_stages
  port                  = module.naming.shard_port
  client_source_ranges  = [module.network.connector_cidr]
  env                   = local.common_env
  redis_url_secret      = google_secret_manager_secret.this["redis_url"].secret_id
  redis_ca_secret       = google_secret_manager_secret.redis_ca.secret_id

  depends_on = [google_secret_manager_secret_version.redis_url, google_secret_manager_secret_version.redis_ca]
}

module "monitoring" {
  source              = "./modules/monitoring"
  project_id          = var.project_id
  name_prefix         = var.name_prefix
  analyzer_service    = module.naming.services["analyzer"]
  http_services       = concat(values(module.naming.functions), [for s in concat(["analyzer", "api"], keys(module.naming.oracle_members)) : module.naming.services[s]])
  dead_letter_topics  = module.naming.dead_letter_topics
  shard_pool_enabled  = length(module.shard_pool) > 0
  notification_emails = var.alert_emails
  channels            = var.alert_channels
  runbook_base_url    = var.runbook_base_url
  api_service         = module.naming.services["api"]
  api_url             = module.service["api"].uri
  # Incidents reach the API's alert history through the api function, signed as the push identity (an operator).
  incidents_push = {
    endpoint              = "${local.api_function_url}/api/ops/alerts/gcp"
    audience              = local.api_function_url
    service_account_email = google_service_account.component["push"].email
  }
  region                   = var.region
  api_subscriptions        = sort([for name, s in module.naming.subscriptions : name if s.consumer == "api"])
  error_rate_threshold     = var.error_rate_threshold
  latency_p95_threshold_ms = var.latency_p95_threshold_ms
  stalled_pipeline_minutes = var.stalled_pipeline_minutes

  depends_on = [google_project_service.apis]
}
