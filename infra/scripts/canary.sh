#!/usr/bin/env bash
# Canary deploy of one Cloud Run service, with automatic rollback (Cloud Build runs it; see cloudbuild.yaml):
#   infra/scripts/canary.sh SERVICE IMAGE REGION
# 1. deploy IMAGE as a new revision with no traffic, tagged "canary";
# 2. send CANARY_PERCENT (10) % of traffic to it and wait CANARY_WAIT_S (300) s;
# 3. smoke check: the revision is Ready (its startup probe passed) and served at most CANARY_MAX_5XX (0) 5xx
#    responses while it had traffic (request logs);
# 4. pass: 100 % to the canary; fail: 100 % back to the previous revision, exit 1.
# The services are internal (only Pub/Sub may call them), so the check reads the platform's view, not a request.
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 SERVICE IMAGE REGION" >&2
  exit 2
fi
service="$1"
image="$2"
region="$3"
percent="${CANARY_PERCENT:-10}"
wait_s="${CANARY_WAIT_S:-300}"
max_5xx="${CANARY_MAX_5XX:-0}"

stable="$(gcloud run services describe "$service" --region="$region" --format='value(status.latestReadyRevisionName)')"
echo "canary: $service stable revision $stable"

gcloud run deploy "$service" --image="$image" --region="$region" --no-traffic --tag=canary --quiet
canary="$(gcloud run services describe "$service" --region="$region" --format='value(status.latestCreatedRevisionName)')"
echo "canary: $service revision $canary gets $percent %"
gcloud run services update-traffic "$service" --region="$region" --to-revisions="$canary=$percent" --quiet

sleep "$wait_s"

ready="$(gcloud run revisions describe "$canary" --region="$region" --format='value(status.conditions[0].status)')"
errors="$(gcloud logging read \
  "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"$service\" AND resource.labels.revision_name=\"$canary\" AND httpRequest.status>=500" \
  --freshness="$((wait_s + 60))s" --format='value(timestamp)' | grep -c . || true)"
echo "canary: $canary ready=$ready 5xx=$errors (allowed $max_5xx)"

if [[ "$ready" != "True" || "$errors" -gt "$max_5xx" ]]; then
  echo "canary: smoke check failed; rolling $service back to $stable" >&2
  gcloud run services update-traffic "$service" --region="$region" --to-revisions="$stable=100" --quiet
  gcloud run services update-traffic "$service" --region="$region" --remove-tags=canary --quiet
  exit 1
fi

gcloud run services update-traffic "$service" --region="$region" --to-revisions="$canary=100" --quiet
gcloud run services update-traffic "$service" --region="$region" --remove-tags=canary --quiet
echo "canary: $service now serves $canary"
