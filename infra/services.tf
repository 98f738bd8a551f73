# The services: Cloud Run (analyzer, narrator, api-svc; the oracle members in oracle.tf), Cloud Functions (ingest,
# api) and the ingest schedule.
# Every setting a service reads is a QCL_* variable (shared/qcl/config.py).

locals {
  common_env = {
    QCL_BUS                   = "pubsub"
    QCL_PROJECT               = var.project_id
    QCL_STORE                 = "redis"
    QCL_LOG_LEVEL             = var.log_level
    QCL_MAX_DELIVERY_ATTEMPTS = tostring(module.naming.max_delivery_attempts)
  }
  redis_secret_env   = { QCL_REDIS_URL = google_secret_manager_secret.this["redis_url"].secret_id }
  redis_secret_files = { "/secrets/redis-ca" = google_secret_manager_secret.redis_ca.secret_id }
  # Request timeouts: a push consumer's equals its ack deadline. The API pulls; its timeout is Cloud Run's longest,
  # because a WebSocket is one request there and is cut at the timeout (clients then resume with last_seq).
  timeouts = merge(
    { for c in ["analyzer", "narrator"] : c => lookup(module.naming.consumer_timeouts_s, c, 60) },
    { api = 3600 },
  )

  # Shape per Cloud Run service; the timeout equals the ack deadline of the subscriptions that push to it.
  # always_on: CPU stays allocated between requests (a GPU, or a service that also pulls); public: takes traffic
  # from outside (the API), else only the push identity may invoke it, through internal ingress.
  cloud_run = {
    analyzer = {
      cpu               = "1"
      memory            = "1Gi"
      gpu               = false
      always_on         = false
      public            = false
      min               = 0
      max               = var.analyzer_max_instances
      concurrency       = 8
      startup_timeout_s = 60
      env               = {}
      secret_env        = {}
      metrics           = false
    }
    narrator = {
      # Cloud Run L4: at least 4 vCPU and 16 GiB, CPU always allocated (https://cloud.google.com/run/docs/configuring/services/gpu).
      cpu               = "4"
      memory            = "16Gi"
      gpu               = true
      always_on         = true
      public            = false
      min               = var.narrator_min_instances
      max               = var.narrator_max_instances
      concurrency       = var.narrator_concurrency
      startup_timeout_s = 300                                # model load
      env               = { QCL_MODEL = var.narrator_model } # shard stages register in the store; the narrator finds them there
      secret_env        = {}
      metrics           = false
    }
    # The long-lived API (containers/api/main.py): HTTP, the WebSocket stream, and the `api` consumer that pulls
    # network-analysis, ai-insights, oracle-results and node-events into the store. The api Cloud Function serves
    # the same HTTP routes statelessly; this service is what keeps the store current.
    api = {
      cpu               = "1"
      memory            = "1Gi"
      gpu               = false
      always_on         = true
      public            = true
      min               = 1
      max               = var.api_max_instances
      concurrency       = 1000 # WebSocket subscribers count as requests; the event loop holds them cheaply
      startup_timeout_s = 60
      env               = {}
      secret_env        = { QCL_API_KEY_PEPPER = google_secret_manager_secret.this["api_key_pepper"].secret_id }
      # Its /metrics holds state nothing else exports (circuit breakers, nodes, the model's queue): the PromQL alert
      # policies (modules/monitoring) read it through the Managed Service for Prometheus sidecar.
      metrics = true
    }
  }
  # The API's loopback metrics port (QCL_METRICS_PORT), which the sidecar scrapes; Cloud Run's ingress reaches 8080 only.
  metrics_port = 9464
}

# The sidecar's scrape configuration (RunMonitoring, a subset of GKE's PodMonitoring), read from Secret Manager.
resource "google_secret_manager_secret_version" "run_monitoring" {
  secret = google_secret_manager_secret.this["run_monitoring"].id
  secret_data = yamlencode({
    apiVersion = "monitoring.googleapis.com/v1beta"
    kind       = "RunMonitoring"
    metadata   = { name = "qcl-api" }
    spec       = { endpoints = [{ port = local.metrics_port, path = "/metrics", interval = "30s" }] }
  })
}

module "service" {
  source   = "./modules/cloud_run_service"
  for_each = local.cloud_run

  name                  = module.naming.services[each.key]
  project_id            = var.project_id
  region                = var.region
  image                 = local.images[each.key]
  service_account_email = google_service_account.component[each.key].email
  env                   = merge(local.common_env, each.value.env)
  secret_env            = merge(local.redis_secret_env, each.value.secret_env)
  secret_files          = local.redis_secret_files
  cpu                   = each.value.cpu
  memory                = each.value.memory
  gpu                   = each.value.gpu
  cpu_always_allocated  = each.value.always_on
  gpu_zonal_redundancy  = var.narrator_gpu_zonal_redundancy
  min_instances         = each.value.min
  max_instances         = each.value.max
  concurrency           = each.value.concurrency
  timeout_s             = local.timeouts[each.key]
  startup_timeout_s     = each.value.startup_timeout_s
  ingress               = each.value.public ? "INGRESS_TRAFFIC_ALL" : "INGRESS_TRAFFIC_INTERNAL_ONLY"
  invokers              = each.value.public ? var.api_invokers : ["serviceAccount:${google_service_account.component["push"].email}"]
  vpc_connector         = module.network.connector_id
  labels                = module.naming.labels
  deletion_protection   = var.deletion_protection
  metrics_sidecar = each.value.metrics ? {
    image         = var.prometheus_sidecar_image
    port          = local.metrics_port
    config_secret = google_secret_manager_secret.this["run_monitoring"].secret_id
  } : null

  depends_on = [google_secret_manager_secret_version.redis_url, google_secret_manager_secret_version.redis_ca, google_secret_manager_secret_version.api_key_pepper, google_secret_manager_secret_version.run_monitoring]
}

module "function" {
  source = "./modules/function"
  for_each = {
    ingest = {
      env = { QCL_SOURCE = "rpc", QCL_RPC_URL = var.qubic_rpc_url }, secret_env = {}, max = 1, timeout_s = 60
      # Only Cloud Scheduler calls ingest.
      ingress = "ALLOW_INTERNAL_ONLY", invokers = ["serviceAccount:${google_service_account.component["scheduler"].email}"]
    }
    api = {
      # The workflows' qcl.* calls carry Google ID tokens of their service account (qcl.api.oidc), as an operator;
      # so do Cloud Monitoring's incidents, pushed by Pub/Sub as the push identity (modules/monitoring).
      env = {
        QCL_OIDC_AUDIENCE   = local.api_function_url
        QCL_OIDC_PRINCIPALS = "${google_service_account.component["workflows"].email}=operator,${google_service_account.component["push"].email}=operator"
      }
      secret_env = { QCL_API_KEY_PEPPER = google_secret_manager_secret.this["api_key_pepper"].secret_id }
      max        = var.api_max_instances, timeout_s = local.timeouts["api"]
      # Cloud Workflows call the qcl.* connectors with OIDC tokens of the workflows' service account.
      ingress = "ALLOW_ALL", invokers = concat(var.api_invokers, [for c in ["workflows", "push"] : "serviceAccount:${google_service_account.component[c].email}"])
    }
  }

  name                     = module.naming.functions[each.key]
  project_id               = var.project_id
  region                   = var.region
  entry_point              = each.key
  source_dir               = "${path.module}/../functions/${each.key}"
  library_dir              = "${path.module}/../shared/qcl"
  requirements_file        = "${path.module}/../containers/requirements/cpu.lock"
  source_bucket            = google_storage_bucket.sources.name
  service_account_email    = google_service_account.component[each.key].email
  build_service_account_id = google_service_account.component["deployer"].id
  env                      = merge(local.common_env, each.value.env)
  secret_env               = merge(local.redis_secret_env, each.value.secret_env)
  secret_files             = local.redis_secret_files
  max_instances            = each.value.max
  timeout_s                = each.value.timeout_s
  ingress                  = each.value.ingress
  invokers                 = each.value.invokers
  vpc_connector            = module.network.connector_id
  labels                   = module.naming.labels

  depends_on = [google_secret_manager_secret_version.redis_url, google_secret_manager_secret_version.redis_ca, google_secret_manager_secret_version.api_key_pepper]
}

resource "google_cloud_scheduler_job" "ingest" {
  name             = "${var.name_prefix}-ingest"
  project          = var.project_id
  region           = var.region
  schedule         = module.naming.ingest_schedule
  time_zone        = var.scheduler_time_zone
  attempt_deadline = "60s"

  # No retries: the next run comes within the schedule's period, and a late retry would carry an older observation.
  retry_config {
    retry_count = 0
  }

  http_target {
    uri         = module.function["ingest"].uri
    http_method = "POST"
    oidc_token {
      service_account_email = google_service_account.component["scheduler"].email
      audience              = module.function["ingest"].uri
    }
  }

  depends_on = [google_project_service.apis]
}
