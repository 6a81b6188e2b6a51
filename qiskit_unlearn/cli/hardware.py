"""``qunlearn hw submit|unlearn|status|fetch RUN_DIR``: a finished run's models on a device.

``submit`` prints what it will send (circuits, PUBs, circuit executions, shots) and asks before
sending (``--yes`` skips the question, ``--dry-run`` only prints); job ids are written to
``RUN_DIR/hardware/jobs.json`` as soon as IBM returns them. ``status`` and ``fetch`` reconnect
from that file in any later process; ``fetch`` writes ``RUN_DIR/hardware/results.csv``.
``unlearn`` runs an unlearning method on the device (see :mod:`qiskit_unlearn.hardware.unlearn`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from qiskit_unlearn.hardware.base import SPLITS, HardwareError


def _names(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list, e.g. original,ga")
    return names


def _seeds(text: str) -> list[int]:
    try:
        return [int(t) for t in _names(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must be integers, e.g. 0,1; got {text!r}") \
            from None


def _account(p: argparse.ArgumentParser) -> None:
    p.add_argument("--channel", choices=("ibm_quantum_platform", "ibm_cloud"), default=None,
                   help="channel of the saved IBM account to use (default: the saved default)")
    p.add_argument("--instance", default=None,
                   help="IBM instance (CRN or name) of the saved account to use")


def _device_settings(p: argparse.ArgumentParser) -> None:
    """Which seeds and scenarios, and how to run on the device (``submit`` and ``unlearn``)."""
    p.add_argument("--seeds", type=_seeds, default=None, help="comma-separated (default: all)")
    p.add_argument("--scenarios", type=_names, default=None,
                   help="comma-separated scenario names (default: all)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--shots", type=int, default=None,
                        help="shots per circuit execution (default 4096)")
    budget.add_argument("--precision", type=float, default=None,
                        help="target precision per expectation value (runs ceil(1/p²) shots)")
    p.add_argument("--resilience-level", type=int, choices=(0, 1, 2), default=None,
                   help="IBM error mitigation: 0 none, 1 readout (TREX, default), 2 + ZNE; "
                        "not available in local testing mode")
    p.add_argument("--optimization-level", type=int, choices=(0, 1, 2, 3), default=2,
                   help="preset transpiler level for the ISA circuit (default 2)")
    p.add_argument("--mode", choices=("job", "batch", "session"), default="batch",
                   help="execution mode (default batch; session, which keeps the device "
                        "between the dependent jobs of training, is not open to Open-plan "
                        "accounts)")
    p.add_argument("--seed", type=int, default=None,
                   help="transpiler seed (default 0) and simulator / twirling seed")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="hw_action", required=True, metavar="ACTION")
    run_dir = {"type": Path, "metavar": "RUN_DIR",
               "help": "run directory written by 'qunlearn run'"}

    s = sub.add_parser(
        "submit", help="send a run's models to an IBM device (or a fake device) for evaluation",
        description="Evaluate a finished run's models on a device: one PUB per model and "
                    "split, one job per model. Prints the cost and asks before sending.")
    s.add_argument("run_dir", **run_dir)
    s.add_argument("--device", required=True,
                   help="IBM device (e.g. ibm_brisbane) or a fake device for local testing "
                        "mode (fake_manila or fake:manila; no network, no cost)")
    s.add_argument("--models", type=_names, default=None,
                   help="comma-separated: original, retrain and/or method names "
                        "(default: all trained models)")
    s.add_argument("--splits", type=_names, default=None,
                   help=f"comma-separated from {', '.join(SPLITS)} (default: all the metrics "
                        "need)")
    _device_settings(s)
    s.add_argument("--resubmit-failed", action="store_true",
                   help="send PUBs again whose jobs failed, were cancelled or were lost")
    s.add_argument("--dry-run", action="store_true", help="print the plan and cost only")
    s.add_argument("--yes", action="store_true", help="submit without asking")
    _account(s)

    u = sub.add_parser(
        "unlearn", help="run an unlearning method with its circuit on a device (prices it first)",
        description="Copy a finished run's teacher onto a device and run one unlearning method "
                    "there: one job per forward pass, each training step's gradient in the "
                    "same job. The method is first rehearsed exactly on the device's ISA "
                    "circuits to print the jobs and shots it will use; job ids are journaled "
                    "before waiting, so an interrupted run continues where it stopped.")
    u.add_argument("run_dir", **run_dir)
    u.add_argument("--device", required=True,
                   help="IBM device (e.g. ibm_brisbane) or a fake device (fake_manila)")
    u.add_argument("--method", required=True,
                   help="unlearning method (see 'qunlearn methods'), e.g. ga, finetune, scrub")
    u.add_argument("--param", dest="params", action="append", default=[], metavar="KEY=VALUE",
                   help="override a hyperparameter of the method, e.g. --param epochs=1 "
                        "(repeatable; defaults: the run's [unlearn.params.<method>])")
    _device_settings(u)
    u.add_argument("--name", default=None,
                   help="name of the unlearned model in the run (default <method>@<device>)")
    u.add_argument("--max-jobs", type=int, default=None,
                   help="send at most this many new jobs, then stop (run again to continue)")
    u.add_argument("--dry-run", action="store_true",
                   help="rehearse and print the cost only (a real device's target is read "
                        "with your account; nothing is sent)")
    u.add_argument("--yes", action="store_true", help="run without asking")
    _account(u)

    st = sub.add_parser("status", help="list submitted jobs and on-device unlearning, with their "
                        "current status",
                        description="Reconnect to the jobs in RUN_DIR/hardware/jobs.json and "
                                    "the journals of 'qunlearn hw unlearn'.")
    st.add_argument("run_dir", **run_dir)
    st.add_argument("--offline", action="store_true",
                    help="show the last stored statuses without asking IBM")
    _account(st)

    f = sub.add_parser("fetch", help="turn finished jobs into RUN_DIR/hardware/results.csv",
                       description="Download finished results (once; they are stored) and "
                                   "write the metrics table with device and settings columns.")
    f.add_argument("run_dir", **run_dir)
    _account(f)


def _confirm(prompt: str) -> bool | None:
    """``True``/``False`` from the user, ``None`` when nobody can be asked (no terminal)."""
    if not sys.stdin.isatty():
        return None
    try:
        return input(prompt).strip().lower() in ("y", "yes")
    except EOFError:
        return False


def _submit(args: argparse.Namespace) -> int:
    from qiskit_unlearn.hardware.runs import FinishedRun
    from qiskit_unlearn.hardware.store import JobStore
    from qiskit_unlearn.hardware.submit import SubmitRequest, describe, execute, plan_submission

    request = SubmitRequest(
        device=args.device, models=args.models, splits=args.splits, seeds=args.seeds,
        scenarios=args.scenarios, shots=args.shots, precision=args.precision,
        resilience_level=args.resilience_level, optimization_level=args.optimization_level,
        mode=args.mode, seed=args.seed, resubmit_failed=args.resubmit_failed)
    run = FinishedRun(args.run_dir)
    store = JobStore(args.run_dir, channel=args.channel, instance=args.instance)
    plan = plan_submission(run, store, request, network=not args.dry_run)
    stop = _present(args, describe(plan), local=plan.local, work=bool(plan.jobs))
    if stop is not None:
        return stop
    job_ids = execute(plan, run, store)
    print(f"{len(job_ids)} job(s) recorded in {store.path}")
    if plan.local:
        print(f"results stored; tabulate them with: qunlearn hw fetch {args.run_dir}")
    else:
        print(f"check progress with: qunlearn hw status {args.run_dir}; when done: "
              f"qunlearn hw fetch {args.run_dir}")
    return 0


def _present(args: argparse.Namespace, lines: Sequence[str], *, local: bool,
             work: bool) -> int | None:
    """Print a plan and ask; ``None`` to go ahead, else the exit code (dry run, nothing to
    send, refused, or nobody could be asked)."""
    if local and args.resilience_level is not None:
        print("note: local testing mode has no error mitigation; --resilience-level is ignored",
              file=sys.stderr)
    for line in lines:
        print(line)
    if args.dry_run:
        print("dry run: nothing was sent")
        return 0
    if not work:
        return 0
    if args.yes:
        return None
    answer = _confirm("submit? [y/N] ")
    if answer is None:
        print("error: refusing to submit without confirmation: stdin is not a terminal; "
              "pass --yes to submit non-interactively (or --dry-run to see the cost only)",
              file=sys.stderr)
        return 2
    if not answer:
        print("nothing was sent")
        return 1
    return None


def _unlearn(args: argparse.Namespace) -> int:
    from qiskit_unlearn.config import parse_override
    from qiskit_unlearn.hardware.journal import JobBudgetReached
    from qiskit_unlearn.hardware.runs import FinishedRun
    from qiskit_unlearn.hardware.store import JobStore
    from qiskit_unlearn.hardware.unlearn import (
        UnlearnRequest,
        describe_unlearning,
        execute_unlearning,
        plan_unlearning,
    )

    params = {}
    for text in args.params:
        path, value = parse_override(text)
        if len(path) != 1:
            raise HardwareError(f"--param takes a hyperparameter name, e.g. --param epochs=1; "
                                f"got {text!r}")
        params[path[0]] = value
    if args.max_jobs is not None and args.max_jobs < 1:
        raise HardwareError(f"--max-jobs must be at least 1, got {args.max_jobs}")
    request = UnlearnRequest(
        device=args.device, method=args.method, params=params, seeds=args.seeds,
        scenarios=args.scenarios, shots=args.shots, precision=args.precision,
        resilience_level=args.resilience_level, optimization_level=args.optimization_level,
        mode=args.mode, seed=args.seed, name=args.name)
    run = FinishedRun(args.run_dir)
    store = JobStore(args.run_dir, channel=args.channel, instance=args.instance)
    if not args.dry_run and not request.device.lower().startswith("fake"):
        store.service()  # a missing IBM account fails here, before the rehearsal
    plan = plan_unlearning(run, store, request)
    stop = _present(args, describe_unlearning(plan), local=plan.local,
                    work=bool(plan.cost().jobs))
    if stop is not None:
        return stop
    try:
        rows = execute_unlearning(plan, run, store, max_jobs=args.max_jobs)
    except JobBudgetReached:
        print(f"stopped: --max-jobs {args.max_jobs} new jobs sent; every finished job is in the "
              "journal under RUN_DIR/hardware/unlearn/. Run the same command again to continue "
              "(finished jobs are replayed, not sent again).")
        return 3
    if rows:
        print(f"results: {store.root / 'unlearn-results.csv'}; measure the model on the device "
              f"with: qunlearn hw submit {args.run_dir} --device {plan.device} "
              f"--models {plan.name}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from qiskit_unlearn.hardware.fetch import job_statuses, resubmit_commands
    from qiskit_unlearn.hardware.store import JobStore
    from qiskit_unlearn.hardware.unlearn import unlearning_statuses

    store = JobStore(args.run_dir, channel=args.channel, instance=args.instance)
    rows = job_statuses(store, network=not args.offline)
    unlearning = unlearning_statuses(store, network=not args.offline)
    if unlearning:
        print("on-device unlearning ('qunlearn hw unlearn'; run the same command again to "
              "continue an unfinished one):")
        for u in unlearning:
            state = "finished" if u["finished"] else \
                f"unfinished, last job {u['last_job'] or '-'} {u['last_status']}"
            print(f"  {u['name']:20s} seed {u['seed']} / {u['scenario']:12s} {u['done']} of "
                  f"{u['jobs']} jobs done, {state}")
    if not rows:
        if not unlearning:
            print(f"no jobs in {store.path}; send some with 'qunlearn hw submit'")
        return 0
    width = max(len(r["job_id"]) for r in rows)
    print(f"{'job id':{width}s}  {'device':14s} {'submitted':25s} {'status':10s} pubs  models")
    for r in rows:
        print(f"{r['job_id']:{width}s}  {r['device']:14s} {r['date']:25s} {r['status']:10s} "
              f"{r['pubs']:4d}  {r['models']}")
        if r["error"]:
            print(f"{'':{width}s}  error: {r['error']}")
    kinds = [r["kind"] for r in rows]
    print(f"{kinds.count('finished')} finished, {kinds.count('pending')} pending, "
          f"{kinds.count('failed')} failed (cancelled, error or lost)")
    commands = resubmit_commands(store, args.run_dir)
    if commands:
        print("resend the failed PUBs (finished and pending ones are never sent twice) with:")
        for command in commands:
            print(f"  {command}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from qiskit_unlearn.hardware.fetch import fetch_results
    from qiskit_unlearn.hardware.runs import FinishedRun
    from qiskit_unlearn.hardware.store import JobStore

    store = JobStore(args.run_dir, channel=args.channel, instance=args.instance)
    if not store.path.is_file():
        raise HardwareError(f"no jobs in {store.path}; send some with 'qunlearn hw submit'")
    out = fetch_results(FinishedRun(args.run_dir), store)
    jobs = out.jobs
    print(f"jobs: {jobs['finished']} finished, {jobs['pending']} pending, {jobs['failed']} "
          "failed" + (" (see 'qunlearn hw status')" if jobs["failed"] else ""))
    if out.stale_pubs:
        print(f"skipped {out.stale_pubs} model/split measurements of models whose checkpoints have "
              "changed since; submit again to measure the current ones")
    if out.path is None:
        print("no finished results yet")
        return 1
    print(f"results: {out.path}")
    return 0


def run_from_args(args: argparse.Namespace) -> int:
    """Run one action under the run directory's locks (errors reach the CLI's one handler).

    Every action holds a *shared* lock on RUN_DIR (no ``qunlearn run`` may rewrite the models
    meanwhile); ``submit``, ``status`` and ``fetch`` also hold RUN_DIR/hardware exclusively
    while they read and write ``jobs.json``. ``unlearn`` locks each task's journal folder
    instead, so status and fetch stay usable while a long device run waits in a queue.
    """
    from qiskit_unlearn.locks import RunLock
    from qiskit_unlearn.run.rundir import CONFIG_FILE

    actions = {"submit": _submit, "unlearn": _unlearn, "status": _status, "fetch": _fetch}
    run_dir = Path(args.run_dir)
    if not (run_dir / CONFIG_FILE).is_file():
        raise HardwareError(f"{run_dir} is not a run directory (no {CONFIG_FILE}); pass a folder "
                            "written by 'qunlearn run'")
    command = f"qunlearn hw {args.hw_action}"
    with RunLock(run_dir, command, shared=True):
        if args.hw_action == "unlearn":
            return actions["unlearn"](args)
        (run_dir / "hardware").mkdir(exist_ok=True)
        with RunLock(run_dir / "hardware", command):
            return actions[args.hw_action](args)
