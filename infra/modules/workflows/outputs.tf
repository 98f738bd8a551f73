output "workflow_ids" {
  description = "Workflow name to its id."
  value       = { for name, wf in google_workflows_workflow.this : name => wf.id }
}

output "revisions" {
  description = "Workflow name to its deployed revision id (a new one on every change of its source)."
  value       = { for name, wf in google_workflows_workflow.this : name => wf.revision_id }
}

output "trigger_ids" {
  description = "Trigger key to the Cloud Scheduler job or Eventarc trigger that starts its workflow."
  value = merge(
    { for key, job in google_cloud_scheduler_job.trigger : key => job.id },
    { for key, trigger in google_eventarc_trigger.topic : key => trigger.id },
  )
}
