# The shard pool: three GPU VMs, one per pipeline stage, in a regional managed instance group with a gRPC health
# check and auto-healing. Each VM's stage and layer range are per-instance metadata that survive re-creation, so
# auto-healing brings back the same stage under the same name.
#
# Transport security (README "Transport security"): stages serve mTLS with a certificate of the project CA that pins
# their node id (= instance name). Terraform creates the secrets and grants access; the values are added out of band
# (`qcl pki issue --role shard --node-id <name> --host <name>` then `gcloud secrets versions add`), so no private
# key ever sits in the Terraform state. The startup script fetches them at every boot.

locals {
  tag      = "${var.name_prefix}-shard"
  g2       = startswith(var.machine_type, "g2-")
  registry = split("/", var.image)[0]
  # Secrets per stage (its certificate and key) and one trust bundle (the CA, or old + new CA during a rotation).
  tls_secrets = merge(
    { ca = "${local.tag}-tls-ca" },
    { for s in var.stages : "${s.name}/cert" => "${s.name}-tls-cert" },
    { for s in var.stages : "${s.name}/key" => "${s.name}-tls-key" },
  )
}

resource "google_secret_manager_secret" "tls" {
  for_each  = local.tls_secrets
  project   = var.project_id
  secret_id = each.value
  labels    = var.labels

  replication {
    auto {}
  }
}

# The stages share one service account, so each can read every stage's key: a VM that is compromised can
# impersonate another stage, not a coordinator (no coordinator key is readable here).
resource "google_secret_manager_secret_iam_member" "tls_reader" {
  for_each  = google_secret_manager_secret.tls
  project   = var.project_id
  secret_id = each.value.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${var.service_account_email}"
}

resource "google_compute_instance_template" "shard" {
  name_prefix  = "${local.tag}-"
  project      = var.project_id
  region       = var.region
  machine_type = var.machine_type
  labels       = var.labels
  tags         = [local.tag]

  disk {
    # Container-Optimized OS installs a signed NVIDIA driver with `cos-extensions install gpu` (startup script),
    # which Secure Boot accepts (https://cloud.google.com/container-optimized-os/docs/how-to/run-gpus).
    source_image = "projects/cos-cloud/global/images/family/cos-stable"
    disk_size_gb = var.boot_disk_gb
    disk_type    = "pd-balanced"
    auto_delete  = true
    boot         = true
  }

  network_interface {
    subnetwork = var.subnetwork # no access_config: no external address
  }

  dynamic "guest_accelerator" {
    for_each = local.g2 ? [] : [var.gpu_type]
    content {
      type  = guest_accelerator.value
      count = 1
    }
  }

  # GPU VMs cannot live-migrate: host maintenance stops them, and the group restarts them.
  scheduling {
    on_host_maintenance = "TERMINATE"
    automatic_restart   = true
    preemptible         = false
    provisioning_model  = "STANDARD"
  }

  shielded_instance_config {
    enable_secure_boot          = true
    enable_vtpm                 = true
    enable_integrity_monitoring = true
  }

  metadata = {
    block-project-ssh-keys = "true"
    enable-oslogin         = "TRUE"
    serial-port-enable     = "false"
    google-logging-enabled = "true"
    startup-script = templatefile("${path.module}/startup.sh.tftpl", {
      image            = var.image
      registry         = local.registry
      model            = var.model
      port             = var.port
      health_port      = var.health_port
      tls_ca_secret    = google_secret_manager_secret.tls["ca"].secret_id
      project_id       = var.project_id
      env              = var.env
      redis_url_secret = var.redis_url_secret
      redis_ca_secret  = var.redis_ca_secret
    })
  }

  service_account {
    email  = var.service_account_email
    scopes = ["cloud-platform"] # access is bounded by the service account's roles, not by scopes
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_compute_health_check" "shard" {
  name                = "${local.tag}-grpc"
  project             = var.project_id
  check_interval_sec  = 10
  timeout_sec         = 5
  healthy_threshold   = 2
  unhealthy_threshold = 3

  # The standard grpc.health.v1 service, on the shard's plaintext health-only port: the data plane port is mTLS,
  # and Google's checkers present no client certificate.
  grpc_health_check {
    port = var.health_port
  }

  # Health transitions are logged; the node-down log-based metric counts them (modules/monitoring).
  log_config {
    enable = true
  }
}

resource "google_compute_region_instance_group_manager" "shard" {
  name                      = "${local.tag}-pool"
  project                   = var.project_id
  region                    = var.region
  base_instance_name        = local.tag
  target_size               = 3 # one VM per pipeline stage (docs/architecture.md, "Shard pool")
  distribution_policy_zones = var.zones

  version {
    instance_template = google_compute_instance_template.shard.self_link_unique
  }

  named_port {
    name = "grpc"
    port = var.port
  }

  auto_healing_policies {
    health_check = google_compute_health_check.shard.id
    # Driver install, image pull and model load come before the first healthy answer.
    initial_delay_sec = 600
  }

  update_policy {
    type                         = "PROACTIVE"
    minimal_action               = "REPLACE"
    instance_redistribution_type = "NONE" # required with per-instance configs
    replacement_method           = "RECREATE"
    max_surge_fixed              = 0
    max_unavailable_fixed        = length(var.zones) # a regional group needs 0 or at least one per zone
  }

  lifecycle {
    ignore_changes = [distribution_policy_zones]
  }
}

# Stage, layer range and name of each VM: preserved across auto-healing and updates.
resource "google_compute_region_per_instance_config" "stage" {
  for_each                      = { for s in var.stages : s.name => s }
  project                       = var.project_id
  region                        = var.region
  region_instance_group_manager = google_compute_region_instance_group_manager.shard.name
  name                          = each.key

  preserved_state {
    metadata = {
      qcl-stage  = tostring(each.value.index)
      qcl-layers = "${each.value.first}:${each.value.end}"
    }
  }
}

# Internal firewall: the shard port is open to the pool itself, the narrator (through the connector) and Google's
# health checkers, and to nothing else; the VPC's implied rule denies all other ingress.
resource "google_compute_firewall" "shard_from_pool" {
  name        = "${local.tag}-from-pool"
  project     = var.project_id
  network     = var.network
  direction   = "INGRESS"
  source_tags = [local.tag]
  target_tags = [local.tag]
  allow {
    protocol = "tcp"
    ports    = [tostring(var.port)]
  }
  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_firewall" "shard_from_clients" {
  name          = "${local.tag}-from-narrator"
  project       = var.project_id
  network       = var.network
  direction     = "INGRESS"
  source_ranges = var.client_source_ranges
  target_tags   = [local.tag]
  allow {
    protocol = "tcp"
    ports    = [tostring(var.port)]
  }
  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_firewall" "shard_from_health_checks" {
  name      = "${local.tag}-from-health-checks"
  project   = var.project_id
  network   = var.network
  direction = "INGRESS"
  # Google's health checkers (https://cloud.google.com/load-balancing/docs/health-check-concepts#ip-ranges), to the
  # health-only port.
  source_ranges = ["35.191.0.0/16", "130.211.0.0/22"]
  target_tags   = [local.tag]
  allow {
    protocol = "tcp"
    ports    = [tostring(var.health_port)]
  }
  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}
