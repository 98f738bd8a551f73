output "name" {
  description = "Service name."
  value       = google_cloud_run_v2_service.this.name
}

output "uri" {
  description = "HTTPS URL of the service (the audience of push OIDC tokens)."
  value       = google_cloud_run_v2_service.this.uri
}
