"""Networking: a libp2p host (TCP, Noise, Yamux), GossipSub on swarm topics, bulk streams.

Public API (stable; the devnet and the round loop use only these names):

    from swarmclient.net import Node, NodeConfig, NodeStats, open_node

    config = NodeConfig(swarm_id="dev", listen=("/ip4/127.0.0.1/tcp/0",),
                        bootstrap=("/ip4/127.0.0.1/tcp/4001/p2p/12D3...",),
                        peer_cache=home.peer_cache)
    node = Node(identity.keypair, config, capabilities=lambda: Capabilities(...))
    await nursery.start(node.serve)          # listening + subscribed when this returns
    # or: async with open_node(identity.keypair, config) as node: ...

    node.peer_id / node.listen_addrs         # libp2p ID; ["/ip4/127.0.0.1/tcp/PORT/p2p/ID"]
    await node.connect(addr)                 # dial "/ip4/.../tcp/N/p2p/ID" (SwarmError on failure)
    await node.wait_for_peers(n)             # n peers joined our topics (mesh usable)
    env = await node.publish(body, shard=None)   # sign + gossip; ProtocolError/SwarmError if invalid
    async for env in node.inbox: ...         # verified protocol.wire.Envelope from other peers
    node.provide("batch", provider)          # provider(key: bytes, query: dict) -> bytes | None
    blob = await node.fetch(peer_id, "batch", key, timeout=30)   # SwarmError("rpc-...") on failure
    node.stats()                             # frozen NodeStats; .to_json() for reports
    node.capabilities()                      # peer id -> PeerCapability (latest advert, last seen)
    node.is_banned(peer_id)

From the operator's files: `node_config_from(config, home, **overrides)` builds a
NodeConfig from swarmclient.config.Config (swarm_id, network.listen/bootstrap/mdns) and
Home.peer_cache (when network.peer_cache is true).

Every message a node sees is counted in exactly one place of NodeStats: published,
received (per kind and per sender, with delivery latency), rejected (by wire reason and
by forwarding peer) or dropped (by where: queue-full, inbox-overflow, from-banned-peer,
from-graylisted-peer, equivocation, ...). docs/architecture.md "## Networking" explains
each py-libp2p pitfall and how it is handled.
"""

from swarmclient.net.discovery import PeerCache, parse_peer_addr
from swarmclient.net.node import Node, NodeConfig, node_config_from, now_ms, open_node
from swarmclient.net.rpc import MAX_BLOB_BYTES, Provider
from swarmclient.net.stats import LatencySummary, NodeStats, PeerCapability

__all__ = [
    "MAX_BLOB_BYTES",
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
