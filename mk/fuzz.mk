# mk/fuzz.mk -- make fuzz (filled in by the fuzzing work)
