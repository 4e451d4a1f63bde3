"""Grading one submission (trusted side): intake, sandboxed tests, points, results.json."""
