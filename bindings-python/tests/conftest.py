import sys
import pathlib

# world.py sits beside the tests.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
