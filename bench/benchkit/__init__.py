"""The parts of bench/throughput.py: engine calls, worker variants, phases, report."""
