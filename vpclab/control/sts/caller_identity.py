"""STS GetCallerIdentity: who the access key says the caller is."""
from __future__ import annotations

from ...protocol.dispatch import RequestContext, operation


@operation("sts", "GetCallerIdentity")
def get_caller_identity(ctx: RequestContext, req: dict) -> dict:
    return {
        "UserId": ctx.account if ctx.account else "AKIDEXAMPLE",
        "Account": ctx.account,
        "Arn": f"arn:aws:iam::{ctx.account}:root",
    }
