"""One module per group of ``campaign`` subcommands; each ``run_*`` returns an exit code."""
