variable "name" {
  type        = string
  description = "Service name."
}

variable "project_id" {
  type        = string
  description = "Project of the service."
}

variable "region" {
  type        = string
  description = "Region of the service."
}

variable "image" {
  type        = string
  description = "Container image of the first revision; Cloud Build rolls later images with a canary (cloudbuild.yaml)."
}

variable "service_account_email" {
  type        = string
  description = "Identity the service runs as."
}

variable "env" {
  type        = map(string)
  description = "Plain environment variables (QCL_* settings)."
  default     = {}
}

variable "secret_env" {
  type        = map(string)
  description = "Environment variable name to Secret Manager secret id; the latest version is read at instance start."
  default     = {}
}

variable "secret_files" {
  type        = map(string)
  description = "Mount directory to Secret Manager secret id; the latest version appears as <dir>/<file_name>."
  default     = {}
}

variable "secret_file_name" {
  type        = string
  description = "File name of each mounted secret (see secret_files)."
  default     = "ca.pem"
}

variable "secret_file_names" {
  type        = map(string)
  description = "Mount directory to the file name its secret appears as, where it is not secret_file_name."
  default     = {}
}

variable "cpu" {
  type        = string
  description = "vCPU limit per instance, e.g. \"1\" or \"4\"."
}

variable "memory" {
  type        = string
  description = "Memory limit per instance, e.g. \"512Mi\" or \"16Gi\"."
}

variable "gpu" {
  type        = bool
  description = "Attach one NVIDIA L4 (needs >= 4 vCPU, >= 16Gi and CPU always allocated)."
  default     = false
}

variable "gpu_zonal_redundancy" {
  type        = bool
  description = "Keep GPU capacity reserved across zones (dearer; off trades failover for price)."
  default     = false
}

variable "cpu_always_allocated" {
  type        = bool
  description = "Instance-based billing: CPU stays allocated between requests (required with a GPU)."
  default     = false
}

variable "min_instances" {
  type        = number
  description = "Instances kept warm (billed in full when idle with CPU always allocated)."
  default     = 0
}

variable "max_instances" {
  type        = number
  description = "Upper bound of autoscaling; keep at or below the GPU quota for GPU services."
}

variable "concurrency" {
  type        = number
  description = "Requests one instance serves at once."
}

variable "timeout_s" {
  type        = number
  description = "Request timeout in seconds: the ack deadline of the subscriptions that push here (10-600), or up to Cloud Run's 3600 for a service that holds WebSockets."
  validation {
    condition     = var.timeout_s >= 10 && var.timeout_s <= 3600
    error_message = "timeout_s must be 10-3600 s (Cloud Run's limit; a push consumer's is its ack deadline, at most 600)."
  }
}

variable "ingress" {
  type        = string
  description = "INGRESS_TRAFFIC_INTERNAL_ONLY for services only Pub/Sub calls; INGRESS_TRAFFIC_ALL otherwise."
  default     = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  validation {
    condition     = contains(["INGRESS_TRAFFIC_ALL", "INGRESS_TRAFFIC_INTERNAL_ONLY", "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"], var.ingress)
    error_message = "ingress must be one of INGRESS_TRAFFIC_ALL, INGRESS_TRAFFIC_INTERNAL_ONLY, INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER."
  }
}

variable "vpc_connector" {
  type        = string
  description = "Serverless VPC Access connector id for Redis and the shard pool (private ranges only)."
}

variable "health_path" {
  type        = string
  description = "HTTP path of the startup and liveness probes (not /healthz: Cloud Run's front end reserves paths ending in z)."
  default     = "/api/health"
}

variable "startup_timeout_s" {
  type        = number
  description = "How long the startup probe waits for the first healthy answer (model load time for GPU services)."
  default     = 60
}

variable "invokers" {
  type        = list(string)
  description = "Members granted roles/run.invoker (the push identity for Pub/Sub-only services)."
  default     = []
  validation {
    condition     = !contains(var.invokers, "allUsers") && !contains(var.invokers, "allAuthenticatedUsers")
    error_message = "invokers must name identities; allUsers and allAuthenticatedUsers are not allowed."
  }
}

variable "labels" {
  type        = map(string)
  description = "Labels of the service."
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse `terraform destroy` of the service."
}

variable "metrics_sidecar" {
  type = object({
    image         = string # Google's Managed Service for Prometheus sidecar for Cloud Run, pinned by tag
    port          = number # the app's loopback /metrics port: set as QCL_METRICS_PORT, scraped by the sidecar
    config_secret = string # Secret Manager secret id holding the sidecar's RunMonitoring config
  })
  description = "Run the Managed Service for Prometheus sidecar beside the app, scraping its loopback metrics port (QCL_METRICS_PORT); null: no sidecar."
  default     = null
}
