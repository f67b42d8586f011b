#!/usr/bin/env python3
"""Generate tests/NativeAdaBelief.Tests/Data/torch_lr_schedules.json by running torch.optim.lr_scheduler.

Every case drives the REAL PyTorch scheduler (Debian's python3-torch, 1.13) over an optimizer with
three parameter groups at different learning rates, calling optimizer.step() and scheduler.step()
as a training loop does, and records each group's learning rate (and beta1 or momentum, where the
scheduler cycles it) after construction (epoch 0) and after every scheduler.step() (epoch 1, 2, ...).
The C# tests rebuild each case from its "args" and compare step by step.

    /usr/bin/python3 tools/schedules/generate_schedule_vectors.py \\
        --output tests/NativeAdaBelief.Tests/Data/torch_lr_schedules.json

Deterministic: fixed inputs, no timestamps. torch's own code is run, never copied.
"""

import argparse
import json
import math
import warnings

import torch
from torch.optim import SGD, Adam
from torch.optim import lr_scheduler as S

BASE_RATES = [0.1, 0.01, 3e-4]


def optimizer(kind="sgd"):
    groups = [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in BASE_RATES]
    if kind == "adam":
        return Adam(groups, lr=1e-3, betas=(0.9, 0.999))
    return SGD(groups, lr=1e-3, momentum=0.9)


def run(name, make, steps, kind="sgd", args=None, metrics=None, momentum=None):
    opt = optimizer(kind)
    sched = make(opt)

    def record():
        row = {"lr": [g["lr"] for g in opt.param_groups]}
        if momentum == "beta1":
            row["beta1"] = [g["betas"][0] for g in opt.param_groups]
        elif momentum == "momentum":
            row["beta1"] = [g["momentum"] for g in opt.param_groups]
        return row

    rows = [record()]
    for epoch in range(1, steps + 1):
        opt.step()
        if metrics is not None:
            sched.step(metrics[epoch - 1])
        else:
            sched.step()
        rows.append(record())
    case = {"name": name, "args": args or {}, "base_rates": BASE_RATES, "epochs": rows}
    if metrics is not None:
        case["metrics"] = metrics
    return case


def plateau_metrics():
    # A loss that improves, stalls, improves a little (below and above the threshold), and wanders.
    values = []
    v = 1.0
    for i in range(60):
        if i < 8:
            v *= 0.9
        elif i < 20:
            v *= 1.0 if i % 3 else 0.99995
        elif i < 30:
            v *= 0.98
        else:
            v *= 1.01 if i % 4 else 0.97
        values.append(v)
    return values


def cases():
    out = []
    out.append(run("StepLR", lambda o: S.StepLR(o, step_size=7, gamma=0.5), 40, args={"stepSize": 7, "gamma": 0.5}))
    out.append(run("MultiStepLR", lambda o: S.MultiStepLR(o, milestones=[3, 10, 10, 25], gamma=0.3), 40,
                   args={"milestones": [3, 10, 10, 25], "gamma": 0.3}))
    out.append(run("ExponentialLR", lambda o: S.ExponentialLR(o, gamma=0.93), 60, args={"gamma": 0.93}))
    out.append(run("PolynomialLR", lambda o: S.PolynomialLR(o, total_iters=17, power=2.5), 30,
                   args={"totalIters": 17, "power": 2.5}))
    out.append(run("PolynomialLR", lambda o: S.PolynomialLR(o), 10, args={}))
    out.append(run("LinearLR", lambda o: S.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=13), 30,
                   args={"startFactor": 0.1, "endFactor": 0.9, "totalIters": 13}))
    out.append(run("LinearLR", lambda o: S.LinearLR(o), 10, args={}))
    out.append(run("ConstantLR", lambda o: S.ConstantLR(o, factor=0.25, total_iters=6), 15,
                   args={"factor": 0.25, "totalIters": 6}))
    out.append(run("ConstantLR", lambda o: S.ConstantLR(o), 10, args={}))
    out.append(run("CosineAnnealingLR", lambda o: S.CosineAnnealingLR(o, T_max=20), 50, args={"tMax": 20}))
    out.append(run("CosineAnnealingLR", lambda o: S.CosineAnnealingLR(o, T_max=11, eta_min=1e-4), 40,
                   args={"tMax": 11, "etaMin": 1e-4}))
    out.append(run("CosineAnnealingWarmRestarts", lambda o: S.CosineAnnealingWarmRestarts(o, T_0=5), 30,
                   args={"t0": 5}))
    out.append(run("CosineAnnealingWarmRestarts",
                   lambda o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=1e-5), 60,
                   args={"t0": 3, "tMult": 2, "etaMin": 1e-5}))
    out.append(run("CyclicLR", lambda o: S.CyclicLR(o, base_lr=[0.01, 0.001, 1e-4], max_lr=[0.1, 0.05, 1e-3],
                                                    step_size_up=4, step_size_down=6), 40, momentum="momentum",
                   args={"baseLr": [0.01, 0.001, 1e-4], "maxLr": [0.1, 0.05, 1e-3], "stepSizeUp": 4, "stepSizeDown": 6}))
    out.append(run("CyclicLR", lambda o: S.CyclicLR(o, base_lr=0.001, max_lr=0.01, step_size_up=5, mode="triangular2"),
                   50, momentum="momentum",
                   args={"baseLr": [0.001], "maxLr": [0.01], "stepSizeUp": 5, "mode": "triangular2"}))
    out.append(run("CyclicLR", lambda o: S.CyclicLR(o, base_lr=0.001, max_lr=0.01, step_size_up=3, mode="exp_range",
                                                    gamma=0.97, base_momentum=0.7, max_momentum=0.95), 40,
                   momentum="momentum",
                   args={"baseLr": [0.001], "maxLr": [0.01], "stepSizeUp": 3, "mode": "exp_range", "gamma": 0.97,
                         "baseMomentum": 0.7, "maxMomentum": 0.95}))
    out.append(run("OneCycleLR", lambda o: S.OneCycleLR(o, max_lr=[0.1, 0.02, 0.003], total_steps=40), 40,
                   kind="adam", momentum="beta1", args={"maxLr": [0.1, 0.02, 0.003], "totalSteps": 40}))
    out.append(run("OneCycleLR", lambda o: S.OneCycleLR(o, max_lr=0.05, total_steps=31, pct_start=0.25,
                                                        anneal_strategy="linear", div_factor=10.0,
                                                        final_div_factor=100.0, three_phase=True), 31,
                   kind="adam", momentum="beta1",
                   args={"maxLr": [0.05], "totalSteps": 31, "pctStart": 0.25, "annealStrategy": "linear",
                         "divFactor": 10.0, "finalDivFactor": 100.0, "threePhase": True}))
    out.append(run("LambdaLR", lambda o: S.LambdaLR(o, lr_lambda=lambda e: 1.0 / (1.0 + 0.1 * e)), 20,
                   args={"lambda": "1/(1+0.1e)"}))
    out.append(run("LambdaLR", lambda o: S.LambdaLR(o, lr_lambda=[lambda e: 0.95 ** e, lambda e: 1.0 / (1.0 + 0.1 * e),
                                                                   lambda e: min(1.0, (e + 1) / 5.0)]), 20,
                   args={"lambda": "per-group"}))
    out.append(run("SequentialLR", lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=5),
                                                                S.CosineAnnealingLR(o, T_max=20)], milestones=[5]), 40,
                   args={"case": "linear-then-cosine"}))
    out.append(run("SequentialLR", lambda o: S.SequentialLR(o, [S.ConstantLR(o, factor=0.5, total_iters=2),
                                                                S.ExponentialLR(o, gamma=0.9),
                                                                S.StepLR(o, step_size=4, gamma=0.5)],
                                                            milestones=[3, 10]), 30,
                   args={"case": "constant-exponential-step"}))
    out.append(run("ChainedScheduler", lambda o: S.ChainedScheduler([S.ConstantLR(o, factor=0.5, total_iters=4),
                                                                     S.ExponentialLR(o, gamma=0.9)]), 20,
                   args={"case": "constant-exponential"}))
    out.append(run("ChainedScheduler", lambda o: S.ChainedScheduler([S.LinearLR(o, start_factor=0.2, total_iters=6),
                                                                     S.StepLR(o, step_size=5, gamma=0.1),
                                                                     S.MultiStepLR(o, milestones=[8, 12], gamma=0.5)]), 25,
                   args={"case": "linear-step-multistep"}))
    out.append(run("ReduceLROnPlateau", lambda o: S.ReduceLROnPlateau(o, patience=3), 60, metrics=plateau_metrics(),
                   args={"patience": 3}))
    out.append(run("ReduceLROnPlateau", lambda o: S.ReduceLROnPlateau(o, mode="max", factor=0.5, patience=2,
                                                                      threshold=0.01, threshold_mode="abs", cooldown=3,
                                                                      min_lr=[0.02, 0.001, 1e-5], eps=1e-6), 60,
                   metrics=[-m for m in plateau_metrics()],
                   args={"mode": "max", "factor": 0.5, "patience": 2, "threshold": 0.01, "thresholdMode": "abs",
                         "cooldown": 3, "minLr": [0.02, 0.001, 1e-5], "eps": 1e-6}))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", required=True)
    a = parser.parse_args()
    warnings.simplefilter("ignore")
    document = {
        "generator": "tools/schedules/generate_schedule_vectors.py",
        "torch": torch.__version__,
        "note": "epochs[e] = each group's rate (and beta1/momentum) after construction (e = 0) and after the e-th scheduler.step()",
        "cases": cases(),
    }
    with open(a.output, "w") as f:
        json.dump(document, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
