import unittest

from sample_pkg.text import shout


class ShoutTest(unittest.TestCase):
    def test_shout(self) -> None:
        self.assertEqual(shout("hi"), "HI!")
