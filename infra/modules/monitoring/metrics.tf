# The signals the policies in main.tf read where Cloud Run has no Prometheus scrape: log-based metrics from the
# analyzer's report line and the shard pool's health-check log, and an uptime check of the API's health path.

resource "google_logging_metric" "analysis_published" {
  name    = "${var.name_prefix}/analysis_published"
  project = var.project_id
  # One line per report the analyzer publishes (qcl/pipeline/analyzer.py: "analysis: tick ... health ...").
  filter = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=\"${var.analyzer_service}\"",
    "jsonPayload.message=~\"^analysis: tick \"",
  ])
  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "network-analysis reports published"
  }
}

resource "google_logging_metric" "shard_unhealthy" {
  name    = "${var.name_prefix}/shard_unhealthy"
  project = var.project_id
  # Health-check logging records each transition (https://cloud.google.com/load-balancing/docs/health-check-logging).
  filter = join(" AND ", [
    "logName=\"projects/${var.project_id}/logs/compute.googleapis.com%2Fhealthchecks\"",
    "jsonPayload.healthCheckProbeResult.healthState=\"UNHEALTHY\"",
  ])
  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "shard health checks turned unhealthy"
    labels {
      key         = "instance"
      value_type  = "STRING"
      description = "VM that turned unhealthy"
    }
  }
  label_extractors = {
    instance = "EXTRACT(jsonPayload.healthCheckProbeResult.targetIp)"
  }
}

# The analyzer logs one line per report: "analysis: tick T health H (status); findings: code(severity), ..."
# (qcl/pipeline/analyzer.py). The three metrics below read the network's state from it, so the network alerts work
# on Cloud Run where nothing scrapes the API's /metrics (which exports the same report as qcl_network_*).
resource "google_logging_metric" "analysis_health" {
  name    = "${var.name_prefix}/analysis_health"
  project = var.project_id
  filter = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=\"${var.analyzer_service}\"",
    "jsonPayload.message=~\"^analysis: tick \"",
  ])
  value_extractor = "REGEXP_EXTRACT(jsonPayload.message, \"health ([0-9]+) \")"
  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "1"
    display_name = "network health score of each report (0 to 100)"
  }
  bucket_options {
    linear_buckets {
      num_finite_buckets = 20
      width              = 5
      offset             = 0
    }
  }
}

resource "google_logging_metric" "critical_finding" {
  name    = "${var.name_prefix}/critical_finding"
  project = var.project_id
  filter = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=\"${var.analyzer_service}\"",
    "jsonPayload.message=~\"^analysis: tick .*findings: .*\\\\(critical\\\\)\"",
  ])
  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "reports with a critical finding"
    labels {
      key         = "code"
      value_type  = "STRING"
      description = "the finding's code (tick_stall, price_crash, ...); the first critical one of the report"
    }
  }
  label_extractors = {
    code = "REGEXP_EXTRACT(jsonPayload.message, \"findings: .*?([a-z_]+)\\\\(critical\\\\)\")"
  }
}

resource "google_logging_metric" "empty_ticks_high" {
  name    = "${var.name_prefix}/empty_ticks_high"
  project = var.project_id
  filter = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=\"${var.analyzer_service}\"",
    "jsonPayload.message=~\"^analysis: tick .*findings: .*empty_ticks_high\\\\(\"",
  ])
  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "reports with an empty_ticks_high finding"
  }
}

# The API is the one process of the stack that takes traffic from outside; the analyzer, narrator and oracle take
# internal ingress only, which uptime checkers cannot reach (Cloud Run restarts them on a failed liveness probe, and
# their silence shows as QclPipelineStalled or dead letters). The API requires run.invoker, so the check carries an
# OIDC token of Cloud Monitoring's agent, granted invoker below.
resource "google_monitoring_uptime_check_config" "api_health" {
  project      = var.project_id
  display_name = "${var.name_prefix} api ${var.health_path}"
  period       = "60s"
  timeout      = "10s"
  http_check {
    path         = var.health_path
    port         = 443
    use_ssl      = true
    validate_ssl = true
    accepted_response_status_codes {
      status_class = "STATUS_CLASS_2XX"
    }
    service_agent_authentication {
      type = "OIDC_TOKEN"
    }
  }
  monitored_resource {
    type = "uptime_url"
    labels = {
      project_id = var.project_id
      host       = trimsuffix(trimprefix(var.api_url, "https://"), "/")
    }
  }
}

resource "google_cloud_run_v2_service_iam_member" "uptime_invoker" {
  project  = var.project_id
  location = var.region
  name     = var.api_service
  role     = "roles/run.invoker"
  member   = local.monitoring_agent
}
