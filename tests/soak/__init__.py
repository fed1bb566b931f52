"""The soak test: thousands of mixed executions, then exact accounting and leak checks."""
