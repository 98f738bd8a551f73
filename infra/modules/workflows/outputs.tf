output "workflow_ids" {
  description = "Workflow name to its id."
  value       = { for name, wf in google_workflows_workflow.this : name => wf.id }
}

output "revisions" {
  description = "Workflow name to its deployed revision id (a new one on every change of its source)."
  value       = { for name, wf in google_workflows_workflow.this : name => wf.revision_id }
}
