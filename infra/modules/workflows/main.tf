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

# Triggers (workflows/triggers.json, shaped by modules/naming). A schedule is a Cloud Scheduler job that starts an
# execution through the Workflow Executions API; its argument is {"trigger": <the spec>}.
resource "google_cloud_scheduler_job" "trigger" {
  for_each = var.schedules

  project          = var.project_id
  region           = var.region
  name             = "${var.name_prefix}-wf-${each.key}"
  description      = "starts workflow ${each.value.workflow} (workflows/triggers.json)"
  schedule         = each.value.schedule
  time_zone        = "Etc/UTC" # the local executor's cron-lite is UTC too
  attempt_deadline = "60s"

  retry_config {
    retry_count = 2
  }

  http_target {
    uri         = "https://workflowexecutions.googleapis.com/v1/${google_workflows_workflow.this[each.value.workflow].id}/executions"
    http_method = "POST"
    body        = base64encode(jsonencode({ argument = jsonencode({ trigger = each.value.spec }) }))
    headers     = { "Content-Type" = "application/json" }
    oauth_token {
      service_account_email = var.service_account_email
      scope                 = "https://www.googleapis.com/auth/cloud-platform"
    }
  }
}

# A topic trigger: Eventarc delivers each message of the topic to a guard workflow, which evaluates the trigger's
# condition on the event and starts the workflow with the event as its argument when it holds.
resource "google_workflows_workflow" "guard" {
  for_each = var.topic_triggers

  project         = var.project_id
  region          = var.region
  name            = "${var.name_prefix}-on-${each.key}"
  description     = "starts ${each.value.workflow} on ${each.value.topic} when ${each.value.condition}"
  service_account = var.service_account_email
  call_log_level  = var.call_log_level
  labels          = var.labels
  source_contents = templatefile("${path.module}/guard.yaml.tftpl", {
    workflow  = each.value.workflow
    topic     = each.value.topic
    condition = jsonencode(each.value.condition) # a JSON string is a YAML string
    target    = google_workflows_workflow.this[each.value.workflow].id
  })
}

resource "google_eventarc_trigger" "topic" {
  for_each = var.topic_triggers

  project         = var.project_id
  location        = var.region
  name            = "${var.name_prefix}-on-${each.key}"
  service_account = var.service_account_email
  labels          = var.labels

  matching_criteria {
    attribute = "type"
    value     = "google.cloud.pubsub.topic.v1.messagePublished"
  }
  transport {
    pubsub {
      topic = var.topic_ids[each.value.topic]
    }
  }
  destination {
    workflow = google_workflows_workflow.guard[each.key].id
  }
}

# The workflows' account starts executions (the scheduler jobs and the guards act as it) and receives events.
resource "google_project_iam_member" "workflows_triggers" {
  for_each = toset(length(var.schedules) + length(var.topic_triggers) > 0 ? ["roles/workflows.invoker", "roles/eventarc.eventReceiver"] : [])
  project  = var.project_id
  role     = each.value
  member   = "serviceAccount:${var.service_account_email}"
}
