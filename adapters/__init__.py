"""Channels and CTI sources. One subpackage per kind; chosen through `adapters.registry`."""
