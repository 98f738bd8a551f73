# Workflows: each file in workflows/gcp (made from workflows/*.yaml by `qcl workflows translate`; a test keeps them
# equal) deployed as a Cloud Workflow that runs as the workflows service account and calls the API function.
locals {
  # The API function's address as callers (and their ID tokens' audience) name it: written out rather than read from
  # the function, whose own settings (QCL_OIDC_AUDIENCE) need it before it exists. 2nd gen functions answer here too.
  api_function_url = "https://${var.region}-${var.project_id}.cloudfunctions.net/${module.naming.functions["api"]}"
}

module "workflows" {
  source                = "./modules/workflows"
  project_id            = var.project_id
  region                = var.region
  name_prefix           = var.name_prefix
  service_account_email = google_service_account.component["workflows"].email
  api_url               = local.api_function_url
  labels                = module.naming.labels
  sources = {
    for file in fileset("${path.module}/../workflows/gcp", "*.yaml") :
    replace(trimsuffix(file, ".yaml"), "_", "-") => file("${path.module}/../workflows/gcp/${file}")
  }
  # Cloud Scheduler jobs and Eventarc triggers from workflows/triggers.json (shaped by modules/naming).
  schedules      = module.naming.workflow_schedules
  topic_triggers = module.naming.workflow_topic_triggers
  topic_ids      = module.pubsub.topic_ids

  depends_on = [google_project_service.apis]
}
