"""park down + park up of a fleet, vs the aws CLI and sequential boto3, same emulator.

Every variant starts from a freshly reset and seeded emulator and makes the calls a park
needs: read each service and its scalable target, record, suspend and zero the target,
zero the desired count (and back for up); read each EventBridge rule and its tags, record,
disable it (and enable, untag for up). Only 127.0.0.1 is contacted.
"""
import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import tempfile
import time
import urllib.request

import boto3


LOCK_TABLE = "fleet-locks"
STATE_BUCKET = "fleet-state"


def reset_and_seed(args):
    urllib.request.urlopen(urllib.request.Request(args.endpoint + "/moto-api/reset", method="POST"), timeout=10)
    subprocess.run([args.harness, "seed", "--env-file", args.env_file, "--endpoint", args.endpoint],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([args.harness, "tf-backend", "--endpoint", args.endpoint, "--bucket", STATE_BUCKET,
                    "--table", LOCK_TABLE], check=True, stdout=subprocess.DEVNULL)


def locked_environment(plain_env_file):
    """The fleet environment with the s3 backend park locks: a root declaring `backend "s3"`
    and a backend_config naming the DynamoDB lock table (no endpoints: AWS_ENDPOINT_URL)."""
    directory = os.path.dirname(plain_env_file)
    with open(plain_env_file) as f:
        text = f.read()
    text = text.replace("  ecs_cluster", '  terraform {\n    root           = "."\n    backend_config = "backend.hcl"\n  }\n\n  ecs_cluster', 1)
    path = os.path.join(directory, "fleet-locked.env.hcl")
    with open(path, "w") as f:
        f.write(text)
    with open(os.path.join(directory, "main.tf"), "w") as f:
        f.write('terraform {\n  backend "s3" {}\n}\n')
    with open(os.path.join(directory, "backend.hcl"), "w") as f:
        f.write(f'bucket = "{STATE_BUCKET}"\nkey = "envs/fleet/terraform.tfstate"\nregion = "eu-west-2"\ndynamodb_table = "{LOCK_TABLE}"\n')
    return path


def timed(cmd, **kw):
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)
    return time.perf_counter() - start


def fleet(args):
    """(name, desired, (min, max) or None) of each parked service, from the harness's own
    fleet (the one `harness fleet-env` writes): svc-05 is kept."""
    out = subprocess.run([args.harness, "fleet-json", str(args.services)], check=True,
                         capture_output=True, text=True).stdout
    return [(s["name"], s["desired"], tuple(s["range"]) if s["range"] else None)
            for s in json.loads(out) if s["park"]]


def rules(args):
    """(name, event bus, ARN) of each of the fleet's EventBridge rules (`harness fleet-rules-json`)."""
    out = subprocess.run([args.harness, "fleet-rules-json", str(args.services)], check=True,
                         capture_output=True, text=True).stdout
    result = []
    for r in json.loads(out):
        path = r["name"] if r["event_bus"] == "default" else f'{r["event_bus"]}/{r["name"]}'
        result.append((r["name"], r["event_bus"], f"arn:aws:events:eu-west-2:123456789012:rule/{path}"))
    return result


def cli_script(args, direction):
    aws = f"{args.aws} --endpoint-url {args.endpoint} --output json"
    lines = ["set -e"]
    rule_lines = []
    for name, bus, arn in rules(args):
        rule_lines.append(f"{aws} events describe-rule --name {name} --event-bus-name {bus} >/dev/null")
        rule_lines.append(f"{aws} events list-tags-for-resource --resource-arn {arn} >/dev/null")
        if direction == "down":
            rule_lines.append(f"{aws} events tag-resource --resource-arn {arn} --tags Key=infra-park:record,Value=v1 >/dev/null")
            rule_lines.append(f"{aws} events disable-rule --name {name} --event-bus-name {bus} >/dev/null")
        else:
            rule_lines.append(f"{aws} events enable-rule --name {name} --event-bus-name {bus} >/dev/null")
            rule_lines.append(f"{aws} events untag-resource --resource-arn {arn} --tag-keys infra-park:record >/dev/null")
    if direction == "down":
        lines.extend(rule_lines)
    for name, desired, rng in fleet(args):
        rid = f"service/fleet/{name}"
        arn = f"arn:aws:ecs:eu-west-2:123456789012:service/fleet/{name}"
        lines.append(f"{aws} ecs describe-services --cluster fleet --services {name} --include TAGS >/dev/null")
        lines.append(f"{aws} application-autoscaling describe-scalable-targets --service-namespace ecs --resource-ids {rid} >/dev/null")
        if direction == "down":
            lines.append(f"{aws} ecs tag-resource --resource-arn {arn} --tags key=infra-park:record,value=v1 >/dev/null")
            if rng:
                lines.append(f"{aws} application-autoscaling register-scalable-target --service-namespace ecs --resource-id {rid} "
                             "--scalable-dimension ecs:service:DesiredCount --min-capacity 0 --max-capacity 0 "
                             "--suspended-state DynamicScalingInSuspended=true,DynamicScalingOutSuspended=true,ScheduledScalingSuspended=true >/dev/null")
            lines.append(f"{aws} ecs update-service --cluster fleet --service {name} --desired-count 0 >/dev/null")
        else:
            if rng:
                lines.append(f"{aws} application-autoscaling register-scalable-target --service-namespace ecs --resource-id {rid} "
                             f"--scalable-dimension ecs:service:DesiredCount --min-capacity {rng[0]} --max-capacity {rng[1]} >/dev/null")
            lines.append(f"{aws} ecs update-service --cluster fleet --service {name} --desired-count {desired} >/dev/null")
            lines.append(f"{aws} ecs describe-services --cluster fleet --services {name} >/dev/null")
            if rng:
                lines.append(f"{aws} application-autoscaling register-scalable-target --service-namespace ecs --resource-id {rid} "
                             f"--scalable-dimension ecs:service:DesiredCount --min-capacity {rng[0]} --max-capacity {rng[1]} "
                             "--suspended-state DynamicScalingInSuspended=false,DynamicScalingOutSuspended=false,ScheduledScalingSuspended=false >/dev/null")
            lines.append(f"{aws} ecs untag-resource --resource-arn {arn} --tag-keys infra-park:record >/dev/null")
    if direction == "up":
        lines.extend(rule_lines)
    return "\n".join(lines) + "\n"


def boto3_run(args, direction):
    kw = dict(endpoint_url=args.endpoint, region_name="eu-west-2")
    ecs = boto3.client("ecs", **kw)
    aas = boto3.client("application-autoscaling", **kw)
    events = boto3.client("events", **kw)
    fleet_services, fleet_rules = fleet(args), rules(args)

    def rules_run():
        for name, bus, arn in fleet_rules:
            events.describe_rule(Name=name, EventBusName=bus)
            events.list_tags_for_resource(ResourceARN=arn)
            if direction == "down":
                events.tag_resource(ResourceARN=arn, Tags=[{"Key": "infra-park:record", "Value": "v1"}])
                events.disable_rule(Name=name, EventBusName=bus)
            else:
                events.enable_rule(Name=name, EventBusName=bus)
                events.untag_resource(ResourceARN=arn, TagKeys=["infra-park:record"])

    start = time.perf_counter()
    if direction == "down":
        rules_run()
    for name, desired, rng in fleet_services:
        rid = f"service/fleet/{name}"
        arn = f"arn:aws:ecs:eu-west-2:123456789012:service/fleet/{name}"
        ecs.describe_services(cluster="fleet", services=[name], include=["TAGS"])
        aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[rid])
        if direction == "down":
            ecs.tag_resource(resourceArn=arn, tags=[{"key": "infra-park:record", "value": "v1"}])
            if rng:
                aas.register_scalable_target(ServiceNamespace="ecs", ResourceId=rid, ScalableDimension="ecs:service:DesiredCount",
                                             MinCapacity=0, MaxCapacity=0,
                                             SuspendedState={"DynamicScalingInSuspended": True, "DynamicScalingOutSuspended": True,
                                                             "ScheduledScalingSuspended": True})
            ecs.update_service(cluster="fleet", service=name, desiredCount=0)
        else:
            if rng:
                aas.register_scalable_target(ServiceNamespace="ecs", ResourceId=rid, ScalableDimension="ecs:service:DesiredCount",
                                             MinCapacity=rng[0], MaxCapacity=rng[1])
            ecs.update_service(cluster="fleet", service=name, desiredCount=desired)
            ecs.describe_services(cluster="fleet", services=[name])
            if rng:
                aas.register_scalable_target(ServiceNamespace="ecs", ResourceId=rid, ScalableDimension="ecs:service:DesiredCount",
                                             MinCapacity=rng[0], MaxCapacity=rng[1],
                                             SuspendedState={"DynamicScalingInSuspended": False, "DynamicScalingOutSuspended": False,
                                                             "ScheduledScalingSuspended": False})
            ecs.untag_resource(resourceArn=arn, tagKeys=["infra-park:record"])
    if direction == "up":
        rules_run()
    return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser()
    for a in ["endpoint", "env-file", "park", "harness", "aws", "out"]:
        p.add_argument("--" + a, required=True)
    p.add_argument("--services", type=int, required=True)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    assert args.endpoint.startswith("http://127.0.0.1:"), "benchmarks only talk to the local emulator"

    args.env_file = locked_environment(args.env_file)
    # park as it runs in production (with the environment lock), alternating with the same
    # runs without the lock, so the lock's cost is measured in the same conditions.
    park = {"down": [], "up": []}
    nolock = {"down": [], "up": []}
    for _ in range(args.repeats):
        for variant, extra in [(park, []), (nolock, ["--no-lock"])]:
            reset_and_seed(args)
            for d in ["down", "up"]:
                variant[d].append(timed([args.park, d, "--env-file", args.env_file, "--poll-interval", "100ms", *extra],
                                        stderr=subprocess.DEVNULL))
    # One run of each under faults (30% throttling, 5% 5xx, 2% resets: the fault suite's
    # rates) through the harness's fault proxy, alternating with fault-free runs.
    proxy = subprocess.Popen([args.harness, "fault-proxy", "--upstream", args.endpoint, "--seed", "7",
                              "--throttle", "0.30", "--server-error", "0.05", "--reset", "0.02"],
                             stdout=subprocess.PIPE, text=True)
    faulty_endpoint = proxy.stdout.readline().strip()
    assert faulty_endpoint.startswith("http://127.0.0.1:"), faulty_endpoint
    clean = {"down": [], "up": []}
    faulty = {"down": [], "up": []}
    try:
        for _ in range(args.repeats):
            for variant, endpoint in [(clean, args.endpoint), (faulty, faulty_endpoint)]:
                reset_and_seed(args)
                env = dict(os.environ, AWS_ENDPOINT_URL=endpoint)
                for d in ["down", "up"]:
                    variant[d].append(timed([args.park, d, "--env-file", args.env_file, "--poll-interval", "100ms"],
                                            stderr=subprocess.DEVNULL, env=env))
    finally:
        proxy.terminate()
        proxy.wait()
    b3 = {"down": [], "up": []}
    for _ in range(args.repeats):
        reset_and_seed(args)
        for d in ["down", "up"]:
            b3[d].append(boto3_run(args, d))
    cli = {"down": [], "up": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(max(1, args.repeats // 5)):
            reset_and_seed(args)
            for d in ["down", "up"]:
                script = os.path.join(tmp, f"{d}.sh")
                with open(script, "w") as f:
                    f.write(cli_script(args, d))
                cli[d].append(timed(["bash", script]))

    med = {k: {d: statistics.median(v[d]) for d in v} for k, v in [("park", park), ("boto3", b3), ("cli", cli)]}
    rows = []
    for d in ["down", "up"]:
        rows.append(f"| `park {d}` | {med['park'][d]:.3f} s | {med['boto3'][d]:.3f} s | {med['cli'][d]:.2f} s "
                    f"| {med['cli'][d] / med['park'][d]:.0f}x | {med['boto3'][d] / med['park'][d]:.1f}x |")
    total_park = med["park"]["down"] + med["park"]["up"]
    total_cli = med["cli"]["down"] + med["cli"]["up"]
    total_b3 = med["boto3"]["down"] + med["boto3"]["up"]
    rows.append(f"| down + up | {total_park:.3f} s | {total_b3:.3f} s | {total_cli:.2f} s | {total_cli / total_park:.0f}x | {total_b3 / total_park:.1f}x |")
    lock_rows = []
    for d in ["down", "up"]:
        with_lock, without = statistics.median(park[d]), statistics.median(nolock[d])
        lock_rows.append(f"| `park {d}` | {with_lock * 1000:.0f} ms | {without * 1000:.0f} ms | {(with_lock - without) * 1000:+.0f} ms |")
    fault_rows = []
    for d in ["down", "up"]:
        c, f = statistics.median(clean[d]), statistics.median(faulty[d])
        fault_rows.append(f"| `park {d}` | {c:.2f} s | {f:.2f} s | {f / c:.1f}x |")
    cpu = platform.processor() or platform.machine()
    n_rules = len(rules(args))
    text = f"""## park: {args.services} ECS services (mixed: with/without scalable targets, partial suspensions) + 2 Aurora clusters + {n_rules} EventBridge rules

| operation | `park` (Rust, parallel) | boto3, one process, sequential | bash + `aws` CLI | CLI / park | boto3 / park |
| --- | --- | --- | --- | --- | --- |
{chr(10).join(rows)}

What each column does, per parked service: read the service (with tags) and its scalable
target; park: write the record tag, suspend the target at 0-0, desired count 0; unpark:
restore the range, restore the count, check the service, restore the exact suspension
flags, remove the record; per EventBridge rule: read it and its tags; park: write the
record tag, disable it; unpark: enable it, remove the record (rules first on park, last on
unpark, as `park` orders them). `park` also reads and handles the two Aurora clusters, runs the
account guard and waits for services to be stable (the emulator is stable at once). The
CLI script and boto3 variant skip those extras, so the comparison favours them.
`park` runs up to 16 resources at once (`--concurrency`). Medians of {args.repeats} runs for
`park` and boto3 and of {len(cli['down'])} for the CLI script, each from a freshly reset and
seeded emulator, on {cpu}.

### The environment lock

| operation | with the lock (default) | `--no-lock` | the lock's cost |
| --- | --- | --- | --- |
{chr(10).join(lock_rows)}

The lock is Terraform's state lock in the DynamoDB table (one conditional PutItem before
the run, one conditional DeleteItem after it). Medians of {args.repeats} runs each,
alternating with and without the lock, every run from a freshly reset and seeded emulator.

### Under throttling: one run

| operation | no faults | 30% throttling, 5% 5xx, 2% resets | slowdown |
| --- | --- | --- | --- |
{chr(10).join(fault_rows)}

The faults come from the test suite's fault proxy (`harness fault-proxy`, seed 7) between
`park` and the emulator (the lock's DynamoDB calls go directly). Every run exits 0: each
call is retried, with backoff and full jitter, until the run's deadline. Medians of
{args.repeats} runs each, alternating, every run from a freshly reset and seeded emulator.
"""
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
