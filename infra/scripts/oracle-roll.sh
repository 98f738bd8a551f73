#!/usr/bin/env bash
# Roll a new image onto the oracle members one at a time (Cloud Build runs it; see cloudbuild.yaml):
#   infra/scripts/oracle-roll.sh PREFIX IMAGE REGION
# No canary split: a member is one identity with one key, and two revisions taking traffic at once would sign as
# that member twice. Each member moves 100 % to the new revision and must be Ready before the next one starts, so at
# most one member (<= f) is ever out of the committee; a member that fails is moved back and the roll stops.
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 PREFIX IMAGE REGION" >&2
  exit 2
fi
prefix="$1"
image="$2"
region="$3"

members="$(gcloud run services list --region="$region" --filter="metadata.name ~ ^${prefix}-oracle-[0-9]+$" \
  --format='value(metadata.name)' | sort)"
if [[ -z "$members" ]]; then
  echo "oracle-roll: no ${prefix}-oracle-<i> services (the committee file is not applied yet); nothing to roll"
  exit 0
fi
for service in $members; do
  stable="$(gcloud run services describe "$service" --region="$region" --format='value(status.latestReadyRevisionName)')"
  echo "oracle-roll: $service from $stable"
  if ! gcloud run deploy "$service" --image="$image" --region="$region" --quiet; then
    echo "oracle-roll: $service failed to become Ready; back to $stable, roll stopped" >&2
    gcloud run services update-traffic "$service" --region="$region" --to-revisions="$stable=100" --quiet
    exit 1
  fi
done
echo "oracle-roll: every member runs $image"
