output "instance_group" {
  description = "Regional managed instance group of the shard pool."
  value       = google_compute_region_instance_group_manager.shard.instance_group
}

output "instance_names" {
  description = "VM name per stage (stage 0 first)."
  value       = [for s in var.stages : s.name]
}

output "network_tag" {
  description = "Network tag of the shard VMs."
  value       = local.tag
}

output "tls_secrets" {
  description = "Secret Manager secret ids of the stages' mTLS material (ca, <instance>/cert, <instance>/key); values are added out of band."
  value       = { for k, v in google_secret_manager_secret.tls : k => v.secret_id }
}
