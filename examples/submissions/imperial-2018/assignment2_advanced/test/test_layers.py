import unittest
import numpy as np
from src.layers import linear_forward


class TestLinearLayer(unittest.TestCase):
    def test_output_linear_forward(self):
        X = np.linspace(-0.2, 0.5, 400).reshape(10, 4, 2, 5)
        W = np.linspace(-0.4, 0.2, 120).reshape(40, 3)
        b = np.linspace(0.5, 1, 3)
        self.assertEqual(linear_forward(X, W, b).shape, (10, 3))
