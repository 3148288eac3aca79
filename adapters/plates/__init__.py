"""Plate-reader folder labs (kind ``plate_folder``): plates out as worklists, reads back in.

A batch becomes plates (`layout`), each with a worklist (`worklist`) written
into an outbox; the reader's exports dropped into an inbox are read
(`readers`), quality-checked and normalised against the plate's controls
(`qc`, `readout`) and returned as results (`folder.PlateFolderLab`; the inbox's
files: `inbox`; what it keeps: `state`). The kind
is registered by `plugin.register`, the ``loopwell.adapters`` entry point.
"""

from adapters.plates.folder import PlateFolderLab
from adapters.plates.layout import PlateMap, Role, Sample, Well, plan_plates
from adapters.plates.qc import percent_of_control, z_prime
from adapters.plates.readers import ReaderFile, UnreadableFile, read_export
from adapters.plates.settings import PlateFolderSettings
from adapters.plates.worklist import worklist_csv

__all__ = [
    "PlateFolderLab",
    "PlateFolderSettings",
    "PlateMap",
    "ReaderFile",
    "Role",
    "Sample",
    "UnreadableFile",
    "Well",
    "percent_of_control",
    "plan_plates",
    "read_export",
    "worklist_csv",
    "z_prime",
]
