# mk/chaos.mk -- make chaos (filled in by the fault-injection work)
