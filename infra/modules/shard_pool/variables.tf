variable "project_id" {
  type        = string
  description = "Project of the pool."
}

variable "region" {
  type        = string
  description = "Region of the regional managed instance group."
}

variable "zones" {
  type        = list(string)
  description = "Zones of the region that have L4 GPUs; the group spreads its three VMs over them."
  validation {
    condition     = length(var.zones) >= 1
    error_message = "zones must name at least one zone with L4 GPUs."
  }
}

variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name."
}

variable "labels" {
  type        = map(string)
  description = "Labels of the VMs and disks."
}

variable "network" {
  type        = string
  description = "VPC id (firewall rules)."
}

variable "subnetwork" {
  type        = string
  description = "Subnet id the VMs live in (no external addresses)."
}

variable "service_account_email" {
  type        = string
  description = "Identity of the shard VMs."
}

variable "machine_type" {
  type        = string
  description = "Machine type; G2 types carry their L4 GPU (g2-standard-4: 1 L4, 4 vCPU, 16 GB)."
}

variable "gpu_type" {
  type        = string
  description = "Accelerator attached to non-G2 machine types (G2 types bring theirs)."
}

variable "boot_disk_gb" {
  type        = number
  description = "Boot disk size; holds the shard image (model weights included)."
}

variable "image" {
  type        = string
  description = "Shard container image; its entry point is `qcl`."
}

variable "model" {
  type        = string
  description = "Model id passed to `qcl shard serve --model`."
}

variable "stages" {
  type = list(object({
    index = number
    name  = string
    first = number
    end   = number
  }))
  description = "The three stages (naming module output): instance name and half-open layer range."
  validation {
    condition     = length(var.stages) == 3
    error_message = "the shard pool runs exactly three pipeline stages."
  }
}

variable "port" {
  type        = number
  description = "gRPC data plane port (mTLS: only holders of a project CA certificate complete the handshake)."
}

variable "health_port" {
  type        = number
  description = "Plaintext port serving grpc.health.v1 alone, for Google's health checkers (they present no client certificate)."
  default     = 50052
}

variable "client_source_ranges" {
  type        = list(string)
  description = "Ranges allowed to call the shards besides the pool itself (the Serverless VPC Access connector the narrator egresses through)."
}

variable "env" {
  type        = map(string)
  description = "QCL_* settings passed to the shard container."
}

variable "redis_url_secret" {
  type        = string
  description = "Secret Manager secret id of QCL_REDIS_URL (stages register with a heartbeat in the store)."
}

variable "redis_ca_secret" {
  type        = string
  description = "Secret Manager secret id of the Redis server CA (PEM)."
}
