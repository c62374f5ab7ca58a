"""`python -m simulators.kiss_tnc …`: the simulator without the `callout` command."""

import argparse
import asyncio
import contextlib

from simulators.kiss_tnc.cli import add_arguments, main

parser = argparse.ArgumentParser(prog="kiss-tnc", description="KISS TNC simulator with APRS stations")
add_arguments(parser)
with contextlib.suppress(KeyboardInterrupt):
    asyncio.run(main(**vars(parser.parse_args())))
