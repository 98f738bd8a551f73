output "service_urls" {
  description = "Cloud Run service name to URL (internal ingress: reachable from Pub/Sub and the VPC)."
  value       = { for name, svc in module.service : svc.name => svc.uri }
}

output "function_urls" {
  description = "Cloud Function name to URL."
  value       = { for name, fn in module.function : fn.name => fn.uri }
}

output "image_repository" {
  description = "Artifact Registry path images are pushed to (cloudbuild.yaml's _REPOSITORY)."
  value       = local.repository
}

output "workflow_revisions" {
  description = "Cloud Workflow name to its deployed revision id."
  value       = module.workflows.revisions
}

output "topics" {
  description = "Topic and dead-letter topic ids."
  value       = module.pubsub.topic_ids
}

output "subscriptions" {
  description = "Subscription ids."
  value       = module.pubsub.subscription_ids
}

output "shard_instances" {
  description = "Shard VM names, stage 0 first (empty until the pool exists)."
  value       = [for p in module.shard_pool : p.instance_names]
}

output "redis_host" {
  description = "Memorystore private address."
  value       = module.network.redis_host
}

output "deployer_service_account" {
  description = "Service account Cloud Build runs as."
  value       = google_service_account.component["deployer"].email
}

output "alert_policies" {
  description = "Alert policy names to ids."
  value       = module.monitoring.alert_policies
}

output "workflow_triggers_local_only" {
  description = "Workflow triggers not deployed to Google Cloud, with the reason (they run where the API's executor runs)."
  value       = module.naming.workflow_triggers_local_only
}
