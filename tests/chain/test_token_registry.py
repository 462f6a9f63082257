"""Token and Registry on the embedded chain: happy paths, events and every revert path."""

from __future__ import annotations

import pytest
from chainkit import reverts

from protocol.chain import AI, ChainReason
from protocol.chain.artifacts import load_artifacts
from protocol.chain.commit import verify_binding
from protocol.chain.selftest import peer_key_pair, sign_binding

R = ChainReason


async def test_token_supply_and_no_minting(env):
    token = env.alice.token
    assert await token.total_supply() == 10_000_000_000 * 10**18
    names = {f["name"] for f in token.contract.abi if f.get("type") == "function"}
    assert "mint" not in names and "set_minter" not in names
    assert token.contract.functions.symbol().call() == "AI"
    assert token.contract.functions.decimals().call() == 18


async def test_token_reverts(env):
    async with reverts(R.TOKEN_TRANSFER_AMOUNT_EXCEEDS_BALANCE):
        await env.dave.token.transfer(env.alice.address, 1)
    async with reverts(R.TOKEN_INSUFFICIENT_ALLOWANCE):
        await env.dave.worker.transact("transferFrom", env.dave.token.contract.functions.transferFrom(
            env.alice.address, env.dave.address, 1))


async def test_token_zero_treasury_reverts(env):
    art = load_artifacts()["Token"]
    ctor = env.w3.eth.contract(abi=art.abi, bytecode=art.bytecode).constructor("0x" + "00" * 20)
    async with reverts(R.TOKEN_ZERO_TREASURY):
        await env.alice.worker.transact("deploy", ctor)


async def test_register_verifies_binding_and_emits(env):
    """Nobody can bind a peer key they do not hold, nor replay a binding for another account
    or chain (lib/ed25519.vy checks the signature in the contract); a good one binds."""
    dave = env.dave
    key, public = peer_key_pair()
    chain_id, registry = env.w3.eth.chain_id, dave.registry.address
    forgeries = [
        sign_binding(key, chain_id, registry, env.bob.address),  # for another account
        sign_binding(key, chain_id + 1, registry, dave.address),  # for another chain
        sign_binding(peer_key_pair()[0], chain_id, registry, dave.address),  # by another key
        b"\x07" * 64,
        b"\x01" * 63,
    ]
    for signature in forgeries:
        assert not verify_binding(public, signature, chain_id, registry, dave.address)
        async with reverts(R.REGISTRY_BAD_BINDING_SIGNATURE):
            await dave.registry.register(public, signature)
    good = sign_binding(key, chain_id, registry, dave.address)
    assert verify_binding(public, good, chain_id, registry, dave.address)
    result = await dave.registry.register(public, good)
    assert result.gas_used < 700_000
    event = result.event("PeerRegistered")
    assert event["account"] == dave.address and event["peer_key"] == public and event["signature"] == good
    assert await dave.registry.peer_key_of(dave.address) == public
    assert dave.registry.contract.functions.account_of(public).call() == dave.address


async def test_register_reverts(env):
    carol, bob = env.carol, env.bob  # carol registered at the snapshot
    public = await carol.registry.peer_key_of(carol.address)
    async with reverts(R.REGISTRY_ALREADY_REGISTERED):
        await carol.registry.register(b"\x05" * 32, b"\x01" * 64)
    async with reverts(R.REGISTRY_PEER_KEY_TAKEN):
        await bob.registry.register(public, b"\x01" * 64)
    async with reverts(R.REGISTRY_ZERO_PEER_KEY):
        await bob.registry.register(b"\0" * 32, b"\x01" * 64)


async def test_stake_unbond_withdraw(env):
    alice, p = env.carol, env.params
    await alice.token.approve(alice.registry.address, 2 * p.min_stake)
    await alice.registry.stake(2 * p.min_stake)
    assert await alice.registry.can_claim(alice.address)
    result = await alice.registry.request_unstake(p.min_stake)
    assert result.event("UnstakeRequested")["release_at"] == env.now() + p.unbonding_delay
    async with reverts(R.REGISTRY_STILL_UNBONDING):
        await alice.registry.withdraw()
    env.increase_time(p.unbonding_delay)
    before = await alice.token.balance_of(alice.address)
    await alice.registry.withdraw()
    assert await alice.token.balance_of(alice.address) == before + p.min_stake
    stake = await alice.registry.stake_of(alice.address)
    assert stake["staked"] == p.min_stake and stake["unbonding"] == 0
    async with reverts(R.REGISTRY_NOTHING_UNBONDING):
        await alice.registry.withdraw()


@pytest.mark.parametrize(
    "call, reason",
    [
        (lambda c: c.registry.stake(AI), R.REGISTRY_NOT_REGISTERED),
        (lambda c: c.registry.request_unstake(AI), R.REGISTRY_INSUFFICIENT_STAKE),
        (lambda c: c.registry.request_unstake(0), R.REGISTRY_ZERO_AMOUNT),
        (lambda c: c.registry.withdraw(), R.REGISTRY_NOTHING_UNBONDING),
    ],
)
async def test_stake_reverts_unregistered(env, call, reason):
    async with reverts(reason):
        await call(env.dave)


async def test_stake_zero_amount(env):
    async with reverts(R.REGISTRY_ZERO_AMOUNT):
        await env.carol.registry.stake(0)
    async with reverts(R.TOKEN_INSUFFICIENT_ALLOWANCE):
        await env.carol.registry.stake(AI)


@pytest.mark.parametrize("fn, args", [("lock", 1), ("unlock", 1), ("slash", 1)])
async def test_only_game_locks_and_slashes(env, fn, args):
    call = getattr(env.alice.registry.contract.functions, fn)(env.alice.address, args)
    async with reverts(R.REGISTRY_NOT_THE_GAME):
        await env.alice.worker.transact(fn, call)


async def test_set_game_once_by_deployer(env):
    f = env.alice.registry.contract.functions
    async with reverts(R.REGISTRY_NOT_DEPLOYER):
        await env.alice.worker.transact("set_game", f.set_game(env.alice.address))
    async with reverts(R.REGISTRY_GAME_ALREADY_SET):
        await env.treasury.worker.transact("set_game", f.set_game(env.alice.address))
    g = env.alice.ledger.contract.functions
    async with reverts(R.LEDGER_NOT_DEPLOYER):
        await env.alice.worker.transact("set_game", g.set_game(env.alice.address))
    async with reverts(R.LEDGER_GAME_ALREADY_SET):
        await env.treasury.worker.transact("set_game", g.set_game(env.alice.address))


async def test_set_game_zero_address(env):
    """A fresh registry/ledger pair rejects the zero address as the game."""
    w3 = env.w3
    arts = load_artifacts()
    token = env.deployment.addresses["Token"]
    reg = await env.alice.worker.transact("deploy", w3.eth.contract(abi=arts["Registry"].abi, bytecode=arts["Registry"].bytecode).constructor(token, 1, 1))
    led = await env.alice.worker.transact("deploy", w3.eth.contract(abi=arts["ClaimLedger"].abi, bytecode=arts["ClaimLedger"].bytecode).constructor(token, reg.contract_address, 1, 1, 1))
    zero = "0x" + "00" * 20
    for name, address, reason in (("Registry", reg.contract_address, R.REGISTRY_ZERO_ADDRESS),
                                  ("ClaimLedger", led.contract_address, R.LEDGER_ZERO_ADDRESS)):
        contract = w3.eth.contract(address=address, abi=arts[name].abi)
        async with reverts(reason):
            await env.alice.worker.transact("set_game", contract.functions.set_game(zero))
    bad = w3.eth.contract(abi=arts["ClaimLedger"].abi, bytecode=arts["ClaimLedger"].bytecode).constructor(token, reg.contract_address, 1, 1, 0)
    async with reverts(R.LEDGER_BAD_MAX_BATCH):
        await env.alice.worker.transact("deploy", bad)
