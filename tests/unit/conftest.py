import sys
from pathlib import Path

# make ansible_collections.hostnet.fabric importable from the checkout (collections/ links to it)
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'collections'))
