"""pufferd: a self-hosted chat server in one executable."""

__version__ = "0.1.0"
