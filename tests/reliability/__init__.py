"""The reliability suite (issue 6). A package, so its conftest is `reliability.conftest` and never
shadows the top-level `conftest` module other test folders import names from."""
