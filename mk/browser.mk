# mk/browser.mk -- Debian's chromium for the report page's browser test (filled in by the browser work).
BROWSER_STAMP ?=
