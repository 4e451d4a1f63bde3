"""Scoring saved models on a private test set (trusted side).

``spec``     the ``[questions.Qn.model]`` table of assignment.toml, with defaults;
``metrics``  accuracy, macro-F1, per-class F1, confusion matrix, the points curve;
``plots``    confusion matrix and per-class F1 as PNG for the instructor's report;
``score``    load the model in the sandbox, send images in batches, compute everything here.
"""
