# Delivery: the identity Cloud Build runs as and, when a GitHub repository is connected, the triggers.
#   dev : every push to main   -> test, build, plan, apply, rollout (canary or blue-green, `qcl rollout`)
#   prod: every tag v*         -> the same, after a person approves the build (approval_config)
#   pr  : every pull request   -> test, build, plan against prod; nothing is applied

locals {
  # `terraform apply` in Cloud Build manages every resource type above, so the deployer administers each of them;
  # project IAM admin is what lets it grant the per-component roles in iam.tf.
  deployer_roles = [
    "roles/artifactregistry.admin",
    "roles/cloudfunctions.admin",
    "roles/cloudscheduler.admin",
    "roles/compute.admin",
    "roles/iam.serviceAccountAdmin",
    "roles/logging.configWriter",
    "roles/logging.logWriter",
    "roles/logging.viewer",
    "roles/monitoring.admin",
    "roles/ondemandscanning.admin", # scans the images it built before anything is planned (cloudbuild.yaml)
    "roles/pubsub.admin",
    "roles/redis.admin",
    "roles/resourcemanager.projectIamAdmin",
    "roles/run.admin",
    "roles/secretmanager.admin",
    "roles/serviceusage.serviceUsageAdmin",
    "roles/storage.admin",
    "roles/vpcaccess.admin",
  ]
  runtime_components = concat(["ingest", "api", "analyzer", "narrator", "shard", "scheduler", "push"], keys(module.naming.oracle_members))
}

resource "google_project_iam_member" "deployer" {
  # checkov:skip=CKV_GCP_42:the Terraform runner must administer what it manages; it runs only from the triggers below
  # checkov:skip=CKV_GCP_49:granting the runtime roles in iam.tf is the deployer's job (projectIamAdmin)
  for_each = toset(local.deployer_roles)
  project  = var.project_id
  role     = each.value
  member   = "serviceAccount:${google_service_account.component["deployer"].email}"
}

# Deploying a service or VM that runs as a component's identity needs actAs on that identity only.
resource "google_service_account_iam_member" "deployer_acts_as" {
  for_each           = toset(local.runtime_components)
  service_account_id = google_service_account.component[each.value].name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.component["deployer"].email}"
}

resource "google_cloudbuild_trigger" "this" {
  for_each = var.github == null ? {} : {
    dev  = { branch = "^main$", tag = null, pull_request = false, approval = false, env = "dev", apply = "true" }
    prod = { branch = null, tag = "^v[0-9]+\\.[0-9]+\\.[0-9]+$", pull_request = false, approval = true, env = "prod", apply = "true" }
    pr   = { branch = "^main$", tag = null, pull_request = true, approval = false, env = "prod", apply = "false" }
  }
  project         = var.project_id
  location        = var.region
  name            = "${var.name_prefix}-${each.key}"
  filename        = "cloudbuild.yaml"
  service_account = google_service_account.component["deployer"].id

  github {
    owner = var.github.owner
    name  = var.github.name

    dynamic "push" {
      for_each = each.value.pull_request ? [] : [each.value]
      content {
        branch = push.value.branch
        tag    = push.value.tag
      }
    }

    dynamic "pull_request" {
      for_each = each.value.pull_request ? [each.value] : []
      content {
        branch = pull_request.value.branch
      }
    }
  }

  approval_config {
    approval_required = each.value.approval
  }

  substitutions = {
    _ENV    = each.value.env
    _REGION = var.region
    _APPLY  = each.value.apply
  }
}
