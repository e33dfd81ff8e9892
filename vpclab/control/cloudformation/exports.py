"""ListExports and ListImports: the exports are the live stacks' outputs that have an
export name, the imports the export names live stacks' templates resolved
(`model.cloudformation.exporting`, `importers`), in the caller's account and region."""
from __future__ import annotations

from ...model.cloudformation import Stack, exporting, importers
from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import ValidationError


@operation("cloudformation", "ListExports")
def list_exports(ctx: RequestContext, req: dict) -> dict:
    with ctx.read() as tx:
        stacks = tx.list(Stack, ctx.account, ctx.region)
        found = exporting(stacks)
        return {"Exports": [{"ExportingStackId": stack.id, "Name": name, "Value": output.value}
                            for name, (stack, output) in sorted(found.items())]}


@operation("cloudformation", "ListImports")
def list_imports(ctx: RequestContext, req: dict) -> dict:
    name = req.get("ExportName", "")
    with ctx.read() as tx:
        users = importers(tx.list(Stack, ctx.account, ctx.region), name)
    if not users:
        raise ValidationError(f"Export '{name}' is not imported by any stack.")
    return {"Imports": sorted(s.name for s in users)}
