variable "name" {
  type        = string
  description = "Function name."
}

variable "project_id" {
  type        = string
  description = "Project of the function."
}

variable "region" {
  type        = string
  description = "Region of the function."
}

variable "entry_point" {
  type        = string
  description = "Python function the framework calls (functions-framework --target)."
}

variable "source_dir" {
  type        = string
  description = "Directory with the function's main.py."
}

variable "library_dir" {
  type        = string
  description = "The qcl package directory (shared/qcl), vendored into the source archive as qcl/."
}

variable "requirements_file" {
  type        = string
  description = "Pinned runtime requirements, copied into the archive as requirements.txt (containers/requirements/cpu.lock: hash-checked)."
}

variable "source_bucket" {
  type        = string
  description = "Bucket that holds source archives."
}

variable "service_account_email" {
  type        = string
  description = "Identity the function runs as."
}

variable "build_service_account_id" {
  type        = string
  description = "Service account (projects/.../serviceAccounts/...) Cloud Build uses to build the function."
}

variable "env" {
  type        = map(string)
  description = "Plain environment variables (QCL_* settings)."
  default     = {}
}

variable "secret_env" {
  type        = map(string)
  description = "Environment variable name to Secret Manager secret id (latest version)."
  default     = {}
}

variable "secret_files" {
  type        = map(string)
  description = "Mount directory to Secret Manager secret id; the latest version appears as <dir>/ca.pem."
  default     = {}
}

variable "memory" {
  type        = string
  description = "Memory per instance, e.g. \"512Mi\"."
  default     = "512Mi"
}

variable "timeout_s" {
  type        = number
  description = "Request timeout in seconds."
  default     = 60
}

variable "min_instances" {
  type        = number
  description = "Instances kept warm."
  default     = 0
}

variable "max_instances" {
  type        = number
  description = "Upper bound of autoscaling."
}

variable "ingress" {
  type        = string
  description = "ALLOW_INTERNAL_ONLY where only Cloud Scheduler calls; ALLOW_ALL for the API."
  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.ingress)
    error_message = "ingress must be ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  }
}

variable "vpc_connector" {
  type        = string
  description = "Serverless VPC Access connector id (Redis)."
}

variable "invokers" {
  type        = list(string)
  description = "Members granted roles/run.invoker on the function's service."
  default     = []
  validation {
    condition     = !contains(var.invokers, "allUsers") && !contains(var.invokers, "allAuthenticatedUsers")
    error_message = "invokers must name identities; allUsers and allAuthenticatedUsers are not allowed."
  }
}

variable "labels" {
  type        = map(string)
  description = "Labels of the function."
}
