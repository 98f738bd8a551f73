"""The shard service: one stage of the pipeline-parallel pool (a VM of the managed instance group, or a pod).

python containers/shard/main.py --model smollm2-135m-instruct --layers 0:11 --port 50051
    the same as `qcl shard serve ...` (what the image's entry point runs): the gRPC data plane and the standard
    grpc.health.v1 service on one port, SERVING once the layers are loaded. With QCL_STORE=redis the shard
    registers itself and heartbeats every QCL_SHARD_HEARTBEAT_S; SIGTERM deregisters it and drains its calls.
"""

from __future__ import annotations

import sys

from qcl.shard.commands import shard_app

if __name__ == "__main__":
    shard_app(["serve", *sys.argv[1:]], prog_name="shard")
