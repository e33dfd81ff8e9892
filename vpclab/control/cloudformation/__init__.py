"""CloudFormation: stacks whose resources are made through vpclab's own API handlers.

The area has four parts, each its own package or module:

- `template/`: the template language (decoding JSON and YAML, parameters, conditions,
  intrinsic functions, the dependency graph). Pure: no store, no API.
- `resources/`: one provider per resource type, driven by the resource provider schemas
  cfn-lint ships; a provider touches vpclab only through the in-process API.
- the engine (`engine.py`): creates, updates and deletes a stack's resources in
  dependency order, with events, rollback and exports.
- the API handlers (`stacks.py`, `change_sets.py`, `exports.py`) over the stack model
  in `vpclab/model/cloudformation.py`.
"""
