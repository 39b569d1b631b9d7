"""A browser chat demo: ``hypercorn examples.chat.app:app --worker-class trio``."""
