# the GIST handout's numerical gradient check lives in this script (not a gradcheck.py module)
import numpy as np
from nn import *
from collections import Counter

def check(params, x, y, eps=1e-6):
    for k, v in params.items():
        if '_' in k:
            continue
        # perturb each element separately with central differences
        for index, _ in np.ndenumerate(v):
            old = v[index]
            v[index] = old + eps
            v[index] = old
