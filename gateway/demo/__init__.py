"""`callout demo` and `callout simulate`: the only part of the gateway that imports `simulators`.

- `run`: the demo's entry point (`run_demo`): the daemon on embedded defaults with the rig and desk.
- `rig`, `devices`, `parts`: the simulated field, one function per device, folded into the settings.
- `desk`, `samples`: the demo's dispatcher and what its sample callers say.
- `narration`: one line of output for each event a newcomer should see.
- `simulate`: one device simulator standalone.

`gateway/cli.py` imports these modules only when `demo` or `simulate` is the command, so the daemon
never loads a simulator.
"""
