"""Token and Registry on the embedded chain: happy paths, events and every revert path."""

from __future__ import annotations

import pytest
from chainkit import register, register_and_stake, reverts

from protocol.chain import AI, ChainReason
from protocol.chain.artifacts import load_artifacts
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


async def test_register_binds_and_emits(env):
    key, public = peer_key_pair()
    sig = sign_binding(key, env.w3.eth.chain_id, env.carol.registry.address, env.carol.address)
    result = await env.carol.registry.register(public, sig)
    event = result.event("PeerRegistered")
    assert event["account"] == env.carol.address and event["peer_key"] == public and event["signature"] == sig
    assert await env.carol.registry.peer_key_of(env.carol.address) == public
    assert env.carol.registry.contract.functions.account_of(public).call() == env.carol.address


async def test_register_reverts(env):
    chain_id = env.w3.eth.chain_id
    public = await register(env.carol, chain_id)
    async with reverts(R.REGISTRY_ALREADY_REGISTERED):
        await register(env.carol, chain_id)
    async with reverts(R.REGISTRY_PEER_KEY_TAKEN):
        await env.bob.registry.register(public, b"\x01" * 64)
    async with reverts(R.REGISTRY_ZERO_PEER_KEY):
        await env.bob.registry.register(b"\0" * 32, b"\x01" * 64)
    async with reverts(R.REGISTRY_BAD_BINDING_SIGNATURE):
        await env.bob.registry.register(b"\x05" * 32, b"\x01" * 63)


async def test_stake_unbond_withdraw(env):
    alice, p = env.carol, env.params
    await register_and_stake(alice, env.w3.eth.chain_id, 2 * p.min_stake)
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
        await call(env.carol)


async def test_stake_zero_amount(env):
    await register(env.carol, env.w3.eth.chain_id)
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
