import sys
from pathlib import Path

# main.py and its helper modules import as top-level modules, as in the container.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
