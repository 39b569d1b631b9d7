"""A Socket.IO chat with rooms: ``hypercorn examples.socketio_chat.app:app --worker-class trio``."""
