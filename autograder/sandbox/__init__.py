"""Grader side of the trust boundary: start the sandboxed worker and talk to it as data.

``launcher``  which isolation layers this machine supports, and the worker's command line;
``client``    the worker process, per-test sessions, limits and failure reports;
``remote``    proxies that make a session look like the student's modules.
"""
