"""Delivery: releasing new images of the services (qcl.delivery.rollout), on Cloud Run (qcl.delivery.cloudrun)."""
