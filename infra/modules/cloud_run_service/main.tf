# One Cloud Run service (v2 API): probes, concurrency and scaling limits, private ingress, VPC egress for Redis,
# secrets from Secret Manager, an optional L4 GPU (https://cloud.google.com/run/docs/configuring/services/gpu), and
# optionally Google's Managed Service for Prometheus sidecar, which scrapes the app's /metrics on a loopback port
# (https://cloud.google.com/run/docs/monitoring-managed-prometheus-sidecar): the PromQL alert policies read it.

locals {
  probe_period_s = 10
}

resource "google_cloud_run_v2_service" "this" {
  name                = var.name
  project             = var.project_id
  location            = var.region
  ingress             = var.ingress
  labels              = var.labels
  deletion_protection = var.deletion_protection

  template {
    service_account                  = var.service_account_email
    timeout                          = "${var.timeout_s}s"
    max_instance_request_concurrency = var.concurrency
    execution_environment            = "EXECUTION_ENVIRONMENT_GEN2"
    labels                           = var.labels
    gpu_zonal_redundancy_disabled    = var.gpu ? !var.gpu_zonal_redundancy : null

    scaling {
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
    }

    dynamic "node_selector" {
      for_each = var.gpu ? ["nvidia-l4"] : []
      content {
        accelerator = node_selector.value
      }
    }

    vpc_access {
      connector = var.vpc_connector
      egress    = "PRIVATE_RANGES_ONLY" # the Qubic RPC and Google APIs stay on the direct path
    }

    containers {
      name  = "app"
      image = var.image

      ports {
        container_port = 8080
      }

      resources {
        limits            = merge({ cpu = var.cpu, memory = var.memory }, var.gpu ? { "nvidia.com/gpu" = "1" } : {})
        cpu_idle          = !(var.cpu_always_allocated || var.gpu)
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = var.env
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = var.metrics_sidecar == null ? {} : { QCL_METRICS_PORT = tostring(var.metrics_sidecar.port) }
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = var.secret_env
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value
              version = "latest"
            }
          }
        }
      }

      dynamic "volume_mounts" {
        for_each = var.secret_files
        content {
          name       = replace(trimprefix(volume_mounts.key, "/"), "/", "-")
          mount_path = volume_mounts.key
        }
      }

      # Startup: the first healthy answer may take a model load; liveness then restarts a hung instance.
      startup_probe {
        period_seconds    = local.probe_period_s
        timeout_seconds   = 5
        failure_threshold = ceil(var.startup_timeout_s / local.probe_period_s)
        http_get {
          path = var.health_path
        }
      }

      liveness_probe {
        period_seconds    = 30
        timeout_seconds   = 5
        failure_threshold = 3
        http_get {
          path = var.health_path
        }
      }
    }

    # The collector starts after the app, scrapes 127.0.0.1:<port>/metrics as its RunMonitoring config says (mounted
    # from Secret Manager at /etc/rungmp/config.yaml), and writes to Managed Service for Prometheus. Its limits are
    # Cloud Run's defaults for a sidecar, written out.
    dynamic "containers" {
      for_each = var.metrics_sidecar == null ? [] : [var.metrics_sidecar]
      content {
        name       = "collector"
        image      = containers.value.image
        depends_on = ["app"]

        resources {
          limits = { cpu = "1", memory = "512Mi" }
        }

        volume_mounts {
          name       = "rungmp-config"
          mount_path = "/etc/rungmp"
        }
      }
    }

    dynamic "volumes" {
      for_each = var.metrics_sidecar == null ? [] : [var.metrics_sidecar]
      content {
        name = "rungmp-config"
        secret {
          secret = volumes.value.config_secret
          items {
            version = "latest"
            path    = "config.yaml"
          }
        }
      }
    }

    dynamic "volumes" {
      for_each = var.secret_files
      content {
        name = replace(trimprefix(volumes.key, "/"), "/", "-")
        secret {
          secret = volumes.value
          items {
            version = "latest"
            path    = lookup(var.secret_file_names, volumes.key, var.secret_file_name)
          }
        }
      }
    }
  }

  # Terraform creates the service and owns its shape; Cloud Build owns the image and the traffic split
  # (canary 10 % -> 100 %, cloudbuild.yaml), so later applies do not roll a canary back.
  lifecycle {
    ignore_changes = [
      template[0].containers[0].image,
      traffic,
      client,
      client_version,
    ]
  }
}

resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = toset(var.invokers)
  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.this.name
  role     = "roles/run.invoker"
  member   = each.value
}
