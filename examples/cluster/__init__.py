"""A Socket.IO cluster: workers joined by Redis behind nginx (see README.md)."""
