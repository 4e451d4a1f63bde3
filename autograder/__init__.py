"""The autograding kit for a from-scratch deep-learning assignment.

Grader side (trusted): ``cli``, ``config``, ``template``, ``grading``, ``sandbox`` (the client
half), ``scoring``, ``batch``, ``validate``.  Worker side (runs beside student code, copied
into the sandbox): ``autograder.worker`` only.  See README.md "Security".
"""
__version__ = "0.1.0"
