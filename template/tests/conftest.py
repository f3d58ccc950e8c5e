import sys
from pathlib import Path

# main.py and its helper modules import as top-level modules, as in the container;
# workers/ itself holds the shared `common` package.
HERE = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(HERE), str(HERE.parent)]
