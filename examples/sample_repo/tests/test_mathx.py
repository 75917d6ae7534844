import unittest

from sample_pkg.mathx import clamp


class ClampTest(unittest.TestCase):
    def test_inside(self) -> None:
        self.assertEqual(clamp(5, 0, 10), 5)

    def test_outside(self) -> None:
        self.assertEqual(clamp(-3, 0, 10), 0)
        self.assertEqual(clamp(30, 0, 10), 10)
