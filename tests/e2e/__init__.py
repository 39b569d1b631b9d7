"""End-to-end tier: the browser chat example in headless Chromium."""
