# The private network: a VPC with one subnet (the shard pool), the Serverless VPC Access connector that Cloud Run and
# Cloud Functions use to reach it, and Memorystore for Redis with AUTH and TLS.

resource "google_compute_network" "this" {
  name                    = "${var.name_prefix}-vpc"
  project                 = var.project_id
  auto_create_subnetworks = false
}

# Ingress is denied unless a rule allows it (the shard pool's rules, modules/shard_pool); this rule makes the default
# explicit and logs what it refuses.
resource "google_compute_firewall" "deny_all_ingress" {
  name          = "${var.name_prefix}-deny-all-ingress"
  project       = var.project_id
  network       = google_compute_network.this.id
  direction     = "INGRESS"
  priority      = 65534
  source_ranges = ["0.0.0.0/0"]
  deny {
    protocol = "all"
  }
  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_subnetwork" "this" {
  name          = "${var.name_prefix}-subnet"
  project       = var.project_id
  region        = var.region
  network       = google_compute_network.this.id
  ip_cidr_range = var.subnet_cidr
  # The shard VMs have no external address; they reach Artifact Registry, Secret Manager and Logging this way.
  private_ip_google_access = true

  log_config {
    aggregation_interval = "INTERVAL_5_MIN"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

resource "google_vpc_access_connector" "this" {
  name          = "${var.name_prefix}-connector"
  project       = var.project_id
  region        = var.region
  network       = google_compute_network.this.name
  ip_cidr_range = var.connector_cidr
  # The smallest connector: 2 e2-micro instances (https://cloud.google.com/vpc/docs/serverless-vpc-access#pricing).
  machine_type  = "e2-micro"
  min_instances = 2
  max_instances = 3
}

resource "google_redis_instance" "this" {
  name                    = "${var.name_prefix}-redis"
  project                 = var.project_id
  region                  = var.region
  tier                    = var.redis_tier
  memory_size_gb          = var.redis_memory_gb
  redis_version           = var.redis_version
  authorized_network      = google_compute_network.this.id
  connect_mode            = "DIRECT_PEERING"
  auth_enabled            = true
  transit_encryption_mode = "SERVER_AUTHENTICATION" # TLS; clients verify the instance's CA (server_ca_certs)
  labels                  = var.labels

  maintenance_policy {
    weekly_maintenance_window {
      # Thursday 04:00 UTC: away from the Qubic epoch change (Wednesdays 12:00 UTC, qcl/analysis/epochs.py).
      day = "THURSDAY"
      start_time {
        hours   = 4
        minutes = 0
      }
    }
  }

}
