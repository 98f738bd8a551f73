output "name" {
  description = "Function name."
  value       = google_cloudfunctions2_function.this.name
}

output "uri" {
  description = "HTTPS URL of the function."
  value       = google_cloudfunctions2_function.this.service_config[0].uri
}
