"""Which volumes an instance has, and the state of each attachment: the rules that both
DescribeVolumes (`volumes.py`) and DescribeInstances' BlockDeviceMappings
(`instances.py`) answer with, so that the two never disagree.

Every instance has a root volume that is not stored: its id is derived from the
instance's, and it lives exactly as long as the instance is not `terminated`. Volumes
made by CreateVolume are stored (`model.ec2.Volume`); an attachment shows `attaching`,
then `attached`, and after DetachVolume `detaching`, then it is gone, each step
`lifecycle.SETTLE_DELAY` after the call (nothing in the data plane realizes a volume, so
time alone moves them, with a data plane or without). An attachment to an instance that
is terminated is gone, and the volume is available again (AttachVolume's attachments do
not delete on termination).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ...model.ec2 import Instance, Volume, VolumeAttachment
from ...store import Transaction
from ..common.lifecycle import SETTLE_DELAY


def root_volume_id(inst: Instance) -> str:
    """The id of the root volume `inst` shows (DescribeInstances, DescribeVolumes,
    DescribeInstanceAttribute blockDeviceMapping)."""
    return "vol-" + hashlib.sha256(f"vpclab:vol:{inst.id}".encode()).hexdigest()[:17]


def has_root_volume(inst: Instance) -> bool:
    return inst.state != "terminated"


@dataclass(frozen=True)
class LiveAttachment:
    """A stored volume's attachment as the API shows it now."""

    volume: Volume
    attachment: VolumeAttachment
    state: str  # attaching | attached | detaching


def attachment_state(att: VolumeAttachment, now: float) -> str | None:
    """`attaching`, `attached` or `detaching`; None once a detach has finished."""
    if att.detach_time is not None:
        return "detaching" if now - att.detach_time < SETTLE_DELAY else None
    return "attaching" if now - att.attach_time < SETTLE_DELAY else "attached"


def _instance_live(tx: Transaction, instance_id: str) -> bool:
    inst = tx.get(Instance, instance_id)
    return inst is not None and inst.state != "terminated"


def live_attachments(tx: Transaction, vol: Volume, now: float) -> list[LiveAttachment]:
    out = []
    for att in vol.attachments:
        state = attachment_state(att, now)
        if state is not None and _instance_live(tx, att.instance_id):
            out.append(LiveAttachment(vol, att, state))
    return out


def instance_attachments(tx: Transaction, inst: Instance, now: float) -> list[LiveAttachment]:
    """The stored volumes attached to `inst`, by attach time."""
    if inst.state == "terminated":
        return []
    out = [live for vol in tx.list(Volume, inst.account, inst.region)
           for live in live_attachments(tx, vol, now) if live.attachment.instance_id == inst.id]
    return sorted(out, key=lambda live: live.attachment.attach_time)
