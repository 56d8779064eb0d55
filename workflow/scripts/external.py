"""Snakemake script: ingest one external training log, analyse it and test its claims (toposcale.experiments.external)."""
import sys

from toposcale.experiments.external import analyse_log, claims_summary, load_log, write_analysis
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
entry, section = snakemake.params.entry, snakemake.params.section
# a toposcale log is read from exactly the rule's inputs: globbing the folder at run time would also take
# whatever other runs (a checkpoint series, say) had finished by then, so a table would depend on job order
source = list(snakemake.input.logs) if entry["schema"] == "toposcale_log" else entry["path"]
log = load_log(source, schema=entry["schema"], mapping=entry.get("mapping"), name=entry["name"], warn=False)
for message in log.messages:
    print(f"warning: {message}", file=sys.stderr)
res = analyse_log(log, n_bootstrap=section["n_bootstrap"], n_permutations=section["n_permutations"],
                  seed=snakemake.params.seed, significance=section["significance"],
                  tolerance=section["tolerance_decades"], margin=section["fixpoint_margin"])
write_analysis(res, {kind: snakemake.output[kind] for kind in ("fits", "claims", "series", "issues")})
print(f"{len(log.data)} rows, {len(log.issues)} issue(s), {log.data['run_id'].nunique()} run(s)", file=sys.stderr)
print(claims_summary(res.claims), file=sys.stderr)
