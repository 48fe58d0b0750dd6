"""Browser tests: Debian's Chromium driven by Playwright (see conftest.py)."""
