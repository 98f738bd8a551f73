terraform {
  required_version = ">= 1.7"

  # Providers pinned to one minor line; `terraform init` records the exact builds in .terraform.lock.hcl, which is
  # committed from the first networked init (our CI machines cannot reach the registry, see README.md).
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.40" # Cloud Run v2 GPU fields (node_selector, gpu_zonal_redundancy_disabled) are GA here
    }
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "~> 6.40"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7" # random_bytes, for the API-key pepper
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.7"
    }
  }

  # State in a Cloud Storage bucket made before the first init (README.md step 2):
  #   terraform init -backend-config="bucket=<project>-tfstate" -backend-config="prefix=qcl/<env>"
  backend "gcs" {}
}

provider "google" {
  project = var.project_id
  region  = var.region
}

provider "google-beta" {
  project = var.project_id
  region  = var.region
}
