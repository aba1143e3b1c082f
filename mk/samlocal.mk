# mk/samlocal.mk -- real `sam local invoke` of every function (filled in by the sam-local work).
