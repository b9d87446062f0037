"""ecr-tags latest on a 2,000-image repository vs the aws CLI one-liner and the emulator's
own response time (raw curl); ecr-tags bump end to end. Only 127.0.0.1 is contacted."""
import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import boto3

DEPLOYER = r"^prefect-deployer-3-python3\.12-(?P<sha>[0-9a-f]{7,40})$"


def manifest(key):
    h = hashlib.sha256(key.encode()).hexdigest()
    return json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                       "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1, "digest": "sha256:" + h},
                       "layers": []})


def next_second():
    time.sleep(1.02 - (time.time() % 1))


def timed(cmd, env=None):
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return time.perf_counter() - start, out.stdout


def main():
    p = argparse.ArgumentParser()
    for a in ["endpoint", "ecr-tags", "harness", "aws", "root", "rewrite-bench", "out"]:
        p.add_argument("--" + a, required=True)
    p.add_argument("--images", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=10)
    args = p.parse_args()
    assert args.endpoint.startswith("http://127.0.0.1:"), "benchmarks only talk to the local emulator"
    urllib.request.urlopen(urllib.request.Request(args.endpoint + "/moto-api/reset", method="POST"), timeout=10)

    ecr = boto3.client("ecr", endpoint_url=args.endpoint, region_name="eu-west-2")
    ecr.create_repository(repositoryName="blog-data", imageTagMutability="IMMUTABLE")
    noise = args.images - 4
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: ecr.put_image(repositoryName="blog-data", imageManifest=manifest(f"n{i}"), imageTag=f"noise-{i:05}"), range(noise)))
    ecr.put_image(repositoryName="blog-data", imageManifest=manifest("base"), imageTag="prefect-3-python3.12-ecs-20261101-3c9d2e1")
    for sha in ["1a2b3c4", "4f2a9c1", "9e8d7c6"]:
        next_second()
        ecr.put_image(repositoryName="blog-data", imageManifest=manifest(sha), imageTag=f"prefect-deployer-3-python3.12-{sha}")
    next_second()
    ecr.put_image(repositoryName="blog-data", imageManifest=manifest("newer-noise"), imageTag="noise-newest")
    count = len(ecr.describe_images(repositoryName="blog-data")["imageDetails"])

    ours, cli, floor = [], [], []
    ours_out = cli_out = ""
    body = json.dumps({"repositoryName": "blog-data", "filter": {"tagStatus": "TAGGED"}, "maxResults": 1000})
    for _ in range(args.repeats):
        t, ours_out = timed([args.ecr_tags, "latest", "--repository", "blog-data", "--pattern", DEPLOYER])
        ours.append(t)
        t, cli_out = timed([args.aws, "--endpoint-url", args.endpoint, "ecr", "describe-images", "--repository-name", "blog-data",
                            "--query", "reverse(sort_by(imageDetails,&imagePushedAt))[0].imageTags", "--output", "json"])
        cli.append(t)
        t, _ = timed(["curl", "-s", "-o", "/dev/null", "-X", "POST", args.endpoint + "/",
                      "-H", "X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.DescribeImages",
                      "-H", "Content-Type: application/x-amz-json-1.1",
                      "-H", "Authorization: AWS4-HMAC-SHA256 Credential=bench/20261122/eu-west-2/ecr/aws4_request, SignedHeaders=host, Signature=0",
                      "--data", body])
        floor.append(t)

    # bump, end to end, on a 5,000-line main.tf: a working copy of examples/prod with the
    # pin in the middle of the file.
    work = tempfile.mkdtemp()
    shutil.copy(os.path.join(args.root, "examples/prod/prod.env.hcl"), work)
    shutil.copy(os.path.join(args.root, "examples/prod/backend.hcl"), work)
    main_tf = open(os.path.join(args.root, "examples/prod/main.tf")).read()
    blocks = [f'resource "aws_ssm_parameter" "p{i}" {{\n  name  = "/blog/p{i}"\n  type  = "String"\n  value = "v{i}" # {i}\n}}\n\n' for i in range(830)]
    big = "".join(blocks[:415]) + main_tf + "\n" + "".join(blocks[415:])
    lines = big.count("\n")
    bump_times = []
    for i in range(args.repeats):
        with open(os.path.join(work, "main.tf"), "w") as f:
            f.write(big)
        t, _ = timed([args.ecr_tags, "--env-file", os.path.join(work, "prod.env.hcl"), "bump", "prefect_deployer_image"])
        bump_times.append(t)
    bumped = open(os.path.join(work, "main.tf")).read()
    assert bumped == big.replace("4f2a9c1", "9e8d7c6", 1), "bump changed more than the tag"
    rewrite_ms = subprocess.run([args.rewrite_bench, os.path.join(work, "main.tf")],
                                check=True, capture_output=True, text=True).stdout.strip()
    shutil.rmtree(work)

    m = {k: statistics.median(v) for k, v in [("ours", ours), ("cli", cli), ("floor", floor), ("bump", bump_times)]}
    text = f"""## ecr-tags: {count} images in one repository

| command | median | over the floor | answer |
| --- | --- | --- | --- |
| emulator alone: one DescribeImages of all {count} images (raw `curl`, the floor) | {m['floor']*1000:.0f} ms | - | - |
| `ecr-tags latest --repository blog-data --pattern '{DEPLOYER}'` | {m['ours']*1000:.0f} ms | {(m['ours']-m['floor'])*1000:+.0f} ms | `{ours_out.strip()}` |
| `aws ecr describe-images --query 'reverse(sort_by(imageDetails,&imagePushedAt))[0].imageTags'` | {m['cli']*1000:.0f} ms | {(m['cli']-m['floor'])*1000:+.0f} ms | `{" ".join(cli_out.split())}` (the wrong family) |
| `ecr-tags bump prefect_deployer_image` on a {lines}-line `main.tf` (account guard, DescribeRepositories, DescribeImages of {count} images, rewrite, verify, atomic write) | {m['bump']*1000:.0f} ms | {(m['bump']-m['floor'])*1000:+.0f} ms | only the tag changed (checked) |
| the rewrite alone on that file (`find_pin` + `rewrite_pin` with its re-parse checks), in process | {rewrite_ms} | - | - |

`ecr-tags latest` includes process start, the account-guard-free SDK setup, and a
DescribeImages with `maxResults` 1000 (the emulator ignores it and sends all {count} at once).
Medians of {args.repeats} runs each.
"""
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
