# One Cloud Function (2nd gen, HTTP). The source archive is built here, during plan: the function's main.py, the
# qcl library vendored as qcl/, and the hashed CPU lock as requirements.txt, so the function installs no
# torch and needs no private package index. A changed file changes the archive's hash, its object name, and so
# redeploys the function.

locals {
  library_files = setunion(
    fileset(var.library_dir, "**/*.py"),
    fileset(var.library_dir, "**/*.jsonl"),
    fileset(var.library_dir, "**/*.md"),
    fileset(var.library_dir, "py.typed"),
  )
}

data "archive_file" "source" {
  type        = "zip"
  output_path = "${path.root}/.build/${var.name}.zip"

  source {
    content  = file("${var.source_dir}/main.py")
    filename = "main.py"
  }

  source {
    content  = file(var.requirements_file)
    filename = "requirements.txt"
  }

  dynamic "source" {
    for_each = local.library_files
    content {
      content  = file("${var.library_dir}/${source.value}")
      filename = "qcl/${source.value}"
    }
  }
}

resource "google_storage_bucket_object" "source" {
  name   = "${var.name}/${data.archive_file.source.output_md5}.zip"
  bucket = var.source_bucket
  source = data.archive_file.source.output_path
}

resource "google_cloudfunctions2_function" "this" {
  # checkov:skip=CKV_GCP_124:the API is the public HTTP entry point (ingress ALLOW_ALL); run.invoker (var.invokers, never allUsers) still gates every call
  name     = var.name
  project  = var.project_id
  location = var.region
  labels   = var.labels

  build_config {
    runtime         = "python311"
    entry_point     = var.entry_point
    service_account = var.build_service_account_id
    source {
      storage_source {
        bucket = var.source_bucket
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = var.memory
    timeout_seconds                  = var.timeout_s
    min_instance_count               = var.min_instances
    max_instance_count               = var.max_instances
    ingress_settings                 = var.ingress
    all_traffic_on_latest_revision   = true
    service_account_email            = var.service_account_email
    vpc_connector                    = var.vpc_connector
    vpc_connector_egress_settings    = "PRIVATE_RANGES_ONLY"
    environment_variables            = var.env
    max_instance_request_concurrency = 1

    dynamic "secret_environment_variables" {
      for_each = var.secret_env
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }

    dynamic "secret_volumes" {
      for_each = var.secret_files
      content {
        mount_path = secret_volumes.key
        project_id = var.project_id
        secret     = secret_volumes.value
        versions {
          version = "latest"
          path    = "ca.pem"
        }
      }
    }
  }
}

# A 2nd gen function is served by a Cloud Run service of the same name; invoking it needs run.invoker there.
resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = toset(var.invokers)
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this.name
  role     = "roles/run.invoker"
  member   = each.value
}
