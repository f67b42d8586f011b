#!/usr/bin/env python3
"""Generate the parity vectors in native/tests/data/parity/ by running the ORIGINAL optimizers.

The originals are imported from folders given on the command line; their code is never copied
into this repository. Every case runs in torch.float64 from float32-exact inputs (initial
parameters and gradients are float32 values stored as float64), so that our float32 kernel
starts from exactly the same numbers and the only difference is its own rounding.

    /usr/bin/python3 tools/parity/generate_parity_vectors.py \\
        --labml-root /tmp/orig/labml  --official-root /tmp/orig/official \\
        --labml-commit <sha> --official-commit <sha> \\
        --output native/tests/data/parity [--verify]

--labml-root     a folder holding labml_nn/__init__.py and labml_nn/optimizers/{__init__,adam,
                 amsgrad,radam,ada_belief}.py (labmlai/annotated_deep_learning_paper_implementations)
--official-root  a folder holding adabelief_pytorch/AdaBelief.py
                 (juntang-zhuang/Adabelief-Optimizer, pypi_packages/adabelief_pytorch0.2.1/)
--verify         also (a) re-runs every case in float32 through the same originals and measures
                 it with the C++ test's metric, to show the tolerances are right for a float32
                 implementation, and (b) checks every case against an independent float64
                 transcription of the spec's formulas (shared/spec/adabelief.md), to show
                 where the spec and the originals agree.

The output is deterministic for a given torch build: fixed seeds, no timestamps.
See native/tests/data/parity/README.md for the format.
"""

import argparse
import contextlib
import importlib.util
import io
import json
import math
import os
import sys
import types

import numpy as np
import torch

FORMAT_VERSION = 1
MASTER_SEED = 20240611

# ------------------------------------------------------------------------------------------
# Importing the originals
# ------------------------------------------------------------------------------------------


def install_import_shims():
    """Stand-ins for two third-party modules the originals import but never use on our path.

    * labml_nn/optimizers/adam.py does `from labml import tracker` at import time; the
      optimizer code never calls it. The `labml` package is not installed, so an empty module
      with an empty `tracker` attribute is injected into sys.modules.
    * adabelief_pytorch/AdaBelief.py does `from tabulate import tabulate` for its change-log
      banner, which we disable (print_change_log=False). If tabulate is missing, a stub that
      raises if ever called is injected. (colorama is imported the same way; stubbed likewise
      if missing.)
    Nothing here touches the arithmetic.
    """
    try:
        import labml  # noqa: F401
    except ImportError:
        labml = types.ModuleType("labml")
        labml.tracker = types.ModuleType("labml.tracker")
        sys.modules["labml"] = labml
        sys.modules["labml.tracker"] = labml.tracker
    try:
        import tabulate  # noqa: F401
    except ImportError:
        tab = types.ModuleType("tabulate")

        def _no_tabulate(*_args, **_kwargs):
            raise RuntimeError("tabulate stub called: use print_change_log=False")

        tab.tabulate = _no_tabulate
        sys.modules["tabulate"] = tab
    try:
        import colorama  # noqa: F401
    except ImportError:
        col = types.ModuleType("colorama")
        for name in ("Fore", "Back", "Style"):
            setattr(col, name, types.SimpleNamespace(RED="", BLUE="", GREEN="", RESET_ALL=""))
        sys.modules["colorama"] = col


def import_originals(labml_root, official_root):
    install_import_shims()
    sys.path.insert(0, os.path.abspath(labml_root))
    from labml_nn.optimizers import WeightDecay
    from labml_nn.optimizers.ada_belief import AdaBelief as LabmlAdaBelief
    from labml_nn.optimizers.adam import Adam as LabmlAdam
    from labml_nn.optimizers.amsgrad import AMSGrad as LabmlAMSGrad
    from labml_nn.optimizers.radam import RAdam as LabmlRAdam

    path = os.path.join(os.path.abspath(official_root), "adabelief_pytorch", "AdaBelief.py")
    spec = importlib.util.spec_from_file_location("official_adabelief", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return types.SimpleNamespace(
        WeightDecay=WeightDecay,
        AdaBelief=LabmlAdaBelief,
        Adam=LabmlAdam,
        AMSGrad=LabmlAMSGrad,
        RAdam=LabmlRAdam,
        OfficialAdaBelief=module.AdaBelief,
    )


# ------------------------------------------------------------------------------------------
# Case definitions
# ------------------------------------------------------------------------------------------

BETA1_CHOICES = [0.9, 0.9, 0.9, 0.8, 0.95, 0.5]
# 0.999/0.99/0.9: r_t tractable from step 6; 0.8: from step 7; 0.7: from step 10;
# 0.5: rho_inf = 3 < 5, never tractable (degenerate/unchanged for the whole run).
BETA2_CHOICES = [0.999, 0.999, 0.999, 0.99, 0.9, 0.8, 0.7, 0.5]
EPS_CHOICES = [1e-16, 1e-16, 1e-8, 1e-8, 1e-12]
LR_CHOICES = [1e-3, 1e-3, 1e-2, 3e-4, 5e-3]
WD_VALUES = {
    "none": [0.0],
    "decoupled": [1e-2, 0.1, 5e-4],
    "absolute": [1e-3, 1e-2],
    "l2": [1e-2, 0.1, 1e-3],
}
SIZES = [1, 3, 17, 64, 100]
SIZE_WEIGHTS = [5, 5, 4, 1, 1]


def random_features(rng):
    """Draws the non-flag features of a case: steps, tensors, groups, schedules, nulls."""
    steps = int(rng.integers(10, 23))
    n_tensors = int(rng.integers(2, 5))
    p = np.array(SIZE_WEIGHTS, dtype=np.float64)
    sizes = [int(s) for s in rng.choice(SIZES, size=n_tensors, p=p / p.sum())]
    two_groups = rng.random() < 0.35
    return dict(
        steps=steps,
        sizes=sizes,
        n_groups=2 if two_groups else 1,
        lr_schedule=bool(rng.random() < 0.4),
        null_gradients=bool(rng.random() < 0.35),
    )


def random_group_hparams(rng, wd_kind):
    return dict(
        lr=float(rng.choice(LR_CHOICES)),
        beta1=float(rng.choice(BETA1_CHOICES)),
        beta2=float(rng.choice(BETA2_CHOICES)),
        eps=float(rng.choice(EPS_CHOICES)),
        weight_decay=float(rng.choice(WD_VALUES[wd_kind])),
    )


def flag_name(b):
    return "1" if b else "0"


def build_cases():
    """The list of case descriptions (no tensors yet). Deterministic."""
    rng = np.random.default_rng(MASTER_SEED)
    cases = []

    def add(name, **kw):
        kw["name"] = name
        kw["seed"] = int(rng.integers(0, 2**31 - 1))
        drawn = random_features(rng)  # always drawn, so the random stream does not depend on
        kw.setdefault("features", drawn)  # which cases give their features explicitly
        nf = kw["features"]
        # Group hyper-parameters, drawn independently per group (a second group gets its own
        # lr, betas, eps and weight-decay value; the weight-decay kind and the instance-level
        # flags are per optimizer in the originals).
        kw["group_hparams"] = [random_group_hparams(rng, kw["wd_kind"]) for _ in range(nf["n_groups"])]
        cases.append(kw)

    wd_kinds = ["decoupled", "absolute", "l2", "none"]
    # labml, belief (labml_nn AdaBelief): the full cross product of the flags.
    for ams in (False, True):
        for rect in (False, True):
            for degen in (False, True):
                for opt in (False, True):
                    for wd in wd_kinds:
                        add("labml_belief_ams%s_rect%s_sgd%s_opt%s_wd_%s" % (
                            flag_name(ams), flag_name(rect), flag_name(degen), flag_name(opt), wd),
                            mode="labml", cls="AdaBelief", amsgrad=ams, rectify=rect,
                            degenerate=degen, optimized=opt, wd_kind=wd)
    # labml, square: Adam (rectify off, amsgrad off), AMSGrad (rectify off, amsgrad on),
    # RAdam (rectify on). degenerate_to_sgd only exists with rectify.
    for ams in (False, True):
        for rect in (False, True):
            for degen in ((False, True) if rect else (True,)):
                for opt in (False, True):
                    for wd in wd_kinds:
                        cls = "RAdam" if rect else ("AMSGrad" if ams else "Adam")
                        add("labml_square_%s_ams%s_rect%s_sgd%s_opt%s_wd_%s" % (
                            cls, flag_name(ams), flag_name(rect), flag_name(degen), flag_name(opt), wd),
                            mode="labml", cls=cls, amsgrad=ams, rectify=rect,
                            degenerate=degen, optimized=opt, wd_kind=wd)
    # AMSGrad class with its amsgrad flag off: must equal Adam.
    for opt in (False, True):
        add("labml_square_AMSGrad_ams0_rect0_opt%s_wd_decoupled" % flag_name(opt),
            mode="labml", cls="AMSGrad", amsgrad=False, rectify=False, degenerate=True,
            optimized=opt, wd_kind="decoupled")
    # adabelief-pytorch 0.2.1: the full cross product.
    for ams in (False, True):
        for rect in (False, True):
            for degen in (False, True):
                for wd in wd_kinds:
                    add("official_ams%s_rect%s_sgd%s_wd_%s" % (
                        flag_name(ams), flag_name(rect), flag_name(degen), wd),
                        mode="adabelief-pytorch", cls="OfficialAdaBelief", amsgrad=ams,
                        rectify=rect, degenerate=degen, optimized=True, wd_kind=wd)

    # Special cases.
    # labml AdaBelief exactly as its constructor defaults leave it (the positional defect:
    # effective optimized_update=False, amsgrad=True, degenerated_to_sgd={} i.e. falsy).
    add("labml_belief_constructor_defaults", mode="labml", cls="AdaBelief", constructor_defaults=True,
        amsgrad=None, rectify=True, degenerate=None, optimized=None, wd_kind="none",
        features=dict(steps=20, sizes=[1, 3, 17, 64], n_groups=1, lr_schedule=False, null_gradients=False))
    # RAdam with its own default eps (1e-8): eps outside the square root only.
    add("labml_square_RAdam_constructor_defaults", mode="labml", cls="RAdam", constructor_defaults=True,
        amsgrad=None, rectify=True, degenerate=None, optimized=None, wd_kind="none",
        features=dict(steps=20, sizes=[1, 3, 17, 64], n_groups=1, lr_schedule=False, null_gradients=False))
    add("official_constructor_defaults", mode="adabelief-pytorch", cls="OfficialAdaBelief",
        constructor_defaults=True, amsgrad=None, rectify=True, degenerate=None, optimized=True,
        wd_kind="none",
        features=dict(steps=20, sizes=[1, 3, 17, 64], n_groups=1, lr_schedule=False, null_gradients=False))
    # Larger tensors, two groups, schedule and null gradients all at once, one per family.
    big = dict(steps=25, sizes=[100, 64, 17, 3, 1], n_groups=2, lr_schedule=True, null_gradients=True)
    add("labml_belief_big_mixed", mode="labml", cls="AdaBelief", amsgrad=True, rectify=True,
        degenerate=True, optimized=True, wd_kind="decoupled", features=dict(big), group_amsgrad=[True, False],
        last_tensor_never_has_gradient=True)
    add("labml_square_RAdam_big_mixed", mode="labml", cls="RAdam", amsgrad=True, rectify=True,
        degenerate=False, optimized=False, wd_kind="l2", features=dict(big), group_amsgrad=[False, True])
    add("official_big_mixed", mode="adabelief-pytorch", cls="OfficialAdaBelief", amsgrad=True, rectify=True,
        degenerate=True, optimized=True, wd_kind="decoupled", features=dict(big), group_amsgrad=[True, False],
        last_tensor_never_has_gradient=True)
    # beta2 = 0.5 (r_t never tractable) and a small beta2 that becomes tractable mid-run, with
    # both degenerate settings, in both modes.
    for b2 in (0.5, 0.8):
        for degen in (False, True):
            for mode, cls in (("labml", "AdaBelief"), ("adabelief-pytorch", "OfficialAdaBelief")):
                tag = "labml_belief" if mode == "labml" else "official"
                add("%s_beta2_%s_sgd%s" % (tag, str(b2).replace(".", "p"), flag_name(degen)),
                    mode=mode, cls=cls, amsgrad=True, rectify=True, degenerate=degen, optimized=True,
                    wd_kind="decoupled", fixed_beta2=b2,
                    features=dict(steps=16, sizes=[3, 17], n_groups=1, lr_schedule=True, null_gradients=True))
    return cases


# ------------------------------------------------------------------------------------------
# Inputs
# ------------------------------------------------------------------------------------------


def f32_exact(a):
    return np.asarray(a, dtype=np.float64).astype(np.float32).astype(np.float64)


def make_inputs(case):
    rng = np.random.default_rng(case["seed"])
    f = case["features"]
    steps, sizes, n_groups = f["steps"], f["sizes"], f["n_groups"]
    # Tensor i belongs to group i % n_groups.
    tensor_groups = [i % n_groups for i in range(len(sizes))]
    params = []
    for n in sizes:
        scale = 10.0 ** rng.uniform(-2, 1)
        params.append(f32_exact(rng.standard_normal(n) * scale))
    grads, masks = [], []
    for n in sizes:
        g = rng.standard_normal((steps, n)) * 10.0 ** rng.uniform(-3, 1, size=(steps, n))
        present = np.ones(steps, dtype=bool)
        if f["null_gradients"]:
            present = rng.random(steps) >= 0.25
        g[~present] = 0.0
        masks.append(present)
        grads.append(f32_exact(g))
    if case.get("last_tensor_never_has_gradient"):
        masks[-1][:] = False
        grads[-1][:] = 0.0
    lrs = []
    for gi in range(n_groups):
        lr0 = case["group_hparams"][gi]["lr"]
        if f["lr_schedule"]:
            sched = lr0 * np.exp(rng.uniform(-0.7, 0.7, size=steps))
            sched[0] = lr0
            if rng.random() < 0.3:
                sched[int(rng.integers(1, steps))] = 0.0  # a step with lr = 0 (valid)
        else:
            sched = np.full(steps, lr0)
        lrs.append(sched)
    return dict(tensor_groups=tensor_groups, params=params, grads=grads, masks=masks, lrs=lrs)


def finalize_group_hparams(case):
    """Resolves per-group amsgrad and fixed beta2; returns per-group dicts."""
    groups = []
    for gi, hp in enumerate(case["group_hparams"]):
        hp = dict(hp)
        if "fixed_beta2" in case:
            hp["beta2"] = case["fixed_beta2"]
        if "group_amsgrad" in case:
            hp["amsgrad"] = case["group_amsgrad"][gi]
        else:
            hp["amsgrad"] = case["amsgrad"]
        groups.append(hp)
    return groups


# ------------------------------------------------------------------------------------------
# Running the originals
# ------------------------------------------------------------------------------------------


def weight_decay_flags(wd_kind):
    """(weight_decouple, absolute/fixed_decay) for our weight-decay kinds."""
    return {"none": (True, False), "decoupled": (True, False),
            "absolute": (True, True), "l2": (False, False)}[wd_kind]


def our_wd_mode(weight_decouple, absolute):
    if not weight_decouple:
        return "l2"
    return "absolute" if absolute else "decoupled"


def construct(orig, case, groups, tensors):
    """Builds the original optimizer. Returns (optimizer, record) where record describes the
    constructor call, the param groups and the EFFECTIVE flags read back from the object."""
    mode, cls = case["mode"], case["cls"]
    decouple, absolute = weight_decay_flags(case["wd_kind"])
    g0 = groups[0]
    param_groups = []
    pg_record = []
    for gi, hp in enumerate(groups):
        ps = [t for t, tg in tensors if tg == gi]
        pg = dict(params=ps, lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"],
                  weight_decay=hp["weight_decay"])
        rec = dict(lr=hp["lr"], betas=[hp["beta1"], hp["beta2"]], eps=hp["eps"],
                   weight_decay=hp["weight_decay"])
        if not (mode == "labml" and cls == "Adam"):
            pg["amsgrad"] = hp["amsgrad"]
            rec["amsgrad"] = hp["amsgrad"]
        if case.get("constructor_defaults"):
            # Everything from the constructor (amsgrad: its possibly shifted default).
            pg = dict(params=ps)
            rec = {}
        param_groups.append(pg)
        pg_record.append(rec)

    ctor = dict(lr=g0["lr"], betas=[g0["beta1"], g0["beta2"]], eps=g0["eps"])
    post = {}  # attributes set after construction
    if mode == "labml":
        wd_obj = orig.WeightDecay(weight_decay=g0["weight_decay"], weight_decouple=decouple, absolute=absolute)
        ctor["weight_decay"] = dict(WeightDecay=dict(weight_decay=g0["weight_decay"],
                                                     weight_decouple=decouple, absolute=absolute))
        common = dict(lr=g0["lr"], betas=(g0["beta1"], g0["beta2"]), eps=g0["eps"], weight_decay=wd_obj)
        if cls == "AdaBelief":
            if case.get("constructor_defaults"):
                opt = orig.AdaBelief(param_groups, **common)
            else:
                # AdaBelief.__init__ forwards (amsgrad, degenerate_to_sgd, defaults) positionally
                # into RAdam's (optimized_update, amsgrad, degenerated_to_sgd) slots. We pass
                # the constructor defaults, give amsgrad per param group, and set the two
                # instance attributes after construction to the values we want to exercise.
                ctor.update(rectify=case["rectify"])
                opt = orig.AdaBelief(param_groups, rectify=case["rectify"], **common)
                opt.optimized_update = case["optimized"]
                opt.degenerated_to_sgd = case["degenerate"]
                post = dict(optimized_update=case["optimized"], degenerated_to_sgd=case["degenerate"])
        elif cls == "Adam":
            ctor.update(optimized_update=case["optimized"])
            opt = orig.Adam(param_groups, optimized_update=case["optimized"], **common)
        elif cls == "AMSGrad":
            ctor.update(optimized_update=case["optimized"], amsgrad=case["amsgrad"])
            opt = orig.AMSGrad(param_groups, optimized_update=case["optimized"], amsgrad=case["amsgrad"], **common)
        elif cls == "RAdam":
            if case.get("constructor_defaults"):
                del common["eps"]
                del ctor["eps"]
                opt = orig.RAdam(param_groups, **common)
            else:
                ctor.update(optimized_update=case["optimized"], amsgrad=case["amsgrad"],
                            degenerated_to_sgd=case["degenerate"])
                opt = orig.RAdam(param_groups, optimized_update=case["optimized"], amsgrad=case["amsgrad"],
                                 degenerated_to_sgd=case["degenerate"], **common)
        else:
            raise ValueError(cls)
    else:
        ctor.update(weight_decay=g0["weight_decay"])
        kwargs = dict(lr=g0["lr"], betas=(g0["beta1"], g0["beta2"]), eps=g0["eps"],
                      weight_decay=g0["weight_decay"])
        if not case.get("constructor_defaults"):
            extra = dict(amsgrad=case["amsgrad"], weight_decouple=decouple, fixed_decay=absolute,
                         rectify=case["rectify"], degenerated_to_sgd=case["degenerate"])
            ctor.update(extra)
            kwargs.update(extra)
        ctor["print_change_log"] = False
        with contextlib.redirect_stdout(io.StringIO()):
            opt = orig.OfficialAdaBelief(param_groups, print_change_log=False, **kwargs)

    # The effective configuration, read back from the object.
    eff = {}
    if mode == "labml":
        eff["optimized_update"] = bool(opt.optimized_update)
        eff["weight_decouple"] = bool(opt.weight_decay.weight_decouple)
        eff["absolute"] = bool(opt.weight_decay.absolute)
        if cls in ("AdaBelief", "RAdam"):
            eff["degenerated_to_sgd"] = bool(opt.degenerated_to_sgd)
            eff["degenerated_to_sgd_repr"] = repr(opt.degenerated_to_sgd)
        eff["rectify"] = bool(getattr(opt, "rectify", cls == "RAdam"))
    else:
        eff["weight_decouple"] = bool(opt.weight_decouple)
        eff["fixed_decay"] = bool(opt.fixed_decay)
        eff["rectify"] = bool(opt.rectify)
        eff["degenerated_to_sgd"] = bool(opt.degenerated_to_sgd)
    eff["group_amsgrad"] = [bool(g.get("amsgrad", False)) for g in opt.param_groups]
    eff["group_hyperparameters"] = [dict(lr=g["lr"], betas=list(g["betas"]), eps=g["eps"],
                                         weight_decay=g["weight_decay"]) for g in opt.param_groups]
    record = dict(constructor=ctor, param_groups=pg_record, set_after_construction=post, effective=eff)
    return opt, record


def our_group_options(case, record, gi):
    """The group's options in OUR vocabulary (nab_group_options), from the EFFECTIVE values
    read back from the original optimizer object."""
    eff = record["effective"]
    hp = eff["group_hyperparameters"][gi]
    labml = case["mode"] == "labml"
    if labml:
        wd_mode = our_wd_mode(eff["weight_decouple"], eff["absolute"])
        second = "belief" if case["cls"] == "AdaBelief" else "square"
        degen = eff.get("degenerated_to_sgd", case["degenerate"] if case["degenerate"] is not None else True)
        optimized = eff["optimized_update"]
    else:
        wd_mode = our_wd_mode(eff["weight_decouple"], eff["fixed_decay"])
        second = "belief"
        degen = eff["degenerated_to_sgd"]
        optimized = True
    return dict(
        compatibility="labml" if labml else "adabelief-pytorch",
        learning_rate=hp["lr"], beta1=hp["betas"][0], beta2=hp["betas"][1], epsilon=hp["eps"],
        weight_decay=hp["weight_decay"], weight_decay_mode=wd_mode, second_moment=second,
        amsgrad=eff["group_amsgrad"][gi], rectify=eff["rectify"],
        degenerate_to_sgd=bool(degen), optimized_update=bool(optimized))


def run_original(orig, case, groups, inputs, dtype):
    tensors = [(torch.tensor(p, dtype=dtype), g) for p, g in zip(inputs["params"], inputs["tensor_groups"])]
    opt, record = construct(orig, case, groups, tensors)
    steps = case["features"]["steps"]
    if case["mode"] == "labml":
        l2 = not opt.weight_decay.weight_decouple
    else:
        l2 = not opt.weight_decouple
    # m_scale: the EMA of |g| (g after L2 decay), i.e. what m would be without sign
    # cancellation; the rounding error of a float32 m scales with it (see the README).
    m_scale = [np.zeros(t.numel()) for t, _ in tensors]
    # p_scale: the largest |theta| along the trajectory (initial and after every step); the
    # rounding error a float32 theta accumulates scales with it, not with the final value.
    p_scale = [np.abs(t.detach().double().numpy()) for t, _ in tensors]
    for k in range(steps):
        for gi, pg in enumerate(opt.param_groups):
            pg["lr"] = float(inputs["lrs"][gi][k])
        for ti, (t, gi) in enumerate(tensors):
            if inputs["masks"][ti][k]:
                # A fresh buffer each step: the official L2 path adds into p.grad in place.
                t.grad = torch.tensor(inputs["grads"][ti][k], dtype=dtype)
                beta1 = opt.param_groups[gi]["betas"][0]
                lam = opt.param_groups[gi]["weight_decay"]
                g = inputs["grads"][ti][k]
                if l2 and lam != 0:
                    g = g + lam * t.detach().double().numpy()
                m_scale[ti] = beta1 * m_scale[ti] + (1 - beta1) * np.abs(g)
            else:
                t.grad = None
        opt.step()
        for ti, (t, _) in enumerate(tensors):
            p_scale[ti] = np.maximum(p_scale[ti], np.abs(t.detach().double().numpy()))
    out = []
    for t, gi in tensors:
        st = opt.state[t]
        n = t.numel()
        zeros = np.zeros(n)
        if case["mode"] == "labml" and case["cls"] != "AdaBelief":
            s_key, smax_key = "exp_avg_sq", "max_exp_avg_sq"
        else:
            s_key, smax_key = "exp_avg_var", "max_exp_avg_var"
        res = dict(
            params=t.detach().double().numpy().copy(),
            m=st["exp_avg"].double().numpy().copy() if "exp_avg" in st else zeros,
            s=st[s_key].double().numpy().copy() if s_key in st else zeros,
            step=int(st.get("step", 0)),
            m_scale=m_scale[len(out)],
            p_scale=p_scale[len(out)],
        )
        if smax_key in st:
            res["s_max"] = st[smax_key].double().numpy().copy()
        elif not st and opt.param_groups[gi].get("amsgrad", False):
            res["s_max"] = zeros  # never had a gradient: the state would have been zeros
        out.append(res)
    return out, record


# ------------------------------------------------------------------------------------------
# Verification helpers (--verify)
# ------------------------------------------------------------------------------------------


def rectification(beta2, t):
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    b2t = beta2 ** t
    rho = rho_inf - 2.0 * t * b2t / (1.0 - b2t)
    if rho >= 5.0:
        return math.sqrt((rho - 4.0) / (rho_inf - 4.0) * (rho - 2.0) / rho * rho_inf / (rho_inf - 2.0)), rho
    return None, rho


def spec_reference(opts_by_group, inputs, steps, square_eps_in_v=True):
    """Independent float64 transcription of shared/spec/adabelief.md (not of the originals).
    Used only by --verify to list where the spec and the originals disagree.
    square_eps_in_v=True is the spec as written (v = s + eps for the square moment too);
    False is what labml's Adam/AMSGrad/RAdam do (v = s, eps only outside the root)."""
    res = []
    for ti, p0 in enumerate(inputs["params"]):
        gi = inputs["tensor_groups"][ti]
        o = opts_by_group[gi]
        th = p0.copy()
        m = np.zeros_like(th)
        s = np.zeros_like(th)
        smax = np.zeros_like(th)
        t = 0
        b1, b2, eps, lam = o["beta1"], o["beta2"], o["epsilon"], o["weight_decay"]
        for k in range(steps):
            if not inputs["masks"][ti][k]:
                continue
            lr = float(inputs["lrs"][gi][k])
            g = inputs["grads"][ti][k].copy()
            if o["weight_decay_mode"] == "decoupled":
                th = th * (1.0 - lr * lam)
            elif o["weight_decay_mode"] == "absolute":
                th = th * (1.0 - lam)
            elif lam != 0.0:
                g = g + lam * th
            m = b1 * m + (1 - b1) * g
            r = (g - m) if o["second_moment"] == "belief" else g
            s = b2 * s + (1 - b2) * r * r
            t += 1
            bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
            rt, _ = rectification(b2, t)
            if o["compatibility"] == "labml":
                if o["amsgrad"]:
                    smax = np.maximum(smax, s)
                v = smax if o["amsgrad"] else s
                if o["second_moment"] == "belief" or square_eps_in_v:
                    v = v + eps
                if o["rectify"] and rt is None:
                    if o["degenerate_to_sgd"]:
                        th = th - lr / bc1 * m
                    continue
                f = rt if o["rectify"] else 1.0
                if o["optimized_update"]:
                    th = th - lr * math.sqrt(bc2) * f / bc1 * m / (np.sqrt(v) + eps)
                else:
                    th = th - lr * f / bc1 * m / (np.sqrt(v) / math.sqrt(bc2) + eps)
            else:
                s = s + eps
                if o["amsgrad"]:
                    smax = np.maximum(smax, s)
                    d = np.sqrt(smax) / math.sqrt(bc2) + eps
                else:
                    d = np.sqrt(s) / math.sqrt(bc2) + eps
                if not o["rectify"]:
                    th = th - lr / bc1 * m / d
                elif rt is not None:
                    th = th - lr * math.sqrt(bc2) * rt / bc1 * m / (np.sqrt(s) + eps)
                elif o["degenerate_to_sgd"]:
                    th = th - lr / bc1 * m
        res.append(dict(params=th, m=m, s=s, s_max=smax, step=t))
    return res


def parity_errors(ref, got):
    """The C++ test's metric (native/tests/parity_test.cpp); returns the worst err/tolerance."""
    worst = 0.0
    for r, g in zip(ref, got):
        pfloor = np.maximum(r["p_scale"], 1e-3)
        worst = max(worst, np.max(np.abs(g["params"] - r["params"]) / np.maximum(np.abs(r["params"]), pfloor)) / 1e-5)
        mfloor = np.maximum(r["m_scale"], np.finfo(np.float32).tiny)
        worst = max(worst, np.max(np.abs(g["m"] - r["m"]) / np.maximum(np.abs(r["m"]), mfloor)) / 1e-5)
        for key in ("s", "s_max"):
            if key in r:
                worst = max(worst, np.max(np.abs(g[key] - r[key]) /
                                          np.maximum(np.abs(r[key]), np.finfo(np.float32).tiny)) / 1e-5)
        if r["step"] != g["step"]:
            worst = float("inf")
    return worst


def max_rel_diff(a, b):
    worst = 0.0
    for x, y in zip(a, b):
        for key in ("params", "m", "s", "s_max"):
            if key in x:
                d = np.abs(x[key] - y[key]) / np.maximum(np.abs(x[key]), 1e-300)
                d[(x[key] == 0) & (y[key] == 0)] = 0.0
                worst = max(worst, float(np.max(d)))
        if x["step"] != y["step"]:
            worst = float("inf")
    return worst


# ------------------------------------------------------------------------------------------
# Output
# ------------------------------------------------------------------------------------------


class BinWriter:
    def __init__(self):
        self.chunks = []
        self.offset = 0

    def add(self, array):
        a = np.ascontiguousarray(np.asarray(array, dtype="<f8").ravel())
        ref = dict(offset=self.offset, count=int(a.size))
        self.chunks.append(a.tobytes())
        self.offset += a.nbytes
        return ref

    def data(self):
        return b"".join(self.chunks)


def check_rectification_margins(groups, steps, name):
    """The branch r_t tractable / not must not hinge on the last bits of rho_t."""
    for hp in groups:
        for t in range(1, steps + 1):
            _, rho = rectification(hp["beta2"], t)
            if abs(rho - 5.0) < 1e-6:
                raise SystemExit("case %s: rho_t=%r too close to 5 at t=%d" % (name, rho, t))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--labml-root", required=True)
    ap.add_argument("--official-root", required=True)
    ap.add_argument("--labml-commit", default="unknown")
    ap.add_argument("--official-commit", default="unknown")
    ap.add_argument("--output", required=True)
    ap.add_argument("--verify", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(1)
    orig = import_originals(args.labml_root, args.official_root)
    writer = BinWriter()
    index_cases = []
    verify_rows = []
    for case in build_cases():
        groups = finalize_group_hparams(case)
        steps = case["features"]["steps"]
        check_rectification_margins(groups, steps, case["name"])
        inputs = make_inputs(case)
        ref, record = run_original(orig, case, groups, inputs, torch.float64)
        options = [our_group_options(case, record, gi) for gi in range(len(groups))]
        original = dict(implementation={
            "AdaBelief": "labml_nn.optimizers.ada_belief.AdaBelief",
            "Adam": "labml_nn.optimizers.adam.Adam",
            "AMSGrad": "labml_nn.optimizers.amsgrad.AMSGrad",
            "RAdam": "labml_nn.optimizers.radam.RAdam",
            "OfficialAdaBelief": "adabelief_pytorch.AdaBelief.AdaBelief (0.2.1)",
        }[case["cls"]], **record)

        group_entries = []
        for gi, o in enumerate(options):
            e = dict(o)
            e["learning_rates"] = writer.add(inputs["lrs"][gi])
            group_entries.append(e)
        tensor_entries = []
        for ti, r in enumerate(ref):
            e = dict(group=inputs["tensor_groups"][ti], size=int(inputs["params"][ti].size),
                     has_gradient=[int(x) for x in inputs["masks"][ti]],
                     initial_parameters=writer.add(inputs["params"][ti]),
                     gradients=writer.add(inputs["grads"][ti]),
                     final_parameters=writer.add(r["params"]),
                     final_first_moment=writer.add(r["m"]),
                     final_second_moment=writer.add(r["s"]),
                     final_max_second_moment=writer.add(r["s_max"]) if "s_max" in r else None,
                     parameter_scale=writer.add(r["p_scale"]),
                     first_moment_scale=writer.add(r["m_scale"]),
                     final_step=r["step"])
            tensor_entries.append(e)
        f = case["features"]
        index_cases.append(dict(name=case["name"], steps=steps,
                                features=dict(lr_schedule=f["lr_schedule"], null_gradients=f["null_gradients"]),
                                original=original, groups=group_entries, tensors=tensor_entries))

        if args.verify:
            got32, _ = run_original(orig, case, groups, inputs, torch.float32)
            spec = spec_reference(options, inputs, steps)
            fixed = spec_reference(options, inputs, steps, square_eps_in_v=False)
            for r, s1, s2 in zip(ref, spec, fixed):
                s1["m_scale"], s1["p_scale"] = r["m_scale"], r["p_scale"]
                if "s_max" not in r:
                    s1.pop("s_max", None)
                    s2.pop("s_max", None)
            verify_rows.append((case["name"], parity_errors(ref, got32), parity_errors(ref, spec),
                                max_rel_diff(ref, fixed)))

    os.makedirs(args.output, exist_ok=True)
    data = writer.data()
    with open(os.path.join(args.output, "vectors.bin"), "wb") as fh:
        fh.write(data)
    index = dict(
        format="nab-parity-vectors", version=FORMAT_VERSION,
        data_file="vectors.bin", data_bytes=len(data), dtype="float64", byte_order="little",
        generator=dict(script="tools/parity/generate_parity_vectors.py", master_seed=MASTER_SEED,
                       torch=torch.__version__, numpy=np.__version__,
                       labml_commit=args.labml_commit, official_commit=args.official_commit),
        cases=index_cases)
    # Plain JSON; laid out with one case per line so that diffs stay readable and small.
    cases_json = ",\n".join("  " + json.dumps(c, separators=(",", ":")) for c in index.pop("cases"))
    head = json.dumps(index, indent=1)
    assert head.endswith("\n}")
    with open(os.path.join(args.output, "index.json"), "w") as fh:
        fh.write(head[:-2] + ',\n "cases": [\n' + cases_json + "\n ]\n}\n")
    print("%d cases, vectors.bin %d bytes" % (len(index_cases), len(data)))

    if args.verify:
        # fp32/tol: the originals run in float32, measured like the C++ test (must be < 1).
        # spec/tol:  the spec as written, in float64, measured the same way (> 1: a kernel
        #            that follows the spec literally fails this case).
        # spec*:     max relative difference of the spec with v = s (no eps) for the square
        #            moment, i.e. what labml's Adam family does (should be ~1e-13 or less).
        print("\n%-58s %10s %10s %10s" % ("case", "fp32/tol", "spec/tol", "spec*"))
        for name, e32, espec, dfix in verify_rows:
            flag = ("  <-- fp32 over tolerance" if e32 > 1 else "") + ("  <-- spec as written fails" if espec > 1 else "")
            print("%-58s %10.3g %10.3g %10.3g%s" % (name, e32, espec, dfix, flag))
        print("\nworst fp32 error / tolerance: %.4g" % max(r[1] for r in verify_rows))
        print("worst spec* relative difference: %.4g" % max(r[3] for r in verify_rows))


if __name__ == "__main__":
    main()
