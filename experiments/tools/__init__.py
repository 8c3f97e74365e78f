"""Tools beside the job path: the MLflow UI launcher (``make ui``), a local single-node SLURM
cluster (``make slurm-up``) and the library-only demo (``make demo-lib``). Nothing in a job
imports them."""
