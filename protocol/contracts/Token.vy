# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title AI: the swarm's ERC-20 token
@notice Fixed supply: 10,000,000,000 AI (18 decimals) minted once, at deployment, to the
        treasury. Nobody can mint afterwards: the deployer's minter role and ownership are
        renounced inside the constructor. Holders may burn their own tokens (the game
        contract burns the unrewarded part of every slashed stake or bond).
@dev    Built on snekmate's audited ERC-20 module (EIP-2612 permit included) rather than
        a hand-written one.
"""

from snekmate.auth import ownable
from snekmate.tokens import erc20

initializes: ownable
initializes: erc20[ownable := ownable]

exports: (
    erc20.name,
    erc20.symbol,
    erc20.decimals,
    erc20.totalSupply,
    erc20.balanceOf,
    erc20.allowance,
    erc20.transfer,
    erc20.transferFrom,
    erc20.approve,
    erc20.burn,
    erc20.burn_from,
    erc20.permit,
    erc20.nonces,
    erc20.DOMAIN_SEPARATOR,
    erc20.eip712Domain,
)

# 10 billion tokens with 18 decimals.
TOTAL_SUPPLY: public(constant(uint256)) = 10_000_000_000 * 10**18


@deploy
def __init__(treasury: address):
    """
    @param treasury The account that receives the whole supply.
    """
    assert treasury != empty(address), "Token: zero treasury"
    ownable.__init__()
    erc20.__init__("AI", "AI", 18, "AI", "1")
    erc20._mint(treasury, TOTAL_SUPPLY)
    # WHY: a fixed supply is part of the protocol; drop every privileged role now.
    erc20.is_minter[msg.sender] = False
    ownable._transfer_ownership(empty(address))
