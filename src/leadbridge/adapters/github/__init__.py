"""GitHub: the hub repository's issues, through PyGithub with no transport retry."""

from leadbridge.adapters.github.issues import GitHubIssues

__all__ = ["GitHubIssues"]
