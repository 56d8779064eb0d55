"""Snakemake script: ingest one external training log, analyse it and test its claims (toposcale.experiments.external)."""
import sys

from toposcale.experiments.external import analyse_log, claims_summary, load_log, write_analysis

p = snakemake.params  # noqa: F821 (injected by Snakemake)
entry, section = p.entry, p.section
with open(snakemake.log[0], "w") as fh:  # noqa: F821
    log = load_log(entry["path"], schema=entry.get("schema", "beta_trajectory"), mapping=entry.get("mapping"),
                   name=entry["name"], warn=False)
    for message in log.messages:
        print(f"warning: {message}", file=fh)
        print(f"warning: {message}", file=sys.stderr)
    # keys beyond n_bootstrap / n_permutations fall back to the library defaults until the schema has them
    res = analyse_log(log, n_bootstrap=section["n_bootstrap"], n_permutations=section["n_permutations"],
                      seed=p.seed, significance=section.get("significance", 0.05),
                      tolerance=section.get("tolerance_decades", 0.1), margin=section.get("fixpoint_margin", 0.05))
    write_analysis(res, {kind: snakemake.output[kind] for kind in ("fits", "claims", "series", "issues")})  # noqa: F821
    print(f"{len(log.data)} rows, {len(log.issues)} issue(s), {log.data['run_id'].nunique()} run(s)", file=fh)
    print(claims_summary(res.claims), file=fh)
