# mk/browser.mk -- Debian's chromium for the report page's browser test. Included by the Makefile:
#
#     include mk/browser.mk
#
# Targets
#   browser         installs chromium + chromium-driver if missing and checks their versions match
#
# $(BROWSER_STAMP) is a prerequisite of `make pytest`. It installs from Debian (not a downloaded
# Chrome for Testing) because CI is a clean Debian machine running as root with only the Debian,
# PyPI and npm mirrors reachable. Both packages come from the same source package, so apt keeps
# them in step; the check below still fails loudly if a pinned or held package broke that,
# because a chromedriver of another major version refuses to drive the browser with an error
# that points nowhere near the cause.
#
# Knobs
#   BROWSER_STAMP   stamp file (default build/.chromium-installed; `make clean` removes build/)
#   CHROMIUM        browser binary   (default /usr/bin/chromium)
#   CHROMEDRIVER    driver binary    (default /usr/bin/chromedriver)
#   APT_LOCK_WAIT   seconds apt waits for another apt/dpkg to finish (default 600)

BROWSER_STAMP ?= build/.chromium-installed
CHROMIUM      ?= /usr/bin/chromium
CHROMEDRIVER  ?= /usr/bin/chromedriver
APT_LOCK_WAIT ?= 600

.PHONY: browser
browser: $(BROWSER_STAMP)

# `chromium --version` prints "Chromium 156.0.8078.79 built on Debian ...", chromedriver prints
# "ChromeDriver 156.0.8078.79 (...)": the first dotted number of each must be the same. Debian's
# launcher script complains on stderr when /dev/shm shows up twice in findmnt; an empty version
# still fails the check.
$(BROWSER_STAMP):
	@if [ ! -x $(CHROMIUM) ] || [ ! -x $(CHROMEDRIVER) ]; then \
		echo "Installing Debian's chromium and chromium-driver"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get -o DPkg::Lock::Timeout=$(APT_LOCK_WAIT) update -q && \
		apt-get -o DPkg::Lock::Timeout=$(APT_LOCK_WAIT) install -y -q --no-install-recommends \
			chromium chromium-driver || exit 1; \
	fi
	@browser=$$($(CHROMIUM) --version 2>/dev/null | grep -Eo '[0-9]+(\.[0-9]+)+' | head -n1); \
	driver=$$($(CHROMEDRIVER) --version | grep -Eo '[0-9]+(\.[0-9]+)+' | head -n1); \
	if [ -z "$$browser" ] || [ "$$browser" != "$$driver" ]; then \
		echo "chromium ($$browser) and chromedriver ($$driver) versions differ" >&2; exit 1; \
	fi; \
	echo "chromium and chromedriver $$browser"
	@mkdir -p $(dir $@)
	@touch $@
