# A second production cluster in another region, for the federation (docs/deploy/multi-cluster.md):
#   terraform init -reconfigure -backend-config="bucket=<its project>-tfstate" -backend-config="prefix=qcl/prod-us"
#   terraform apply -var-file=envs/prod-us.tfvars
# Its own project: topics, service accounts and secrets are project-wide names, so two stacks never share one.
project_id  = "qcl-prod-us-000000" # the second region's project id
environment = "prod"
region      = "us-east4"                                 # us-central1 takes new projects by invitation only for L4 on Cloud Run
shard_zones = ["us-east4-a", "us-east4-b", "us-east4-c"] # check G2 (L4) capacity in each before applying

log_level                     = "INFO"
narrator_min_instances        = 1
narrator_max_instances        = 3
narrator_gpu_zonal_redundancy = true
analyzer_max_instances        = 3
api_max_instances             = 20
redis_tier                    = "STANDARD_HA"
redis_memory_gb               = 2
deletion_protection           = true
alert_emails                  = ["oncall@example.com"]
stalled_pipeline_minutes      = 10
runbook_base_url              = ""
