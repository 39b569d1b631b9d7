"""Interop tier: the example echo server as a real subprocess, driven by official clients."""
