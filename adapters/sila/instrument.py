"""A simulated assay instrument served as a real SiLA 2 server (the `sila2` package).

The instrument answers from a lookup table (candidate -> value), like
`adapters.simulated`, but over the SiLA 2 wire: the `AssayInstrument` feature
(``AssayInstrument.sila.xml`` beside this file) with the observable command
``MeasureBatch(Samples, BatchKey) -> Values``, intermediate responses
``SamplesDone``, and the defined execution errors ``SampleNotFound`` and
``BatchCancelled``; and ``CancelController.CancelCommand(CommandExecutionUUID)``
to cancel a running batch. Features are loaded from their FDL with the sila2
package's dynamic API (no generated code).

For tests and demos::

    with serve_instrument({"KO:ZAP70": -2.31}, port=free_port()) as instrument:
        ...  # a SilaLab with host=127.0.0.1, port=instrument.port, insecure=True

or from a shell: ``python -m adapters.sila.instrument lookup.json --port 50052``.
Importing this module does not import sila2; `serve_instrument` does.
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

FEATURE_FILE = Path(__file__).with_name("AssayInstrument.sila.xml")
CANCEL_FILE = Path(__file__).with_name("CancelController.sila.xml")


@dataclass
class InstrumentLog:
    """What the simulated instrument did (for tests): samples measured, batches seen."""

    n_measured: int = 0
    batch_keys: list[str] = field(default_factory=list)
    cancelled: set[UUID] = field(default_factory=set)


@dataclass
class RunningInstrument:
    """A started server: its address and its log. Stop it with `stop` (or the context)."""

    host: str
    port: int
    log: InstrumentLog
    server: Any

    def stop(self) -> None:
        """Stop the server, cancelling what runs (waits at most a second)."""
        self.server.stop(grace_period=1.0)


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port free on `host` now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def start_instrument(lookup: Mapping[str, float], *, host: str = "127.0.0.1", port: int,
                     sample_time_s: float = 0.05, private_key: bytes | None = None,
                     cert_chain: bytes | None = None,
                     server_uuid: str | UUID | None = None) -> RunningInstrument:
    """Start the simulated instrument's SiLA server; return it running.

    Args:
        lookup: The value of each candidate the instrument knows.
        host: Address to listen on (loopback by default).
        port: Port to listen on.
        sample_time_s: Seconds one sample takes (intermediate responses come
            after each sample).
        private_key: PEM key for TLS; with `cert_chain`. Without both the
            server runs insecure (tests only: SiLA requires TLS).
        cert_chain: PEM certificate chain for TLS.
        server_uuid: The server's SiLA UUID (a certificate made for a UUID
            must be served under it: SiLA clients check).
    """
    from sila2.framework import Feature
    from sila2.server import SilaServer

    log = InstrumentLog()
    server = SilaServer(server_name="loopwell simulated assay", server_type="AssayInstrument",
                        server_description="A simulated assay instrument answering from a table",
                        server_version="0.1", server_vendor_url="https://github.com/loopwell",
                        server_uuid=server_uuid, max_grpc_workers=16,
                        max_child_task_workers=16)
    assay = Feature(FEATURE_FILE.read_text())
    cancel = Feature(CANCEL_FILE.read_text())
    server.set_feature_implementation(assay, _assay_impl(server, assay, lookup, log,
                                                         sample_time_s))
    server.set_feature_implementation(cancel, _cancel_impl(server, cancel, log))
    if private_key is not None and cert_chain is not None:
        server.start(host, port, private_key=private_key, cert_chain=cert_chain,
                     enable_discovery=False)
    else:
        server.start_insecure(host, port, enable_discovery=False)
    return RunningInstrument(host=host, port=port, log=log, server=server)


@contextmanager
def serve_instrument(lookup: Mapping[str, float], **kwargs: Any) -> Iterator[RunningInstrument]:
    """Run the simulated instrument for the duration of a `with` block."""
    instrument = start_instrument(lookup, **kwargs)
    try:
        yield instrument
    finally:
        instrument.stop()


def _assay_impl(server: Any, feature: Any, lookup: Mapping[str, float], log: InstrumentLog,
                sample_time_s: float) -> Any:
    from sila2.framework import DefinedExecutionError
    from sila2.server import FeatureImplementationBase

    not_found = feature.defined_execution_errors["SampleNotFound"]
    cancelled = feature.defined_execution_errors["BatchCancelled"]
    lock = threading.Lock()
    answers: dict[str, list[tuple[str, float]]] = {}  # batch key -> values measured

    class AssayInstrumentImpl(FeatureImplementationBase):
        MeasureBatch_default_lifetime_of_execution = None  # kept while the server runs

        def MeasureBatch(self, Samples: list[Any], BatchKey: str, *, metadata: Any,
                         instance: Any) -> Any:
            instance.begin_execution()
            with lock:
                log.batch_keys.append(BatchKey)
                seen = answers.get(BatchKey)
            if seen is not None:  # a resubmission: answer what was measured, measure nothing
                instance.send_intermediate_response(len(seen))
                instance.progress = 1.0
                return [_value_struct(feature, sid, value) for sid, value in seen]
            unknown = sorted({s.Candidate for s in Samples if s.Candidate not in lookup})
            if unknown:
                raise DefinedExecutionError(
                    not_found, f"candidates not on the instrument's plate map: "
                               f"{', '.join(unknown)}; the batch was not measured")
            values = []
            for n_done, sample in enumerate(Samples, start=1):
                if instance.execution_uuid in log.cancelled:
                    raise DefinedExecutionError(
                        cancelled, f"cancelled after {n_done - 1} of {len(Samples)} samples")
                time.sleep(sample_time_s)
                values.append((sample.SampleId, float(lookup[sample.Candidate])))
                with lock:
                    log.n_measured += 1
                instance.send_intermediate_response(n_done)
                instance.progress = n_done / len(Samples)
            with lock:
                answers[BatchKey] = values
            return [_value_struct(feature, sid, value) for sid, value in values]

    return AssayInstrumentImpl(server)


def _cancel_impl(server: Any, feature: Any, log: InstrumentLog) -> Any:
    from sila2.framework import DefinedExecutionError
    from sila2.server import FeatureImplementationBase

    invalid = feature.defined_execution_errors["InvalidCommandExecutionUUID"]

    class CancelControllerImpl(FeatureImplementationBase):
        def CancelCommand(self, CommandExecutionUUID: str, *, metadata: Any) -> None:
            try:
                log.cancelled.add(UUID(CommandExecutionUUID))
            except ValueError:
                raise DefinedExecutionError(
                    invalid, f"not a command execution UUID: {CommandExecutionUUID!r}") from None

    return CancelControllerImpl(server)


def _value_struct(feature: Any, sample_id: str, value: float) -> tuple[str, float]:
    """Return one element of the feature's `Values` response: (SampleId, Value), in FDL order."""
    return (sample_id, value)


def main(argv: list[str] | None = None) -> None:
    """Serve the simulated instrument from a JSON lookup table until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lookup", type=Path, help="JSON object: candidate id -> value")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=50052)
    parser.add_argument("--sample-time-s", type=float, default=0.05)
    args = parser.parse_args(argv)
    lookup = {str(k): float(v) for k, v in json.loads(args.lookup.read_text()).items()}
    with serve_instrument(lookup, host=args.host, port=args.port,
                          sample_time_s=args.sample_time_s) as instrument:
        print(f"SiLA server (insecure) on {instrument.host}:{instrument.port}; Ctrl-C stops it")
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
