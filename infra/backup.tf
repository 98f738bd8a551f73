# Backups (`qcl backup create`, docs/runbooks/disaster-recovery.md): Cloud Scheduler runs a Cloud Run job on
# var.backup_schedule that writes the store's durable state, AES-256-GCM encrypted with a key from Secret Manager,
# into a versioned bucket whose retention policy keeps every object for var.backup_retention_days: not even the job's
# own identity can delete or replace a backup earlier. The member keys and the pepper live in Secret Manager already
# (secrets.tf, versioned there); the job backs up what only Redis holds.

resource "random_bytes" "backup_key" {
  length = 32
}

resource "google_secret_manager_secret_version" "backup_key" {
  secret      = google_secret_manager_secret.this["backup_key"].id
  secret_data = random_bytes.backup_key.base64
}

resource "google_storage_bucket" "backups" {
  # checkov:skip=CKV_GCP_62:access logs of a bucket only the backup job writes add nothing over Cloud Audit Logs
  name                        = "${var.project_id}-${var.name_prefix}-backups"
  project                     = var.project_id
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection
  labels                      = module.naming.labels

  versioning {
    enabled = true
  }

  retention_policy {
    retention_period = var.backup_retention_days * 86400
  }

  # Backups older than the retention period plus a month go; the newest ones always stay.
  lifecycle_rule {
    condition {
      age = var.backup_retention_days + 30
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.apis]
}

# Write and read (list, restore) backups; no delete: the retention policy and this grant both keep them.
resource "google_storage_bucket_iam_member" "backup_job" {
  for_each = toset(["roles/storage.objectCreator", "roles/storage.objectViewer"])
  bucket   = google_storage_bucket.backups.name
  role     = each.value
  member   = "serviceAccount:${google_service_account.component["backup"].email}"
}

resource "google_cloud_run_v2_job" "backup" {
  name                = "${var.name_prefix}-backup"
  project             = var.project_id
  location            = var.region
  deletion_protection = var.deletion_protection
  labels              = module.naming.labels

  template {
    task_count = 1

    template {
      service_account = google_service_account.component["backup"].email
      timeout         = "1800s"
      max_retries     = 1

      vpc_access {
        connector = module.network.connector_id
        egress    = "PRIVATE_RANGES_ONLY"
      }

      containers {
        image   = local.images["api"]
        command = ["qcl"]
        args    = ["backup", "create", "--to", "gs://${google_storage_bucket.backups.name}/${var.environment}"]

        # A restore run as this job holds every record at once: 719 MiB peak for 300,000 keys (`qcl bench backup`).
        resources {
          limits = {
            cpu    = "1"
            memory = "2Gi"
          }
        }

        dynamic "env" {
          # A live source: a restore is refused for a replay (which clears its store at start).
          for_each = merge(local.common_env, { QCL_SOURCE = "rpc" })
          content {
            name  = env.key
            value = env.value
          }
        }

        dynamic "env" {
          for_each = merge(local.redis_secret_env, { QCL_BACKUP_KEY = google_secret_manager_secret.this["backup_key"].secret_id })
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

        volume_mounts {
          name       = "redis-ca"
          mount_path = "/secrets/redis-ca"
        }
      }

      volumes {
        name = "redis-ca"
        secret {
          secret = google_secret_manager_secret.redis_ca.secret_id
          items {
            version = "latest"
            path    = "ca.pem"
          }
        }
      }
    }
  }

  depends_on = [google_secret_manager_secret_version.redis_url, google_secret_manager_secret_version.redis_ca, google_secret_manager_secret_version.backup_key]
}

resource "google_cloud_run_v2_job_iam_member" "scheduler_runs_backup" {
  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_job.backup.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.component["scheduler"].email}"
}

resource "google_cloud_scheduler_job" "backup" {
  name             = "${var.name_prefix}-backup"
  project          = var.project_id
  region           = var.region
  schedule         = var.backup_schedule
  time_zone        = var.scheduler_time_zone
  attempt_deadline = "60s" # starting the job; the job itself has its own timeout

  retry_config {
    retry_count = 2
  }

  http_target {
    uri         = "https://run.googleapis.com/v2/projects/${var.project_id}/locations/${var.region}/jobs/${google_cloud_run_v2_job.backup.name}:run"
    http_method = "POST"
    oauth_token {
      service_account_email = google_service_account.component["scheduler"].email
      scope                 = "https://www.googleapis.com/auth/cloud-platform"
    }
  }

  depends_on = [google_project_service.apis]
}
