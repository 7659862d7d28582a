"""Business logic: plain Python, no AWS imports; data access is passed in."""
