"""What the chain says happened in a devnet: claims, games, winners, slashing and gas.

`read_chain_events` reads every contract log over JSON-RPC once the peers have stopped;
`chain_report` joins it with the peers' final snapshots (their `claims`, `games`, `chain`
sections from swarmclient.verify) into the report's `chain` section:

- `claims`: posted / finalized / challenged / rejected (from the ledger's events);
- `games[]`: game id, claimant and challenger (peer index), status, winner, by_timeout,
  `detection_s` (claim posted -> game opened) and `resolution_s` (opened -> resolved),
  both in chain time (block timestamps), moves played;
- `slashed[]`: peer index and amount; `peers[]`: per peer its claim counts, stake, balance,
  gas by call and gas per round; `verdict`: every cheater slashed, no honest peer slashed.
"""

from __future__ import annotations

from typing import Any

from swarmclient.devnet.process import PeerProcess

EVENTS = ("ClaimPosted", "ClaimFinalized", "ClaimChallenged", "ClaimRejected", "ClaimDefended", "GameOpened",
          "Revealed", "Chosen", "Descended", "StepProven", "GameResolved", "Slashed", "Staked", "PeerRegistered")


def read_chain_events(chain: Any) -> list[dict[str, Any]]:
    """Every decoded event of the devnet's contracts, each with its block's timestamp
    (blocking; read over the devnet's own JSON-RPC URL, like any peer)."""
    from eth_account import Account

    from protocol.chain.backends import rpc_web3
    from protocol.chain.client import ChainClient
    from protocol.chain.events import fetch_events

    w3 = rpc_web3(chain.url)
    client = ChainClient(w3, chain.deployment, Account.create())
    head = w3.eth.block_number
    found = fetch_events(w3, client.decoder, list(chain.deployment.addresses.values()), chain.deployment.block, head)
    times: dict[int, int] = {}
    out = []
    for e in found:
        if e.name not in EVENTS:
            continue
        if e.block not in times:
            times[e.block] = w3.eth.get_block(e.block)["timestamp"]
        out.append({"name": e.name, "args": dict(e.args), "block": e.block, "time": times[e.block]})
    return out


def chain_settled(snapshot: dict[str, Any] | None) -> bool:
    """A peer with nothing left to do on the chain (or not taking part at all)."""
    if snapshot is None:
        return False
    verify = snapshot.get("verify")
    if verify is None:
        return "chain" not in snapshot or bool((snapshot.get("chain") or {}).get("status"))
    return bool(verify.get("settled"))


def _hex(value: Any) -> str:
    return bytes(value).hex() if isinstance(value, (bytes, bytearray)) else str(value)


def chain_report(chain: Any, procs: list[PeerProcess], report: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    from swarmclient import identity as identity_mod

    index_of = {}
    for p in procs:
        try:
            index_of[identity_mod.load(p.spec.home).address] = p.spec.index
        except Exception:  # noqa: BLE001 - a missing identity only loses the name in the report
            continue

    def who(address: Any) -> int | None:
        return index_of.get(str(address))

    by_name: dict[str, list[dict]] = {}
    for e in events:
        by_name.setdefault(e["name"], []).append(e)
    posted = {_hex(e["args"]["key"]): e for e in by_name.get("ClaimPosted", [])}
    resolved = {int(e["args"]["game_id"]): e for e in by_name.get("GameResolved", [])}
    moves: dict[int, int] = {}
    for name in ("Revealed", "Chosen", "Descended", "StepProven"):
        for e in by_name.get(name, []):
            moves[int(e["args"]["game_id"])] = moves.get(int(e["args"]["game_id"]), 0) + 1
    games = []
    for e in by_name.get("GameOpened", []):
        a = e["args"]
        gid = int(a["game_id"])
        claim = posted.get(_hex(a["record"]))
        end = resolved.get(gid)
        status = {2: "claimant_won", 3: "challenger_won"}.get(int(end["args"]["status"]), "?") if end else "open"
        games.append({
            "game_id": gid, "claimant": who(a["claimant"]), "challenger": who(a["challenger"]),
            "claim_round": int(claim["args"]["round"]) if claim else None, "status": status,
            "winner": None if end is None else ("claimant" if status == "claimant_won" else "challenger"),
            "winner_peer": None if end is None else who(end["args"]["winner"]),
            "by_timeout": None if end is None else bool(end["args"]["by_timeout"]),
            "moves": moves.get(gid, 0),
            "detection_s": None if claim is None else e["time"] - claim["time"],
            "resolution_s": None if end is None else end["time"] - e["time"],
        })
    slashed = [{"peer": who(e["args"]["account"]), "amount": str(e["args"]["amount"])} for e in by_name.get("Slashed", [])]
    cheaters = set(chain.cheaters)
    slashed_peers = {s["peer"] for s in slashed}
    peers = []
    for entry, proc in zip(report["peers"], procs):
        stats = _final(proc)
        claims = (stats or {}).get("claims") or {}
        chain_state = (stats or {}).get("chain") or {}
        gas = chain_state.get("gas") or {}
        per_claim = [sum((h.get("gas") or {}).values()) for h in claims.get("history", []) if h.get("gas")]
        peers.append({
            "index": proc.spec.index, "cheater": proc.spec.index in cheaters,
            "claims": {k: claims.get(k) for k in ("posted", "pending", "finalized", "challenged", "slashed", "failed")},
            "rewards": claims.get("rewards"), "stake": chain_state.get("stake"), "balance": chain_state.get("balance"),
            "gas_total": gas.get("total"), "gas_by_call": gas.get("by_call"),
            "gas_per_claim": round(sum(per_claim) / len(per_claim)) if per_claim else None,
            "verify": (stats or {}).get("verify"),
        })
    open_games = [g for g in games if g["status"] == "open"]
    return {
        **chain.to_json(),
        "claims": {"posted": len(posted), "finalized": len(by_name.get("ClaimFinalized", [])),
                   "challenged": len(by_name.get("ClaimChallenged", [])), "rejected": len(by_name.get("ClaimRejected", []))},
        "games": games,
        "slashed": slashed,
        "peers": peers,
        "verdict": {
            "cheaters": sorted(cheaters),
            "cheaters_slashed": sorted(cheaters & slashed_peers),
            "honest_slashed": sorted(p for p in slashed_peers - cheaters if p is not None),
            "games_resolved": len(games) - len(open_games),
            "games_open": len(open_games),
            "all_cheaters_slashed": cheaters <= slashed_peers,
        },
    }


def _final(proc: PeerProcess) -> dict[str, Any] | None:
    from swarmclient.devnet.report import load_final_stats

    return load_final_stats(proc)


def chain_summary_lines(report: dict[str, Any]) -> list[str]:
    c = report.get("chain")
    if not c:
        return []
    cl, v = c["claims"], c["verdict"]
    lines = [f"claims: posted {cl['posted']}, finalized {cl['finalized']}, challenged {cl['challenged']}, "
             f"rejected {cl['rejected']}"]
    for g in c["games"]:
        how = "" if g["by_timeout"] is None else (" by timeout" if g["by_timeout"] else " by proof")
        lines.append(f"  game {g['game_id']}: peer-{g['challenger']} vs peer-{g['claimant']} (round {g['claim_round']}): "
                     f"{g['status']}{how}, {g['moves']} moves, detected {g['detection_s']} s, resolved {g['resolution_s']} s")
    lines.append(f"cheaters {v['cheaters']}: slashed {v['cheaters_slashed']}; honest slashed {v['honest_slashed']}; "
                 f"games resolved {v['games_resolved']}, open {v['games_open']}")
    return lines


__all__ = ["chain_report", "chain_settled", "chain_summary_lines", "read_chain_events"]
