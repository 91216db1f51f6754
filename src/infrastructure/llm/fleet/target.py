"""A target: one echelon of one task group (or its instances of one provider), as candidates."""

from __future__ import annotations

from collections.abc import Sequence

from infrastructure.llm.clock import Clock
from infrastructure.llm.config.schema import EchelonConfig
from infrastructure.llm.config.strategies import RotationStrategy
from infrastructure.llm.fleet.candidates import CandidateSet
from infrastructure.llm.fleet.member import Echelon, Member
from infrastructure.llm.fleet.rotation import make_rotation


class Target(CandidateSet):
    """Where a call can be sent: `group.echelonN`, or `group.echelonN@provider` for the part of
    an echelon one provider serves. Calls start at successive instances (round robin)."""

    def __init__(
        self,
        echelon: Echelon,
        members: Sequence[Member],
        clock: Clock,
        provider: str | None = None,
    ) -> None:
        name = f"{echelon.name}@{provider}" if provider else echelon.name
        rotation = make_rotation(RotationStrategy.ROUND_ROBIN, [1.0] * len(members))
        super().__init__(
            name,
            members,
            rotation,
            clock,
            counts_calls=False,
            spill_over=echelon.config.spill_over,
        )
        self.echelon = echelon
        self.provider = provider

    @property
    def group(self) -> str:
        return self.echelon.group

    @property
    def config(self) -> EchelonConfig:
        return self.echelon.config

    def target_name(self, member: Member) -> str:
        return self.name

    def split_by_provider(self) -> list[Target]:
        """One target per provider, in order of first appearance, sharing limits and breakers."""
        providers = dict.fromkeys(m.instance.provider for m in self.members)
        return [
            Target(
                self.echelon,
                [
                    member.moved_to(index)
                    for index, member in enumerate(
                        m for m in self.members if m.instance.provider == provider
                    )
                ],
                self._clock,
                provider,
            )
            for provider in providers
        ]
