"""The operator's command line: ``campaign`` against a deployed stack or the local one."""
