"""Device simulators, written from each device's specification; they never import `adapters`."""
