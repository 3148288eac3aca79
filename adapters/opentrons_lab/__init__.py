"""Opentrons labs (kind ``opentrons``): plates filled by a robot, read by a plate reader.

`protocol` turns a plate's worklist into a Python protocol (Protocol API 2.x)
and runs ``opentrons.simulate`` on it; `robot` speaks the robot-server's HTTP
API; `lab.OpentronsLab` joins them to a plate-reader folder lab. Importing
this package does not import the ``opentrons`` package.
"""

from adapters.opentrons_lab.lab import OpentronsLab
from adapters.opentrons_lab.protocol import DeckSettings, protocol_source, simulate_protocol
from adapters.opentrons_lab.robot import RobotClient
from adapters.opentrons_lab.settings import OpentronsSettings

__all__ = [
    "DeckSettings",
    "OpentronsLab",
    "OpentronsSettings",
    "RobotClient",
    "protocol_source",
    "simulate_protocol",
]
