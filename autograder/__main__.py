"""``python -m autograder VERB ...`` — see ``autograder.cli``."""
import sys

from .cli import main

sys.exit(main())
