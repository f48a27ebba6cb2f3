"""orch's server example app (playbooks/server.yml)."""
