# terraform apply -var-file=envs/prod.tfvars   (normally run by the approved prod Cloud Build trigger)
project_id  = "qcl-prod-000000" # your prod project id
environment = "prod"
region      = "europe-west4"
shard_zones = ["europe-west4-a", "europe-west4-b", "europe-west4-c"]

log_level                     = "INFO"
narrator_min_instances        = 1 # answers without a cold start
narrator_max_instances        = 3
narrator_gpu_zonal_redundancy = true
analyzer_max_instances        = 3
api_max_instances             = 20
redis_tier                    = "STANDARD_HA"
redis_memory_gb               = 2
deletion_protection           = true
alert_emails                  = ["oncall@example.com"]
stalled_pipeline_minutes      = 10
runbook_base_url              = "" # the published docs site (mkdocs build), e.g. https://docs.example.com/qcl
# Channels per severity (modules/monitoring/variables.tf). Secrets are Secret Manager ids created beforehand, e.g.
#   printf %s 'https://hooks.example.com/qcl?auth_token=…' | gcloud secrets create qcl-alert-webhook-url --data-file=-
# alert_channels = {
#   oncall-webhook = { kind = "webhook", secret = "qcl-alert-webhook-url", severities = ["page"] }
#   slack-ops      = { kind = "slack", target = "#qcl-alerts", secret = "qcl-alert-slack-token" }
#   incidents      = { kind = "pubsub" }
# }
