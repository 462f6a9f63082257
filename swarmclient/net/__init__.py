"""Networking: a libp2p host (TCP, Noise, Yamux), GossipSub on swarm topics, bulk streams.

Public API (stable; the devnet and the round loop use only these names):

    from swarmclient.net import Node, NodeConfig, NodeStats, node_config_from, open_node

    config = NodeConfig(swarm_id="dev", listen=("/ip4/127.0.0.1/tcp/0",),
                        bootstrap=("/ip4/127.0.0.1/tcp/4001/p2p/12D3...",),
                        peer_cache=home.peer_cache)        # or node_config_from(cfg, home)
    node = Node(identity.keypair, config, capabilities=lambda: Capabilities(...))
    await nursery.start(node.serve)          # listening + subscribed when this returns
    # or: async with open_node(identity.keypair, config) as node: ...

    node.peer_id / node.listen_addrs         # libp2p ID; ["/ip4/127.0.0.1/tcp/PORT/p2p/ID"]
    node.topic(Kind.ROLLOUTS, shard=None)    # the topic name a kind is gossiped on
    await node.connect(addr)                 # dial ".../tcp/N/p2p/ID"; SwarmError on failure
    await node.wait_for_peers(n, kind=Kind.ROLLOUTS, in_mesh=False)
                                             # n peers joined that topic (in our mesh)
    env = await node.publish(body, shard=None)   # sign + gossip; returns the Envelope sent;
                                             # ProtocolError (OVERSIZE, BAD_VALUE) or
                                             # SwarmError("not-running"/"oversize")
    async for env in node.inbox: ...         # verified protocol.wire.Envelope from others
    node.provide("batch", provider)          # provider(key: bytes, query: dict) -> bytes|None
                                             # (sync or async); also "ckpt", "trace"
    blob = await node.fetch(peer_id, "batch", key, timeout=30, max_bytes=None)
                                             # SwarmError("rpc-not-found" / "rpc-timeout" /
                                             # "rpc-too-large" / "rpc-unreachable" / ...)
    node.stats()                             # frozen NodeStats; .to_json() for reports
    node.capabilities()                      # peer id -> PeerCapability (latest advert)
    node.connected_peers(); node.is_banned(peer_id)

The node fills in `Capabilities.listen_addrs` from its own addresses when the app leaves
it empty, adverts at start, every `caps_interval_s` and when new peers subscribe.

Every message a node sees is counted in exactly one place of NodeStats: published,
received (per kind and per sender, with delivery latency), rejected (by wire reason and
by forwarding peer) or dropped (by where: queue-full, inbox-overflow, from-banned-peer,
from-graylisted-peer, bad-rpc, queued-for-lost-peer, equivocation, ...); peer events
(dial-ok/failed, peer-banned, peer-stalled, pubsub-peer-lost, conn-refused-per-ip-pending,
conn-refused-per-ip-established; gossip-iwant-sent/-received: message ids asked for or served
by gossip repair, i.e. what the mesh did not deliver) are in `events`. Inbound connections are admitted per
remote address (swarmclient.net.admission: at most `max_pending_per_ip` handshakes and
`max_established_per_ip` connections).
docs/architecture.md "## Networking" explains each py-libp2p pitfall and how it is handled.
"""

from swarmclient.net.admission import AdmissionLimits, AdmissionTable
from swarmclient.net.discovery import PeerCache, parse_peer_addr
from swarmclient.net.gossip import DEGREE, DEGREE_HIGH, DEGREE_LOW
from swarmclient.net.node import DEFAULT_TARGET_PEERS, Node, NodeConfig, node_config_from, now_ms, open_node
from swarmclient.net.rpc import MAX_BLOB_BYTES, Provider
from swarmclient.net.stats import LatencySummary, NodeStats, PeerCapability

__all__ = [
    "DEFAULT_TARGET_PEERS",
    "DEGREE",
    "DEGREE_HIGH",
    "DEGREE_LOW",
    "MAX_BLOB_BYTES",
    "AdmissionLimits",
    "AdmissionTable",
    "LatencySummary",
    "Node",
    "NodeConfig",
    "NodeStats",
    "PeerCache",
    "PeerCapability",
    "Provider",
    "node_config_from",
    "now_ms",
    "open_node",
    "parse_peer_addr",
]
