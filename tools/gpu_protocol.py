"""The study's GPU protocol in one command, for a lent GPU: everything written under ``--out``.

    PYTHONPATH=src python tools/gpu_protocol.py --out "$OUT"              # on the GPU
    PYTHONPATH=src python tools/gpu_protocol.py --dry-run --out /tmp/gp   # rehearsal on a CPU

Stages, in order, each timed; a stage that fails is recorded and the next one runs:

1. ``environment``: the device backend's record (GPU, capability, memory, UUID, versions).
2. ``peak``: the measured dense matmul peak in bf16 and fp16 (CUDA events, 8192^3 products),
   the yardstick of every row's achieved TFLOP/s.
3. ``bench``: ``litevid bench`` of every registered model in the study's modes (train B=8 with
   AMP, batch B=32, single B=1) at 16x224x224, 10 warm-up and 100 timed runs, in this process
   (one CUDA context; each memory pass empties the cache and resets the peaks first).
4. ``peers``: the same architecture from torchvision and timm, timed here by the same harness at
   the same precision: torchvision ``swin3d_t`` vs ``swin_t``, torchvision ``mvit_v1_b`` vs
   litevid's ``MViT`` class in the MViT-B configuration, and timm ResNet-50 / EfficientNet-B0 /
   DeiT-S run per frame (the lower bound of TSM-R50 / VTN-EFF / ViViT-FE without their temporal
   modules).
5. ``train``: a short ``litevid train`` (synthetic data) in bf16 and in fp16 with loss scaling.
6. ``summary``: Spearman/Kendall of the relative-latency ranking against the study's Table 2 per
   mode, achieved TFLOP/s against the peak, peer ratios (goal <= 0.90 for the same
   architecture), peak training memory against the paper's VRAM column.

Files: ``results.db`` (bench rows, training evaluations), ``results.csv``, ``protocol.json``
(every stage's numbers, timings and errors), ``summary.md``, ``protocol.log`` (this output).

Time: one call of the lent machine may run 10 minutes. ``--budget-s`` (default 540) bounds the
whole run: the bench stops starting jobs when the time the later stages need is all that is
left, and a stage that no longer fits is skipped and listed. ``--dry-run`` runs the same plan on
the CPU through the fake CUDA backend (``litevid.devices.fake_cuda``: every CUDA call of the
real orchestration answered on CPU tensors) at 4x64 clips with small batches, a few runs and
fp32 for the bench and the peers (the CPU emulates bf16), in a few minutes; CI runs it, so the
protocol cannot break unseen. Peers that cannot be imported
(no torchvision / timm) are recorded as unavailable.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tools"))

# (litevid model, peer key for peer_compare.build_peer, what the peer is, same architecture?)
PEER_PAIRS = (
    ("swin_t", "swin_t", "torchvision swin3d_t", True),
    ("mvit_b", "mvit_b", "torchvision mvit_v1_b (litevid: MViT class, MViT-B 16x4)", True),
    ("tsm_r50", "tsm_r50", "timm resnet50 per frame (no temporal shift)", False),
    ("vtn_eff", "vtn_eff", "timm efficientnet_b0 per frame (no temporal transformer)", False),
    ("vivit_fe", "vivit_fe", "timm deit_small_patch16_224 per frame (no temporal encoder)", False),
)
PEER_GOAL = 0.90  # litevid / peer median, same architecture
PAPER_VRAM_MODELS = ("timesformer", "nl_r50", "swin_t", "tea_r50")


class Plan:
    """What the run measures: the study's protocol, or its tiny CPU rehearsal."""

    def __init__(self, dry_run: bool) -> None:
        self.dry_run = dry_run
        self.frames, self.size = (4, 64) if dry_run else (16, 224)
        self.batch = {"train": 2, "batch": 4, "single": 1} if dry_run else \
            {"train": 8, "batch": 32, "single": 1}
        self.warmup, self.iters = (1, 2) if dry_run else (10, 100)
        self.memory_iters = 1 if dry_run else 3
        # the study's mixed precision on the GPU; fp32 in the dry run, where the CPU would
        # emulate bf16 at a fraction of its fp32 speed (autocast is covered by the tests)
        self.precision = "fp32" if dry_run else "auto"
        self.peer_warmup, self.peer_iters = (1, 2) if dry_run else (5, 30)
        self.matmul_n, self.matmul_iters = (256, 5) if dry_run else (8192, 50)
        # seconds the later stages keep for themselves while the bench runs
        self.reserve = {"peers": 20, "train": 40, "summary": 5} if dry_run else \
            {"peers": 100, "train": 90, "summary": 10}
        train = ["--frames", "4", "--size", "32", "--num-clips", "16", "--batch-size", "2",
                 "--effective-batch", "4", "--workers", "0"] if dry_run else \
            ["--frames", "8", "--size", "112", "--num-clips", "128", "--batch-size", "8",
             "--effective-batch", "32", "--workers", "8"]
        self.train_args = ["--dataset", "synthetic", "--model", "x3d_xs", "--epochs", "1",
                           "--augment", "off", *train]


class Tee:
    """Writes to the console and to the log file."""

    def __init__(self, stream: Any, log: Any) -> None:
        self.stream, self.log = stream, log

    def write(self, text: str) -> int:
        self.log.write(text)
        self.log.flush()
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()
        self.log.flush()

    def isatty(self) -> bool:
        return False


def say(text: str) -> None:
    print(f"[gpu_protocol {time.strftime('%H:%M:%S')}] {text}", flush=True)


# ---- stages ---------------------------------------------------------------------------------------

def matmul_peak(device: Any, plan: Plan) -> dict[str, Any]:
    """Dense matmul throughput per autocast dtype, in multiply-adds per second (litevid's FLOP
    convention: 1 multiply-add = 1 FLOP) and in the vendors' 2-FLOP convention."""
    import torch

    from litevid.bench.timing import StopRule, run_timed, warm_up

    n, out = plan.matmul_n, {}
    for name, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
        a = torch.randn(n, n, device=device.device, dtype=dtype)
        b = torch.randn(n, n, device=device.device, dtype=dtype)
        timer = device.timer()
        warm_up(lambda: a @ b, timer, 3)
        rule = StopRule(min_iters=plan.matmul_iters, min_seconds=0, max_iters=plan.matmul_iters)
        samples = sorted(run_timed(lambda: a @ b, timer, rule).samples_ms)
        best_ms = samples[len(samples) // 10]  # 10th percentile: the sustained peak
        macs = n ** 3 / (best_ms / 1e3)
        out[name] = {"n": n, "ms": best_ms, "tmac_per_s": macs / 1e12,
                     "tflops_2flop_convention": 2 * macs / 1e12}
    a = b = None
    device.free()
    return out


def bench(plan: Plan, device_name: str, out: Path, deadline: float) -> dict[str, Any]:
    """``litevid bench`` of every registered model, one sweep per mode (cheapest first, so a
    run cut by the time budget loses training rows before inference rows)."""
    from litevid.bench.config import BenchConfig
    from litevid.bench.runner import plan_jobs, run_bench

    planned, rows = [], []
    for mode in ("single", "batch", "train"):
        cfg = BenchConfig(device=device_name, modes=mode, batch_size=plan.batch[mode],
                          precision=plan.precision,
                          frames=plan.frames, size=plan.size, warmup=plan.warmup,
                          iters=plan.iters, max_iters=plan.iters, min_seconds=0.0,
                          memory_iters=plan.memory_iters, in_process=True, db=str(out / "results.db"))
        planned += [(j.model, j.mode) for j in plan_jobs(cfg.resolved("cuda"), device_name)]
        rows += run_bench(cfg, deadline=deadline)
    done = {(r.model, r.mode) for r in rows}
    results: dict[str, Any] = {}
    keep = ("model", "mode", "batch", "status", "precision", "median_ms", "mean_ms", "p90_ms",
            "cv", "n", "gflops", "tflops", "peak_mem_bytes", "mem_kind", "pass_errors")
    results["rows"] = [{k: getattr(r, k) for k in keep}
                       | {k: (r.mem_detail or {}).get(k)
                          for k in ("nvml_process_bytes", "peak_allocated_bytes")}
                       for r in rows]
    results["skipped_for_time"] = [f"{m} {mode}" for m, mode in planned if (m, mode) not in done]
    return results


def _time_module(model: Any, mode: str, batch: int, plan: Plan, device: Any,
                 precision: str) -> dict[str, Any]:
    """Median ms of ``model`` in ``mode`` with the bench's step and timer."""
    from litevid.bench.modes import make_inputs, prepare_step
    from litevid.bench.timing import StopRule, time_prepared
    from litevid.results.stats import summarize

    model = model.to(device.device)
    x, target = make_inputs((3, plan.frames, plan.size, plan.size), batch, 400, device.device)
    prepared = prepare_step(model, mode, x, target, device=device, precision=precision)
    rule = StopRule(min_iters=plan.peer_iters, min_seconds=0, max_iters=plan.peer_iters)
    timing, _, _ = time_prepared(prepared, device, plan.peer_warmup, rule)
    stats = summarize(timing.samples_ms)
    return {"median_ms": stats.median, "cv": stats.cv, "n": stats.n}


def peers(plan: Plan, device: Any, deadline: float) -> list[dict[str, Any]]:
    import torch

    import litevid
    from litevid.models.mvit import mvit_b

    precision = device.choose_precision(plan.precision).precision
    out = []
    for ours, peer_key, what, same in PEER_PAIRS:
        for mode in ("train", "batch", "single"):
            entry: dict[str, Any] = {"model": ours, "peer": what, "mode": mode,
                                     "same_architecture": same, "precision": precision,
                                     "batch": plan.batch[mode]}
            out.append(entry)
            if time.monotonic() > deadline:
                entry["skipped"] = "time budget"
                continue
            for side in ("litevid", "peer"):
                try:
                    torch.manual_seed(0)
                    if side == "litevid":
                        model = (mvit_b(frames=plan.frames, size=plan.size) if ours == "mvit_b"
                                 else litevid.create_model(ours, frames=plan.frames,
                                                           size=plan.size))
                    else:
                        from peer_compare import build_peer

                        model = build_peer(peer_key, plan.frames, plan.size)
                    entry[side] = _time_module(model, mode, plan.batch[mode], plan, device,
                                               precision)
                except Exception as exc:  # a peer library absent here, an OOM: say so
                    entry[side] = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
                finally:
                    model = None
                    device.free()
            mine, theirs = entry["litevid"].get("median_ms"), entry["peer"].get("median_ms")
            if mine and theirs:
                entry["ratio"] = mine / theirs
                if same:
                    entry["goal"] = PEER_GOAL
                    entry["meets_goal"] = entry["ratio"] <= PEER_GOAL
    return out


def train(plan: Plan, out: Path, deadline: float) -> list[dict[str, Any]]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    runs = []
    for precision in ("amp-bf16", "amp-fp16"):
        run_dir = out / f"train-{precision}"
        entry: dict[str, Any] = {"precision": precision, "out": str(run_dir)}
        runs.append(entry)
        left = deadline - time.monotonic()
        if left < 15:
            entry["skipped"] = "time budget"
            continue
        cmd = [sys.executable, "-m", "litevid", "train", *plan.train_args, "--precision",
               precision, "--out", str(run_dir), "--db", str(out / "results.db")]
        t0 = time.monotonic()
        try:
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=left)
        except subprocess.TimeoutExpired:
            entry["error"] = f"timed out after {left:.0f} s"
            continue
        entry.update(returncode=done.returncode, wall_s=time.monotonic() - t0,
                     stdout_tail=done.stdout[-1500:], stderr_tail=done.stderr[-1500:])
        log = run_dir / "log.jsonl"
        if log.is_file():
            records = [json.loads(ln) for ln in log.read_text().splitlines() if ln.strip()]
            start = next((r for r in records if r.get("event") == "start"), {})
            epochs = [r for r in records if r.get("event") == "epoch"]
            entry.update(precision_used=start.get("precision"),
                         precision_choice=start.get("precision_choice"),
                         device=start.get("device"),
                         losses=[r.get("loss") for r in epochs],
                         clips_per_s=[r.get("clips_per_s") for r in epochs])
    return runs


# ---- summary --------------------------------------------------------------------------------------

def summarize_run(report: dict[str, Any]) -> dict[str, Any]:
    """The numbers issue 22 asks for, from this run's rows."""
    from litevid.report.paper import paper_relative_latency, paper_vram_gb
    from litevid.report.stats import kendall_tau, spearman_rho

    rows = [r for r in report.get("bench", {}).get("rows", []) if r["status"] == "ok"]
    out: dict[str, Any] = {"ranking_vs_table2": {}, "achieved_vs_peak": [], "train_memory": []}
    for mode in ("train", "batch", "single"):
        mine = {r["model"]: r["median_ms"] for r in rows if r["mode"] == mode}
        paper = paper_relative_latency(mode)
        common = sorted(set(mine) & set(paper))
        if len(common) >= 3:
            fastest = min(mine[m] for m in common)
            out["ranking_vs_table2"][mode] = {
                "models": len(common),
                "spearman": spearman_rho([mine[m] for m in common], [paper[m] for m in common]),
                "kendall": kendall_tau([mine[m] for m in common], [paper[m] for m in common]),
                "relative": {m: round(mine[m] / fastest, 3) for m in common},
                "paper_relative": {m: paper[m] for m in common}}
    peak = report.get("peak", {})
    for r in rows:
        dtype = {"amp-bf16": "bf16", "amp-fp16": "fp16"}.get(r["precision"])
        p = peak.get(dtype, {}).get("tmac_per_s") if dtype else None
        out["achieved_vs_peak"].append({
            "model": r["model"], "mode": r["mode"], "tflops_mac": r["tflops"],
            "share_of_peak": r["tflops"] / p if p and r["tflops"] else None})
    vram = paper_vram_gb("train")
    for r in rows:
        if r["mode"] == "train" and r["model"] in vram:
            out["train_memory"].append({
                "model": r["model"], "batch": r["batch"], "paper_vram_gb": vram[r["model"]],
                "peak_reserved_gb": (r["peak_mem_bytes"] or 0) / 1e9,
                "nvml_process_gb": (r["nvml_process_bytes"] / 1e9
                                    if r["nvml_process_bytes"] else None)})
    out["peers"] = [{k: p.get(k) for k in ("model", "peer", "mode", "ratio", "goal",
                                            "meets_goal")}
                    for p in report.get("peers", []) if "ratio" in p]
    return out


def summary_markdown(report: dict[str, Any]) -> str:
    s = report.get("summary", {})
    env = report.get("environment", {})
    lines = [f"# GPU protocol: {env.get('device_name')} ({'dry run' if report['dry_run'] else 'full'})",
             "", f"torch {env.get('torch_version')}, CUDA {env.get('cuda_version')}, "
             f"compute capability {env.get('compute_capability')}, "
             f"{report['elapsed_s']:.0f} s in all", ""]
    for name, p in report.get("peak", {}).items():
        lines.append(f"- matmul peak {name}: {p['tmac_per_s']:.1f} T multiply-adds/s "
                     f"({p['tflops_2flop_convention']:.1f} TFLOP/s, 2-FLOP convention)")
    lines += ["", "## Relative-latency ranking vs the study's Table 2", "",
              "| mode | models | Spearman | Kendall |", "|---|---|---|---|"]
    for mode, r in s.get("ranking_vs_table2", {}).items():
        lines.append(f"| {mode} | {r['models']} | {r['spearman']:.3f} | {r['kendall']:.3f} |")
    lines += ["", "## Peers (litevid / peer median; goal <= 0.90 for the same architecture)", "",
              "| model | peer | mode | ratio | goal met |", "|---|---|---|---|---|"]
    for p in s.get("peers", []):
        met = "-" if p.get("meets_goal") is None else ("yes" if p["meets_goal"] else "no")
        lines.append(f"| {p['model']} | {p['peer']} | {p['mode']} | {p['ratio']:.2f} | {met} |")
    lines += ["", "## Peak training memory vs the paper's VRAM", "",
              "| model | batch | paper GB | peak reserved GB | NVML process GB |",
              "|---|---|---|---|---|"]
    for m in s.get("train_memory", []):
        nv = "-" if m["nvml_process_gb"] is None else f"{m['nvml_process_gb']:.1f}"
        lines.append(f"| {m['model']} | {m['batch']} | {m['paper_vram_gb']} | "
                     f"{m['peak_reserved_gb']:.1f} | {nv} |")
    lines += ["", "## Achieved TFLOP/s (multiply-adds) and share of the matmul peak", "",
              "| model | mode | TFLOP/s | share |", "|---|---|---|---|"]
    for a in s.get("achieved_vs_peak", []):
        share = "-" if a["share_of_peak"] is None else f"{100 * a['share_of_peak']:.1f}%"
        lines.append(f"| {a['model']} | {a['mode']} | {a['tflops_mac'] or 0:.2f} | {share} |")
    skipped = report.get("bench", {}).get("skipped_for_time", [])
    if skipped:
        lines += ["", f"Skipped for time: {', '.join(skipped)}"]
    errors = {k: v for k, v in report.get("stage_errors", {}).items()}
    if errors:
        lines += ["", "## Stage errors", ""] + [f"- {k}: {v}" for k, v in errors.items()]
    return "\n".join(lines) + "\n"


# ---- the run ----------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.environ.get("OUT", "gpu-protocol-out"),
                    help="output folder (default: $OUT)")
    ap.add_argument("--dry-run", action="store_true",
                    help="the same plan on the CPU through the fake CUDA backend, tiny clips")
    ap.add_argument("--budget-s", type=float, default=None,
                    help="seconds for the whole run (default 540; dry run 600)")
    ap.add_argument("--device", default="cuda", help="the GPU (default: cuda, the current one)")
    args = ap.parse_args(argv)
    plan = Plan(args.dry_run)
    budget = args.budget_s if args.budget_s is not None else (600.0 if args.dry_run else 540.0)
    if args.dry_run:
        os.environ.setdefault("LITEVID_FAKE_CUDA", "count=1,cc=8.0")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    end = t0 + budget
    log = open(out / "protocol.log", "a", encoding="utf-8")
    sys.stdout, sys.stderr = Tee(sys.__stdout__, log), Tee(sys.__stderr__, log)

    from litevid.devices import get_backend
    from litevid.utils.io import atomic_write, write_json

    report: dict[str, Any] = {"dry_run": args.dry_run, "budget_s": budget, "stages": {},
                              "stage_errors": {}, "argv": sys.argv}
    device = get_backend(args.device)
    device.set_current()

    def stage(name: str, fn: Callable[[], Any]) -> None:
        s0 = time.monotonic()
        say(f"{name}: start ({end - s0:.0f} s of the budget left)")
        try:
            report[name] = fn()
        except Exception as exc:
            report["stage_errors"][name] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        report["stages"][name] = round(time.monotonic() - s0, 1)
        report["elapsed_s"] = time.monotonic() - t0
        write_json(out / "protocol.json", report, indent=1)
        say(f"{name}: done in {report['stages'][name]:.1f} s")

    reserve = plan.reserve
    stage("environment", device.environment)
    stage("peak", lambda: matmul_peak(device, plan))
    stage("bench", lambda: bench(plan, device.name, out,
                                 end - reserve["peers"] - reserve["train"] - reserve["summary"]))
    stage("peers", lambda: peers(plan, device, end - reserve["train"] - reserve["summary"]))
    stage("train", lambda: train(plan, out, end - reserve["summary"]))
    stage("summary", lambda: summarize_run(report))

    from litevid.results.export import export_rows
    from litevid.results.store import ResultStore

    if (out / "results.db").is_file():  # read-write: closing folds the WAL into results.db
        with ResultStore(out / "results.db") as store:
            export_rows(store.rows(), out / "results.csv", "csv")
    atomic_write(out / "summary.md", summary_markdown(report))
    report["elapsed_s"] = time.monotonic() - t0
    write_json(out / "protocol.json", report, indent=1)
    say(f"finished in {report['elapsed_s']:.0f} s; files in {out}")
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    log.close()
    return 1 if report["stage_errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
