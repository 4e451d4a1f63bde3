"""The worker side of the trust boundary: the only kit code that runs beside student code.

Everything in this package is copied into the sandbox and imports only the standard library
and NumPy (torch lazily, for model questions).  It must never import the grader side
(``autograder.*`` outside this package), hidden tests, the reference or any label.
"""
