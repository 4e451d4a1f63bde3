"""Helpers shared by tests in several folders: ``from tests.kits.batchkit import ...``."""
