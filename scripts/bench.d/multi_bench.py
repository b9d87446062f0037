"""Many environments, one account: park down + park up of N environments of S services
each, through a proxy that throttles as AWS does (ECS's published token buckets; EC2's
model for Application Auto Scaling), as one `park` run over a directory of environment
files vs N separate `park` processes started at once (what a user runs instead: one job per
environment, or a matrix). Reports the wall time, the buckets' floor (the least time the
buckets allow for the calls that were answered), and the calls throttled. Every run is
checked exact afterwards. Only 127.0.0.1 is contacted.
"""
import argparse
import json
import os
import subprocess
import tempfile
import time
import urllib.request

import boto3


def env_text(name, clusters, services):
    lines = [f'environment "{name}" {{', '  account_id = "123456789012"', '  region     = "eu-west-2"', ""]
    for cluster in clusters:
        lines.append(f'  ecs_cluster "{cluster}" {{')
        for i in range(services):
            lines += [f'    service "svc-{i:02d}" {{', "      desired_count = 2",
                      "      autoscaling {", "        min = 2", "        max = 6", "      }", "    }"]
        lines.append("  }")
    lines += ["}", ""]
    return "\n".join(lines)


def write_envs(directory, count, services):
    """N environment files in `directory` (env-NN, its cluster env-NN), and beside it one
    file naming every cluster, to seed them at once. Returns that file."""
    os.makedirs(directory, exist_ok=True)
    names = [f"env-{n:02d}" for n in range(count)]
    for name in names:
        with open(os.path.join(directory, f"{name}.env.hcl"), "w") as f:
            f.write(env_text(name, [name], services))
    seed = directory + "-seed.env.hcl"
    with open(seed, "w") as f:
        f.write(env_text("seed", names, services))
    return seed


def reset_and_seed(args, seed):
    urllib.request.urlopen(urllib.request.Request(args.endpoint + "/moto-api/reset", method="POST"), timeout=10)
    subprocess.run([args.harness, "seed", "--env-file", seed, "--endpoint", args.endpoint],
                   check=True, stdout=subprocess.DEVNULL)


def start_proxy(args, stats):
    proxy = subprocess.Popen([args.harness, "fault-proxy", "--upstream", args.endpoint, "--aws-buckets",
                              "--stats", stats], stdout=subprocess.PIPE, text=True)
    endpoint = proxy.stdout.readline().strip()
    assert endpoint.startswith("http://127.0.0.1:"), endpoint
    return proxy, endpoint


def read_stats(stats):
    time.sleep(0.5)  # the proxy writes its counts five times a second
    with open(stats) as f:
        return json.load(f)


def check_exact(args, count, services, direction):
    ecs = boto3.client("ecs", endpoint_url=args.endpoint, region_name="eu-west-2")
    aas = boto3.client("application-autoscaling", endpoint_url=args.endpoint, region_name="eu-west-2")
    want = 0 if direction == "down" else 2
    for n in range(count):
        cluster = f"env-{n:02d}"
        names = [f"svc-{i:02d}" for i in range(services)]
        for chunk in range(0, len(names), 10):
            out = ecs.describe_services(cluster=cluster, services=names[chunk:chunk + 10])
            for s in out["services"]:
                assert s["desiredCount"] == want, (cluster, s["serviceName"], s["desiredCount"], direction)
        ids = [f"service/{cluster}/{name}" for name in names]
        targets = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=ids)["ScalableTargets"]
        assert len(targets) == services, (cluster, len(targets))
        for t in targets:
            expected = (0, 0) if direction == "down" else (2, 6)
            assert (t["MinCapacity"], t["MaxCapacity"]) == expected, (cluster, t, direction)


def one_run(args, directory, count, direction, separate, tmp):
    stats = os.path.join(tmp, f"stats-{direction}-{separate}.json")
    proxy, endpoint = start_proxy(args, stats)
    env = dict(os.environ, AWS_ENDPOINT_URL=endpoint)
    try:
        start = time.perf_counter()
        logs = [os.path.join(tmp, f"{direction}-{separate}-{n}.log") for n in range(count if separate else 1)]
        if separate:
            procs = [subprocess.Popen([args.park, direction, "--env-file",
                                       os.path.join(directory, f"env-{n:02d}.env.hcl"), "--poll-interval", "100ms", "--no-lock"],
                                      env=env, stdout=subprocess.DEVNULL, stderr=open(logs[n], "w"))
                     for n in range(count)]
            codes = [p.wait() for p in procs]
        else:
            codes = [subprocess.run([args.park, direction, "--env-file", directory, "--poll-interval", "100ms", "--no-lock"],
                                    env=env, stdout=subprocess.DEVNULL, stderr=open(logs[0], "w")).returncode]
        wall = time.perf_counter() - start
        buckets = read_stats(stats)
    finally:
        proxy.terminate()
        proxy.wait()
    failed = [(n, c) for n, c in enumerate(codes) if c != 0]
    why = ""
    if failed:
        with open(logs[failed[0][0]]) as f:
            errors = [line.strip() for line in f if "error" in line.lower()]
        why = errors[0] if errors else f"exit {failed[0][1]}"
    served = sum(b["served"] for b in buckets)
    throttled = sum(b["throttled"] for b in buckets)
    # The floor of the work: the changing calls, whose number the plan fixes. (Describes are
    # elastic: a wait polls as often as it may, so their bucket is reported, not a floor.)
    floor = max(b["floor_seconds"] for b in buckets if "describes" not in b["name"] and "non-mutating" not in b["name"])
    reads = sum(b["served"] for b in buckets if "describes" in b["name"] or "non-mutating" in b["name"])
    return {"wall": wall, "floor": floor, "served": served, "throttled": throttled, "reads": reads,
            "failed": len(failed), "processes": len(codes), "why": why}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True)
    p.add_argument("--park", required=True)
    p.add_argument("--harness", required=True)
    p.add_argument("--envs", default="12,50")
    p.add_argument("--services", type=int, default=10)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    assert args.endpoint.startswith("http://127.0.0.1:") or args.endpoint.startswith("http://localhost:")

    rows = []
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for count in [int(n) for n in args.envs.split(",")]:
            directory = os.path.join(tmp, f"envs-{count}")
            seed = write_envs(directory, count, args.services)
            for separate in [False, True]:
                reset_and_seed(args, seed)
                for direction in ["down", "up"]:
                    r = one_run(args, directory, count, direction, separate, tmp)
                    if r["failed"]:
                        outcome = f"**{r['failed']} of {r['processes']} exited non-zero**: {r['why'][:160]}"
                        failures.append(outcome)
                    else:
                        check_exact(args, count, args.services, direction)
                        outcome = "exact"
                    attempts = r["served"] + r["throttled"]
                    how = f"{count} separate `park` processes" if separate else "one `park` run"
                    rows.append(
                        f"| {count} × {args.services} | `park {direction}` | {how} | {r['wall']:.1f} s | {r['floor']:.1f} s "
                        f"| {r['wall'] / r['floor']:.2f}× | {r['throttled']} of {attempts} ({100 * r['throttled'] / attempts:.0f}%) | {r['reads']} | {outcome} |")
                    print(rows[-1], flush=True)

    with open(args.out, "w") as f:
        f.write(f"""## Many environments, one account: one run and its shared rate budget

`park down` and `park up` of N environments of {args.services} services each (every service with a
scalable target), all in one account and Region, through the harness's proxy throttling as
AWS does (`harness fault-proxy --aws-buckets`: ECS's published token buckets, service modify
50 burst / 5 a second, resource tag modify 20 / 10, describes 100 / 20; EC2's model for
Application Auto Scaling, mutating 50 / 5, non-mutating 100 / 20). One `park` run over the
directory of environment files (one shared rate budget) against N separate `park` processes
started at once (each with its own budget, as separate CircleCI jobs or a matrix would run
them). Floor: the least time the buckets allow for the changes that were made (the calls
of the modify buckets that were answered: what does not fit in a bucket's burst, at its
refill rate; the slowest bucket). Describes are elastic (a wait polls as often as it may)
and are counted, not floored. Every run was
checked exact afterwards (desired counts and scalable targets) when every process
exited 0. Reproduce:
`.venv/bin/python scripts/bench.d/multi_bench.py --endpoint URL --park "$(scripts/target-dir)/release/park" --harness "$(scripts/target-dir)/release/harness" --envs {args.envs} --out OUT` (what `scripts/bench` runs).

| environments × services | command | how | wall time | floor | wall / floor | throttled calls | describes answered | end state |
|---|---|---|---|---|---|---|---|---|
""")
        f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
