# Shared set-up: validated config, the study plan and path helpers. No rules here.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir).joinpath("workflow")))

from toposcale.config import ConfigError, validate_config  # noqa: E402
from toposcale.plan.study import bootstrap_steps, checkpoint_steps, layer_names, study_runs  # noqa: E402

try:
    _validated = validate_config(config)
except ConfigError as _exc:
    sys.stderr.write(f"{_exc}\n")
    sys.exit(1)
config.clear()
config.update(_validated)

RESULTS = config["results"]
PYTHON = sys.executable
for _log in config["external"]["logs"]:  # "{results}" in a log path means this study's results folder
    _log["path"] = _log["path"].replace("{results}", RESULTS)
CORPUS = config["corpus"]["name"]
DATA = f"{RESULTS}/data/{CORPUS}"
RUNS = study_runs(config)
RUN_BY_NAME = {r.name: r for r in RUNS}
SOURCES = config["topology"]["sources"]
STEPS = {r.name: checkpoint_steps(r.total_steps, config["training"]["n_checkpoints"]) for r in RUNS}
BOOT_STEPS = {
    r.name: bootstrap_steps(STEPS[r.name], config["topology"]["bootstrap"]["n_checkpoints"])
    for r in RUNS
}


wildcard_constraints:
    run=r"(gelu|swiglu)-d\d+L\d+(t[0-9p]+)?-s\d+",
    step=r"\d{7}",
    source=r"weights|activations",
    layer=r"embed|block\d{2}|final",
    corpus=r"[A-Za-z0-9_]+",


def rule_name(prefix, run):
    """Per-run rules (their outputs depend on the run's checkpoint schedule) get unique names."""
    return f"{prefix}_{run.replace('-', '_')}"


def ckpt_path(run, step):
    return f"{RESULTS}/runs/{run}/checkpoints/step{step:07d}.safetensors"


def cloud_path(run, step):
    return f"{RESULTS}/clouds/{run}/step{step:07d}.npz"


def diagram_path(run, source, step, layer):
    return f"{RESULTS}/diagrams/{run}/{source}/step{step:07d}/{layer}.npz"


def diagrams_root(diagram_file):
    """results/diagrams/{run} from one of its files .../{source}/step{step}/{layer}.npz."""
    return str(Path(diagram_file).parents[2])


def run_layers(run, source):
    return layer_names(source, RUN_BY_NAME[run].n_layers)


def run_diagrams(run, step=None):
    steps = STEPS[run] if step is None else [int(step)]
    return [
        diagram_path(run, src, s, layer)
        for s in steps
        for src in SOURCES
        for layer in run_layers(run, src)
    ]


def run_bootstraps(run):
    return [f"{RESULTS}/bootstrap/{run}/step{s:07d}.csv" for s in BOOT_STEPS[run]]


def train_targets():
    return [f"{RESULTS}/runs/{r.name}/run.json" for r in RUNS]


def metrics_targets():
    return [f"{RESULTS}/metrics/{r.name}.parquet" for r in RUNS]


def all_targets():
    """Everything `snakemake` builds by default; analysis rule files add their targets via ALL_TARGETS."""
    targets = train_targets() + metrics_targets() + _bootstrap_targets()
    for extra in ALL_TARGETS:
        targets += extra()
    return targets


ALL_TARGETS = []


ENV_TRAIN = "../../envs/train.yaml"
ENV_TOPOLOGY = "../../envs/topology.yaml"
ENV_ANALYSIS = "../../envs/analysis.yaml"
ENV_PRETRAINED = "../../envs/pretrained.yaml"


def _bootstrap_targets():
    return [p for r in RUNS for p in run_bootstraps(r.name)]


def fig(name, category, caption=None):
    """A figure target wrapped for `snakemake --report`, captioned by workflow/report/{caption or name}.rst."""
    return report(
        f"{RESULTS}/figures/{name}.png",
        caption=f"../report/{caption or name}.rst",
        category=category,
    )
