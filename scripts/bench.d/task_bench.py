"""run-task beside what the seeds' deploy-to-prefect job does instead: `aws ecs run-task`,
`aws ecs wait tasks-stopped`, then `aws ecs describe-tasks` for the container's exit code
(the waiter says only that the task stopped). On the local emulator: moto's state manager
keeps the task RUNNING until the bench stops it (StopTask, as ECS ends a task whose
container exited) at a chosen moment; measured is the time from that moment to the
command's exit, and the whole run. Only 127.0.0.1 is contacted."""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request

import boto3

CLUSTER = "blog-prod"
FAMILY = "blog-prod-prefect-deployer"
IMAGE = "123456789012.dkr.ecr.eu-west-2.amazonaws.com/blog-data:prefect-deployer-3-python3.12-4f2a9c1"


def seed(endpoint):
    body = json.dumps({"model_name": "ecs::task",
                       "transition": {"progression": "manual", "times": 1000000}}).encode()
    urllib.request.urlopen(urllib.request.Request(
        f"{endpoint}/moto-api/state-manager/set-transition", data=body,
        headers={"content-type": "application/json"}))
    ecs = boto3.client("ecs", endpoint_url=endpoint, region_name="eu-west-2")
    ecs.create_cluster(clusterName=CLUSTER)
    ecs.register_task_definition(family="blog-prod-prefect", containerDefinitions=[
        {"name": "prefect", "image": IMAGE, "cpu": 256, "memory": 512, "essential": True}])
    for name in ["prefect-server", "prefect-worker"]:
        ecs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition="blog-prod-prefect",
                           desiredCount=1, launchType="FARGATE")
    ecs.register_task_definition(family=FAMILY, containerDefinitions=[
        {"name": "prefect-deployer", "image": IMAGE, "cpu": 256, "memory": 512, "essential": True}])
    return ecs


def env_file(tmp):
    with open(os.path.join(tmp, "main.tf"), "w") as f:
        f.write(f'locals {{\n  prefect_deployer_image = "{IMAGE}"\n}}\n')
    path = os.path.join(tmp, "prod.env.hcl")
    with open(path, "w") as f:
        f.write(f'''environment "prod" {{
  account_id = "123456789012"
  region     = "eu-west-2"
  image "prefect_deployer_image" {{
    file        = "main.tf"
    repository  = "blog-data"
    tag_pattern = "prefect-deployer-3-python3\\\\.12-(?P<sha>[0-9a-f]{{7,40}})"
  }}
  task "prefect-deployer" {{
    task_definition = "{FAMILY}"
    cluster         = "{CLUSTER}"
    network_from    = "prefect-worker"
    container       = "prefect-deployer"
    image           = "prefect_deployer_image"
    needs           = ["prefect-server"]
  }}
}}
''')
    return path


def one(ecs, cmd, stop_after):
    """Runs `cmd` (a shell command); once a new task exists, stops it `stop_after` seconds
    later; returns (seconds from the stop to the exit, whole run, exit code)."""
    before = set(all_tasks(ecs))
    start = time.perf_counter()
    proc = subprocess.Popen(["bash", "-c", cmd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stopped_at = {}

    def stopper():
        while True:
            new = [t for t in all_tasks(ecs) if t not in before]
            if new:
                break
            if proc.poll() is not None:
                return  # it ended without starting a task: reported as failed below
            time.sleep(0.02)
        time.sleep(stop_after)
        stopped_at["t"] = time.perf_counter()
        ecs.stop_task(cluster=CLUSTER, task=new[0], reason="the container exited")

    t = threading.Thread(target=stopper)
    t.start()
    code = proc.wait()
    end = time.perf_counter()
    t.join()
    return end - stopped_at.get("t", end), end - start, code


def all_tasks(ecs):
    out = []
    for status in ["RUNNING", "STOPPED"]:
        out += ecs.list_tasks(cluster=CLUSTER, desiredStatus=status)["taskArns"]
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True)
    p.add_argument("--run-task", required=True)
    p.add_argument("--aws", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--repeats", type=int, default=6)
    args = p.parse_args()
    ecs = seed(args.endpoint)
    with tempfile.TemporaryDirectory() as tmp:
        env = env_file(tmp)
        ours_cmd = f"{args.run_task} --env-file {env} run prefect-deployer"
        aws = f"{args.aws} --region eu-west-2 --endpoint-url {args.endpoint}"
        aws_cmd = (
            f"arn=$({aws} ecs run-task --cluster {CLUSTER} --task-definition {FAMILY} "
            f"--launch-type FARGATE --query 'tasks[0].taskArn' --output text) && "
            f"{aws} ecs wait tasks-stopped --cluster {CLUSTER} --tasks \"$arn\" && "
            f"code=$({aws} ecs describe-tasks --cluster {CLUSTER} --tasks \"$arn\" "
            f"--query 'tasks[0].containers[0].exitCode' --output text) && [ \"$code\" = 0 ]")
        # The stop lands at different points of each command's polling cycle.
        delays = [3.0 + 0.7 * i for i in range(args.repeats)]
        ours = [one(ecs, ours_cmd, d) for d in delays]
        aws = [one(ecs, aws_cmd, d) for d in delays]
    for name, runs in [("run-task", ours), ("aws", aws)]:
        bad = [r for r in runs if r[2] != 0]
        assert not bad, f"{name} failed: {bad}"
    m = {}
    for name, runs in [("ours", ours), ("aws", aws)]:
        lat = [r[0] for r in runs]
        m[name] = (statistics.median(lat), max(lat), statistics.median([r[1] for r in runs]))
    text = f"""## run-task: from the container's exit to the job's exit

The deployer's task stopped {', '.join(f'{d:.1f}' for d in delays)} s after it started
(one run each); the time from that moment to the command's exit, and the whole run.

| command | stop → exit, median | stop → exit, worst | whole run, median |
| --- | --- | --- | --- |
| `run-task run prefect-deployer` (default `--poll 2s`; checks the pin, the needed service and park's lock first; the exit code is the container's) | {m['ours'][0]*1000:.0f} ms | {m['ours'][1]*1000:.0f} ms | {m['ours'][2]:.1f} s |
| `aws ecs run-task` + `aws ecs wait tasks-stopped` + `aws ecs describe-tasks` for the exit code (Debian's awscli) | {m['aws'][0]*1000:.0f} ms | {m['aws'][1]*1000:.0f} ms | {m['aws'][2]:.1f} s |

The waiter polls every 6 s and gives up after 100 polls (10 minutes, exit 255, the task
still running); run-task polls every `--poll` until the task's `timeout` and stops the
task itself when the job is cancelled or the timeout passes. On the emulator through
moto's state manager (the task stays RUNNING until the bench stops it); the `aws` commands
check nothing before starting the task.
"""
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
