# chunkwise's HyperQueue driver (written by chunkwise into a scratch directory and run with the
# configured python; it needs the `hyperqueue` wheel). Usage: driver.py SPEC.json RESULT.json
#
# SPEC: {"name", "cwd", "server_dir" (a running server's directory, or null to start a
# LocalCluster in "local_dir" with "local_cores" cores), "stages": [{"stage", "tasks":
# [{"batch", "args", "env", "cpus"}]}]}. The whole plan is one job: every task of a stage depends
# on every task of the stage before. RESULT: {"job", "ok", "seconds", "tasks": [{"stage",
# "batch", "error"}]}, "error" being HyperQueue's message for a failed task, else null.
import json
import os
import sys
import time

spec_path, result_path = sys.argv[1], sys.argv[2]
with open(spec_path) as f:
    spec = json.load(f)

from hyperqueue import Client, Job, LocalCluster  # noqa: E402
from hyperqueue.cluster import WorkerConfig  # noqa: E402
from hyperqueue.ffi.protocol import ResourceRequest  # noqa: E402


def run(client, max_cpus):
    job = Job(max_fails=None, name=spec["name"])
    previous, placed = [], []
    for stage in spec["stages"]:
        current = []
        for t in stage["tasks"]:
            cpus = t["cpus"] if max_cpus is None else max(1, min(t["cpus"], max_cpus))
            task = job.program(
                t["args"],
                env=t["env"],
                cwd=spec["cwd"],
                stdout=None,
                stderr=None,
                deps=previous,
                resources=ResourceRequest(cpus=cpus),
                name=f"stage{stage['stage']}-batch{t['batch']}",
            )
            current.append(task)
            placed.append((stage["stage"], t["batch"], task.task_id))
        if current:
            previous = current
    t0 = time.time()
    submitted = client.submit(job)
    ok = client.wait_for_jobs([submitted], raise_on_error=False)
    failed = {} if ok else client.get_failed_tasks(submitted)
    return {
        "job": submitted.id,
        "ok": ok,
        "seconds": time.time() - t0,
        "tasks": [
            {"stage": s, "batch": b, "error": failed[i].error if i in failed else None}
            for (s, b, i) in placed
        ],
    }


if spec["server_dir"] is not None:
    result = run(Client(spec["server_dir"]), None)
else:
    cores = spec["local_cores"] or os.cpu_count()
    with LocalCluster(server_dir=spec["local_dir"]) as cluster:
        cluster.start_worker(WorkerConfig(cores=cores))
        result = run(cluster.client(), cores)

with open(result_path + ".tmp", "w") as f:
    json.dump(result, f)
os.replace(result_path + ".tmp", result_path)
