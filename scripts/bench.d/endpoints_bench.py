"""verify-endpoints on 20 endpoints that each answer after 200 ms, vs a sequential curl
loop over the same URLs. The endpoints are the tests' own HTTP stand-in (`harness
http-stub`). Only 127.0.0.1 is contacted."""
import argparse
import os
import statistics
import subprocess
import tempfile
import time


def timed(cmd):
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--verify", required=True)
    p.add_argument("--harness", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--endpoints", type=int, default=20)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    paths = [f"/health/{i}" for i in range(args.endpoints)]
    server = subprocess.Popen([args.harness, "http-stub", "--delay", "200ms",
                               *[f'{p}={{"status":"ok"}}' for p in paths]],
                              stdout=subprocess.PIPE, text=True)
    base = server.stdout.readline().strip()
    assert base.startswith("http://127.0.0.1:"), base
    urls = [base + p for p in paths]
    with tempfile.TemporaryDirectory() as tmp:
        env = os.path.join(tmp, "env.hcl")
        with open(env, "w") as f:
            f.write('environment "bench" {\n  account_id = "123456789012"\n  region = "eu-west-2"\n')
            for i, u in enumerate(urls):
                f.write(f'  endpoint "e{i:02}" {{\n    url = "{u}"\n    expect_json = {{ status = "ok" }}\n  }}\n')
            f.write("}\n")
        ours = [timed([args.verify, "--env-file", env]) for _ in range(args.repeats)]
        single = [timed([args.verify, "--url", urls[0]]) for _ in range(args.repeats)]
        loop = "; ".join(f"curl -sf -o /dev/null {u}" for u in urls)
        curl = [timed(["bash", "-c", loop]) for _ in range(args.repeats)]
    server.terminate()
    server.wait()
    m = {k: statistics.median(v) for k, v in [("ours", ours), ("single", single), ("curl", curl)]}
    text = f"""## verify-endpoints: {args.endpoints} endpoints, each answering after 200 ms

| command | median wall time |
| --- | --- |
| one endpoint alone (`verify-endpoints --url ...`): the slowest single check | {m['single']*1000:.0f} ms |
| `verify-endpoints` on all {args.endpoints} (JSON expectation each, default `--concurrency 32`) | {m['ours']*1000:.0f} ms ({m['ours']/m['single']:.2f}x the single check) |
| sequential `curl -sf` loop over the same {args.endpoints} URLs (no body check) | {m['curl']*1000:.0f} ms |

Medians of {args.repeats} runs; the server is the tests' HTTP stand-in (`harness http-stub`)
on 127.0.0.1.
"""
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
