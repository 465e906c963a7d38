"""The environment: facts about this machine, artifacts to fetch, wheels for offline installs."""
