output "network_id" {
  description = "VPC id."
  value       = google_compute_network.this.id
}

output "network_name" {
  description = "VPC name."
  value       = google_compute_network.this.name
}

output "subnetwork_id" {
  description = "Subnet id (shard pool)."
  value       = google_compute_subnetwork.this.id
}

output "connector_id" {
  description = "Serverless VPC Access connector id for Cloud Run and Cloud Functions."
  value       = google_vpc_access_connector.this.id
}

output "connector_cidr" {
  description = "Source range of traffic from Cloud Run and Cloud Functions through the connector."
  value       = var.connector_cidr
}

output "redis_host" {
  description = "Memorystore host (private IP)."
  value       = google_redis_instance.this.host
}

output "redis_port" {
  description = "Memorystore TLS port."
  value       = google_redis_instance.this.port
}

output "redis_auth_string" {
  description = "Memorystore AUTH string."
  value       = google_redis_instance.this.auth_string
  sensitive   = true
}

output "redis_ca_pem" {
  description = "PEM of the instance's server CA, which clients verify TLS against."
  value       = join("\n", [for c in google_redis_instance.this.server_ca_certs : c.cert])
  sensitive   = true
}
