"""The long-running side of leadbridge, kept apart from the sync cycle it drives.

A cycle knows how to reconcile the board once; whether this replica may run one now, how long
it may take, and what that makes of its health are questions of time and of other replicas,
answered here in one place (``coordinator``) so that ``/healthz``, ``/metrics`` and the
scheduler can never disagree about them.
"""
