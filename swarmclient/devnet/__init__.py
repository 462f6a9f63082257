"""`swarm devnet`: a local swarm of peer processes on 127.0.0.1, with a live table and a report."""

from swarmclient.devnet.layout import PeerSpec, prepare
from swarmclient.devnet.orchestrator import Devnet, DevnetOptions, DevnetResult, run_devnet
from swarmclient.devnet.report import REPORT_FORMAT, build_report, summary_lines

__all__ = [
    "REPORT_FORMAT",
    "Devnet",
    "DevnetOptions",
    "DevnetResult",
    "PeerSpec",
    "build_report",
    "prepare",
    "run_devnet",
    "summary_lines",
]
