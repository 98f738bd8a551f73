# The example workflows (workflows/*.yaml) as Cloud Workflows. Each source is the translated file: its qcl.* calls
# are http.post calls to the API's /api/workflows/connectors/<name>, authenticated with an OIDC token of the
# workflows' service account (which the API function lets invoke it).

resource "google_workflows_workflow" "this" {
  for_each = var.sources

  project         = var.project_id
  region          = var.region
  name            = "${var.name_prefix}-${each.key}"
  description     = "qcl workflow ${each.key} (workflows/${replace(each.key, "-", "_")}.yaml)"
  service_account = var.service_account_email
  source_contents = each.value
  call_log_level  = var.call_log_level
  labels          = var.labels

  user_env_vars = {
    QCL_API_BASE = trimsuffix(var.api_url, "/")
  }
}

# Executions write their step and call logs.
resource "google_project_iam_member" "workflows_write_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${var.service_account_email}"
}
