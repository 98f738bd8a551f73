"""The compute layer: inference jobs with priorities, quotas, fair sharing, deadlines, retries and leases.

    from qcl.compute.queue import JobQueue
    from qcl.compute.worker import WorkerPool
    from qcl.compute.placement import Runtimes
    jobs = JobQueue(store)                                          # state in the store: memory or Redis
    jobs.submit(JobRequest.model_validate(body).jobs(key_id=key.id, now=time.time()))
    WorkerPool(jobs, Runtimes({"local": generation_service}), workers=4).start()

Layout: jobs.py (what is submitted and kept), policy.py (the rules as pure functions: transitions, quotas, fair
share, backoff), quotas.py (per-key quotas), queue.py (the queue over the store), worker.py (workers, leases,
cancellation), placement.py (choosing a runtime by measured speed and load), forecast.py (the predictive signal),
fake.py (a labelled fake runtime for measuring the scheduler), commands.py (`qcl jobs work`).
The HTTP routes are qcl.api.routes_jobs.
"""
