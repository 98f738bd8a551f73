# Workflows: each file in workflows/gcp (made from workflows/*.yaml by `qcl workflows translate`; a test keeps them
# equal) deployed as a Cloud Workflow that runs as the workflows service account and calls the API function.
module "workflows" {
  source                = "./modules/workflows"
  project_id            = var.project_id
  region                = var.region
  name_prefix           = var.name_prefix
  service_account_email = google_service_account.component["workflows"].email
  api_url               = module.function["api"].uri
  labels                = module.naming.labels
  sources = {
    for file in fileset("${path.module}/../workflows/gcp", "*.yaml") :
    replace(trimsuffix(file, ".yaml"), "_", "-") => file("${path.module}/../workflows/gcp/${file}")
  }

  depends_on = [google_project_service.apis]
}
