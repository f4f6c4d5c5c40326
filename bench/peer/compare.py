"""Compare HyperField's Swift engine with a PyTorch copy of its models on this CPU.

Runs every workload in both engines, alternating (Swift, PyTorch, Swift,
PyTorch, ...) for several rounds, each measurement in a fresh process so
that the peak RSS read from `wait4` belongs to one engine and one workload.
Both engines get the same batch, shapes and thread count. The ratio printed
is PyTorch time / Swift time, so a ratio above 1 means Swift is faster.

Usage (after `make bench-peer` has installed bench/peer/.venv):
    python3 bench/peer/compare.py [--rounds N] [--threads N]

Workers: bench/peer/swift/main.swift (the `hyperfield-bench-peer` product)
and bench/peer/workloads.py.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

PEER_FOLDER = os.path.dirname(os.path.abspath(__file__))
REPOSITORY = os.path.dirname(os.path.dirname(PEER_FOLDER))
SWIFT_RUNNER = os.path.join(REPOSITORY, ".build", "release", "hyperfield-bench-peer")
VENV_PYTHON = os.path.join(PEER_FOLDER, ".venv", "bin", "python")

# Workload, its label in the table, and timed runs per process (after one
# untimed warm-up run in the same process).
WORKLOADS = [
    ("denoiser-train", "denoiser training step, batch 32, AdamW", 3),
    ("field-train", "field training step, 4 subjects x 16 draws", 3),
    ("sample", "DDIM sampling, 16 images, 25 steps, guidance 3", 1),
    ("personalize", "personalization: encode 4 images, field at s = S", 10),
]


def run_process(command, environment):
    """Run `command` to completion and return its exit code, standard output,
    standard error and peak RSS in bytes (from `wait4`, this child only)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.posix_spawn(
            command[0], command, environment,
            file_actions=[(os.POSIX_SPAWN_DUP2, out.fileno(), 1), (os.POSIX_SPAWN_DUP2, err.fileno(), 2)])
        _, status, usage = os.wait4(pid, 0)
        out.seek(0)
        err.seek(0)
        # ru_maxrss is in KiB on Linux.
        return os.waitstatus_to_exitcode(status), out.read().decode(), err.read().decode(), usage.ru_maxrss * 1024


def load_average():
    """Read the 1-minute load average from /proc/loadavg."""
    with open("/proc/loadavg") as file:
        return float(file.read().split()[0])


def cpu_model():
    """Return the CPU model name, as `lscpu` shows it."""
    try:
        output = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in output.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return "unknown CPU"


class Engines:
    """The two worker commands and their environments."""

    def __init__(self, arguments):
        self.threads = arguments.threads
        base = dict(os.environ)
        base["HYPERFIELD_THREADS"] = str(arguments.threads)
        base["OMP_NUM_THREADS"] = str(arguments.threads)
        base["MKL_NUM_THREADS"] = str(arguments.threads)
        self.swift_environment = dict(base)
        self.torch_environment = dict(base)
        # OpenMP's default lets a waiting thread spin before it sleeps. When
        # other jobs hold the cores, each parallel op then waits for a
        # descheduled thread. On 2 cores at a load average of about 6, the
        # denoiser's batch-32 forward pass at 2 threads took 1.0 to 3.3 s
        # with the default and 0.27 s with PASSIVE.
        if arguments.omp_wait_policy:
            self.torch_environment["OMP_WAIT_POLICY"] = arguments.omp_wait_policy
        self.python = arguments.python

    def command(self, engine, workload, repeats, extra):
        options = [workload, "--repeats", str(repeats), "--threads", str(self.threads)] + extra
        if engine == "swift":
            return [SWIFT_RUNNER] + options
        return [self.python, os.path.join(PEER_FOLDER, "workloads.py")] + options

    def run(self, engine, workload, repeats=1, extra=()):
        """Run one workload in a fresh process and return its JSON report with
        `peak_rss` added. Exit the program when the worker fails."""
        environment = self.swift_environment if engine == "swift" else self.torch_environment
        command = self.command(engine, workload, repeats, list(extra))
        code, out, err, peak_rss = run_process(command, environment)
        if code != 0:
            sys.exit(f"{engine} worker failed with exit code {code}: {' '.join(command)}\n{err.strip()}")
        report = json.loads(out.strip().splitlines()[-1])
        report["peak_rss"] = peak_rss
        return report


def check_architectures(engines):
    """Print the parameter counts of both engines' models and exit unless
    every parameter name and shape matches."""
    swift = engines.run("swift", "describe")
    torch = engines.run("pytorch", "describe")
    matched = True
    for model in ("denoiser", "field", "autoencoder"):
        s, t = swift[model], torch[model]
        same = s["shapes"] == t["shapes"] and s["count"] == t["count"] and s["trainable"] == t["trainable"]
        matched = matched and same
        print(f"{model:<12} parameters: Swift {s['count']:>9,} ({s['trainable']:,} trainable), "
              f"PyTorch {t['count']:>9,} ({t['trainable']:,} trainable): {'match' if same else 'DIFFER'}")
        if not same:
            only_swift = sorted(set(s["shapes"]) - set(t["shapes"]))
            only_torch = sorted(set(t["shapes"]) - set(s["shapes"]))
            shapes = sorted(k for k in set(s["shapes"]) & set(t["shapes"]) if s["shapes"][k] != t["shapes"][k])
            print(f"  only in Swift: {only_swift[:8]}\n  only in PyTorch: {only_torch[:8]}\n  other shape: {shapes[:8]}")
    print(f"LoRA slots: Swift {swift['slots']}, PyTorch {torch['slots']}")
    if not matched or swift["slots"] != torch["slots"]:
        sys.exit("the PyTorch models do not mirror the Swift ones; fix bench/peer/*.py before timing")
    return torch["torch"]


# Largest accepted max |PyTorch − Swift| / max |Swift| of an output. Measured
# here: about 1e-6 for single passes and 2e-4 for 3 guided DDIM steps, where
# dividing by √ᾱ_t near t = T amplifies rounding. A wrong layer gives about 1.
OUTPUT_TOLERANCE = 1e-3


def check_outputs(engines):
    """Recompute the Swift models' outputs in PyTorch with the same random
    weights and inputs, print the differences, and exit when one is too large."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "check.safetensors")
        engines.run("swift", "check", extra=["--output", path])
        differences = engines.run("pytorch", "check", extra=["--input", path])["differences"]
    print("same weights and inputs, max |PyTorch - Swift| / max |Swift|: "
          + ", ".join(f"{name} {value:.1e}" for name, value in differences.items()))
    failed = [name for name, value in differences.items() if not value <= OUTPUT_TOLERANCE]
    if failed:
        sys.exit(f"outputs differ by more than {OUTPUT_TOLERANCE:g}: {', '.join(failed)}; "
                 "the PyTorch models do not compute what the Swift ones do")


def format_seconds(seconds):
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of alternating measurements (default 5)")
    parser.add_argument("--threads", type=int, default=2, help="threads of both engines (default 2)")
    parser.add_argument("--python", default=VENV_PYTHON if os.path.exists(VENV_PYTHON) else sys.executable,
                        help="Python with torch installed (default bench/peer/.venv/bin/python)")
    parser.add_argument("--omp-wait-policy", default="PASSIVE",
                        help="OMP_WAIT_POLICY of the PyTorch worker (default PASSIVE, '' keeps OpenMP's default)")
    parser.add_argument("--only", help="run just the workloads whose name contains this text")
    parser.add_argument("--no-build", action="store_true", help="skip `swift build` of the Swift worker")
    arguments = parser.parse_args()

    if not arguments.no_build:
        build = ["swift", "build", "-c", "release", "--product", "hyperfield-bench-peer"]
        if subprocess.run(build, cwd=REPOSITORY, stdout=subprocess.DEVNULL).returncode != 0:
            sys.exit(f"'{' '.join(build)}' failed in {REPOSITORY}")
    if not os.path.exists(SWIFT_RUNNER):
        sys.exit(f"Swift worker {SWIFT_RUNNER} not found; run 'swift build -c release --product hyperfield-bench-peer'")

    engines = Engines(arguments)
    torch_version = check_architectures(engines)
    check_outputs(engines)
    workloads = [w for w in WORKLOADS if not arguments.only or arguments.only in w[0]]
    print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs; threads: {arguments.threads} per engine; "
          f"torch {torch_version}; PyTorch OMP_WAIT_POLICY={arguments.omp_wait_policy or 'default'}")
    print(f"{arguments.rounds} rounds; each round runs every workload in Swift, then in PyTorch, one process each")

    # Keyed by (engine, workload): every timed run, the median of each round,
    # and the peak RSS of each process.
    seconds, round_medians, peak_rss, loads = {}, {}, {}, [load_average()]
    started = time.time()
    for round_index in range(arguments.rounds):
        for workload, _, repeats in workloads:
            for engine in ("swift", "pytorch"):
                report = engines.run(engine, workload, repeats)
                seconds.setdefault((engine, workload), []).extend(report["seconds"])
                round_medians.setdefault((engine, workload), []).append(statistics.median(report["seconds"]))
                peak_rss.setdefault((engine, workload), []).append(report["peak_rss"])
                loads.append(load_average())
                print(f"  round {round_index + 1} {engine:<7} {workload:<15} median "
                      f"{format_seconds(statistics.median(report['seconds']))}, peak RSS "
                      f"{report['peak_rss'] / 2**20:.0f} MiB, load {loads[-1]:.2f}", flush=True)

    # The ratio is taken within each round, where both engines ran minutes
    # apart under about the same load, and the median over rounds is shown.
    print(f"\ntimes: median over all timed runs; ratio: PyTorch / Swift (> 1: Swift is faster), "
          f"median and range of the per-round ratios; peak RSS: max over rounds\n"
          f"{time.time() - started:.0f} s, 1-minute load average {min(loads):.2f} to {max(loads):.2f} "
          f"(mean {statistics.mean(loads):.2f})\n")
    print("| workload | Swift | PyTorch | ratio | ratio range | Swift peak RSS | PyTorch peak RSS | RSS ratio |")
    print("|---|---:|---:|---:|---|---:|---:|---:|")
    for workload, label, _ in workloads:
        swift, torch = statistics.median(seconds[("swift", workload)]), statistics.median(seconds[("pytorch", workload)])
        per_round = [t / s for s, t in zip(round_medians[("swift", workload)], round_medians[("pytorch", workload)])]
        swift_rss = max(peak_rss[("swift", workload)])
        torch_rss = max(peak_rss[("pytorch", workload)])
        print(f"| {label} | {format_seconds(swift)} | {format_seconds(torch)} | {statistics.median(per_round):.2f} | "
              f"{min(per_round):.2f} to {max(per_round):.2f} | {swift_rss / 2**20:.0f} MiB | "
              f"{torch_rss / 2**20:.0f} MiB | {torch_rss / swift_rss:.2f} |")


if __name__ == "__main__":
    main()
