"""`python -m simulators.radio_fleet …`: the same options as `callout simulate radio-fleet`."""

import argparse
import sys

from simulators.radio_fleet.cli import add_arguments, run

parser = argparse.ArgumentParser(prog="radio_fleet", description="Simulated radios on an MQTT broker.")
add_arguments(parser)
sys.exit(run(parser.parse_args()))
