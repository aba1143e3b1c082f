"""Real `sam local invoke` of every function (make sam-local-invoke; see docs/sam-local-invoke.md)."""
